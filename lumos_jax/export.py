# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Export the parameters of a training checkpoint step as a params-only Orbax PyTree.

  python -m lumos_jax.export --checkpoint=WORKDIR/checkpoints/STEP --out=DIR

The result is what `config.init_from` and the sampler's `--checkpoint` accept (see
`lumos_jax.checkpoint.restore_params`), at a third of the size of the step directory:
no optimizer moments, no data-iterator state. The demo ships one in
assets/t2v_tiny_params. Orbax writes into a temporary directory and renames it when
complete, so an interrupted export never leaves a directory that looks finished.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp

from lumos_jax import cli
from lumos_jax.checkpoint import item_metadata, restore_params
from lumos_jax.data import provenance

INFO_FILE = provenance.EXPORT_FILE


def records_tokenizers(config: dict) -> dict:
    """The visual and text tokenizers the run's training records were made with (from the
    lumos_jax.prepare manifest beside the first array_record source), so that whoever
    continues these params can check they feed the same tokens; {} when not found."""
    streams = config.get("data", {}).get("streams", {})
    for stream in streams.values():
        spec = (stream or {}).get("sources", "")
        for one in spec.split(","):
            kind, _, pattern = one.partition(":")
            if kind != "array_record":
                continue
            manifest = os.path.join(os.path.dirname(pattern), "manifest-train.json")
            if os.path.isfile(manifest):
                with open(manifest) as f:
                    m = json.load(f)
                return {k: m[k] for k in ("visual_tokenizer", "text_tokenizer") if k in m}
    return {}


def export_params(step_dir: str, out: str, note: str = "") -> dict:
    """Writes the params of train checkpoint `step_dir` to `out`; returns the info dict
    (source, step, parameter count) also written next to them as export_info.json."""
    step_dir = os.path.abspath(os.path.expanduser(step_dir))
    state_dir = os.path.join(step_dir, "state")
    if not os.path.isdir(state_dir):
        raise FileNotFoundError(
            f"--checkpoint={step_dir}: no state/ item; expected a step "
            f"directory WORKDIR/checkpoints/STEP of lumos_jax.train"
        )
    out = os.path.abspath(os.path.expanduser(out))
    if os.path.exists(out):
        raise FileExistsError(f"--out={out} exists; remove it first")
    # Host numpy targets: the exported tree does not depend on the mesh it was trained on.
    tree = item_metadata(state_dir)["params"]
    target = jax.tree.map(lambda m: np.zeros(m.shape, m.dtype), dict(tree))
    params = restore_params(step_dir, target)
    ckptr = ocp.StandardCheckpointer()
    ckptr.save(out, params)
    ckptr.wait_until_finished()
    base = os.path.basename(step_dir)
    info = {
        "source": step_dir,
        "step": int(base) if base.isdigit() else None,
        "num_params": int(sum(np.size(x) for x in jax.tree.leaves(params))),
        "note": note,
    }
    workdir_config = os.path.join(os.path.dirname(os.path.dirname(step_dir)), "config.json")
    if os.path.isfile(workdir_config):
        with open(workdir_config) as f:
            config = json.load(f)
        info["model"] = config.get("model")
        info.update(records_tokenizers(config))
    # The run's own record (all of its streams' manifests, checked when it trained) wins.
    recorded = provenance.params_tokenizers(step_dir)
    info.update({k: recorded[k] for k in ("visual_tokenizer", "text_tokenizer") if k in recorded})
    with open(os.path.join(out, INFO_FILE), "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
    return info


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="WORKDIR/checkpoints/STEP")
    p.add_argument("--out", required=True, help="new directory for the params")
    p.add_argument("--note", default="", help="free text kept in export_info.json")
    p.add_argument(
        "-v", "--verbosity", type=int, default=0, help="1: show the traceback of an error"
    )
    a = p.parse_args(argv)
    with cli.errors_as_one_line("lumos_jax.export", verbose=a.verbosity >= 1):
        info = export_params(a.checkpoint, a.out, a.note)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
