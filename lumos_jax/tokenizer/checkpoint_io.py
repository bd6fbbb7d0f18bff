# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The visual tokenizer's checkpoints and its jitted encode / decode.

Checkpoints are those of `lumos_jax.tokenizer.train`: checkpoint.Checkpointer steps
`WORKDIR/checkpoints/STEP/state` = {params, opt_state} (older trainers: the items
`STEP/{params,opt_state}`), where params is a flat dict
{'encoder.conv_in.0.conv3d.kernel': array}. Only the params are read. The trainer records
the architecture in `WORKDIR/tokenizer_config.json`; a loader given no architecture
reads it, and one given a preset (`tiny`, `small`, `dv4x8x8`) or a config .json that
disagrees with the record is refused before any weights are touched.

A fitted patch codebook (`lumos_jax.tokenizer.codebook`, the built-in world's tokenizer)
is the other kind: a directory with codebook.safetensors whose tokenizer_config.json says
`"kind": "codebook"`; `load_visual_tokenizer` tells the two apart by that file, and both
give a model with `encode`, `decode` and `cfg`, and the same info dict.

The one reader of these checkpoints: data.prepare, the built-in data, the sampler's
loaders, the evaluator and the tokenizer trainer's init_from all come here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from flax import nnx

from lumos_jax import parallel, pixels
from lumos_jax.checkpoint import latest_complete_step, restore_params
from lumos_jax.tokenizer import codebook as codebook_lib
from lumos_jax.tokenizer import config as tokenizer_config
from lumos_jax.tokenizer import model as model_lib

CONFIG_FILE = "tokenizer_config.json"


def write_tokenizer_config(workdir: str, cfg: tokenizer_config.TokenizerConfig) -> str:
    """Records the architecture of the checkpoints in `workdir` (atomic rename)."""
    path = os.path.join(workdir, CONFIG_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cfg.to_dict(), f, indent=1, sort_keys=True)
    os.replace(tmp, path)
    return path


def recorded_config(workdir: str) -> tuple[tokenizer_config.TokenizerConfig | None, str]:
    """(TokenizerConfig, path) the trainer recorded in its workdir, or (None, where it
    was looked for)."""
    path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.isfile(path):
        return None, path
    try:
        with open(path) as f:
            return tokenizer_config.TokenizerConfig.from_dict(json.load(f)), path
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: not a tokenizer config ({e})") from e


def resolve_config(ckpt: str, spec=None) -> tuple[tokenizer_config.TokenizerConfig, str]:
    """The architecture of checkpoint `ckpt` -> (TokenizerConfig, name for manifests).

    spec None or '': the trainer's record next to the checkpoints (an error if there is
    none). A preset name, .json path or TokenizerConfig: used, after checking it equals
    the record when there is one.
    """
    step_dir, _ = resolve_step_dir(ckpt)
    recorded, where = recorded_config(os.path.dirname(os.path.dirname(step_dir)))
    if not spec:
        if recorded is None:
            raise ValueError(
                f"--tokenizer_ckpt={ckpt}: no {where} records the architecture; "
                f"name it with --tokenizer_config (a preset: "
                f"{sorted(tokenizer_config.PRESETS)}, or a .json of "
                f"TokenizerConfig fields)"
            )
        matches = [n for n, f in sorted(tokenizer_config.PRESETS.items()) if f() == recorded]
        return recorded, matches[0] if matches else "recorded"
    cfg = tokenizer_config_from(spec)
    if recorded is not None and recorded != cfg:
        diff = {
            k: (v, getattr(recorded, k))
            for k, v in cfg.to_dict().items()
            if getattr(recorded, k) != v
        }
        raise ValueError(
            f"--tokenizer_ckpt={ckpt} was trained as {where} says, not as "
            f"tokenizer config {spec if isinstance(spec, str) else 'given'}: "
            f"(given, recorded) differ in {diff}; drop the config to use "
            f"the record"
        )
    return cfg, spec if isinstance(spec, str) else "custom"


def tokenizer_config_from(spec) -> tokenizer_config.TokenizerConfig:
    """A preset name, a .json file of TokenizerConfig fields, or a TokenizerConfig."""
    if isinstance(spec, tokenizer_config.TokenizerConfig):
        return spec
    if spec.endswith(".json"):
        with open(os.path.expanduser(spec)) as f:
            return tokenizer_config.TokenizerConfig.from_dict(json.load(f))
    return tokenizer_config.get(spec)


# A step of the tokenizer trainer: `params` (a flat dict; older trainers) or a
# checkpoint.Checkpointer step whose `state` holds {"params": flat dict, "opt_state"}.
STEP_ITEMS = ("params", "state")


def resolve_step_dir(ckpt: str) -> tuple[str, int | None]:
    """A workdir, its checkpoints/ dir, or one step dir -> (step dir, step)."""
    path = os.path.abspath(os.path.expanduser(ckpt))
    if any(os.path.isdir(os.path.join(path, item)) for item in STEP_ITEMS):
        base = os.path.basename(path)
        return path, int(base) if base.isdigit() else None
    if os.path.isdir(os.path.join(path, "checkpoints")):
        path = os.path.join(path, "checkpoints")
    steps = [latest_complete_step(path, item) for item in STEP_ITEMS]
    steps = [s for s in steps if s is not None]
    if not steps:
        raise FileNotFoundError(
            f"--tokenizer_ckpt={ckpt}: no tokenizer checkpoint there "
            f"(expected WORKDIR/checkpoints/STEP/state or STEP/params "
            f"from lumos_jax.tokenizer.train)"
        )
    return os.path.join(path, str(max(steps))), max(steps)


def _flat_names(state: nnx.State) -> list[tuple[tuple, str]]:
    # Same naming as lumos_jax.tokenizer.train_loop.flatten_params ('.'-joined paths).
    return [(p, ".".join(map(str, p))) for p, _ in nnx.to_flat_state(state)]


def params_fingerprint(flat: dict) -> str:
    """sha256 over the sorted parameter names and bytes: identifies the weights."""
    h = hashlib.sha256()
    for name in sorted(flat):
        h.update(name.encode())
        h.update(np.ascontiguousarray(flat[name]).tobytes())
    return h.hexdigest()


def load_visual_tokenizer(ckpt: str, config=None):
    """-> (CausalVideoTokenizer with the checkpoint's params, info dict for manifests).

    `config`: None / '' (the trainer's record), preset name, .json path or
    TokenizerConfig (checked against the record). A codebook directory takes none.
    """
    path = os.path.abspath(os.path.expanduser(ckpt))
    if codebook_lib.is_codebook_dir(path):
        if config and config != codebook_lib.KIND:
            raise ValueError(
                f"--tokenizer_ckpt={ckpt} is a fitted codebook, not a {config!r} tokenizer"
            )
        model, entries = codebook_lib.load(path)
        fingerprint = params_fingerprint({"entries": entries})
        info = dict(
            id=f"{codebook_lib.KIND}:{fingerprint[:16]}",
            config=codebook_lib.KIND,
            checkpoint=path,
            step=None,
            params_sha256=fingerprint,
            codebook_size=model.cfg.codebook_size,
            temporal_compression=model.cfg.temporal_compression,
            spatial_compression=model.cfg.spatial_compression,
        )
        return model, info
    cfg, config = resolve_config(ckpt, config)
    step_dir, step = resolve_step_dir(ckpt)
    graphdef, abstract = model_lib.abstract_model(cfg)
    names = _flat_names(abstract)
    flat_abstract = dict(nnx.to_flat_state(abstract))
    # numpy targets: Orbax restores onto the host, no device placement needed.
    target = {n: np.zeros(flat_abstract[p].shape, flat_abstract[p].dtype) for p, n in names}
    try:
        if os.path.isdir(os.path.join(step_dir, "state")):
            flat = restore_params(step_dir, target)
        else:
            flat = ocp.StandardCheckpointer().restore(os.path.join(step_dir, "params"), target)
    except Exception as e:  # wrong architecture: missing keys or shape mismatch
        raise ValueError(
            f"{step_dir}: cannot restore as a '{config}' visual tokenizer ({type(e).__name__}: {e})"
        ) from e
    state = nnx.from_flat_state(
        [(p, flat_abstract[p].replace(value=jnp.asarray(flat[n]))) for p, n in names]
    )
    fingerprint = params_fingerprint(flat)
    info = dict(
        id=f"{config}:{fingerprint[:16]}",
        config=config,
        checkpoint=step_dir,
        step=step,
        params_sha256=fingerprint,
        codebook_size=cfg.codebook_size,
        temporal_compression=cfg.temporal_compression,
        spatial_compression=cfg.spatial_compression,
    )
    return nnx.merge(graphdef, state), info


@functools.lru_cache(maxsize=8)
def _jitted_encode(graphdef: nnx.GraphDef, fast_compile: bool):
    """One jitted encode per architecture: later runs in a process reuse its compiles."""

    def encode(state, frames):
        return nnx.merge(graphdef, state).encode(pixels.to_model_range(frames))

    return jax.jit(encode, compiler_options=parallel.compiler_options(fast_compile))


class VisualEncoder:
    """uint8 frames [n, F, H, W, 3] -> codes int32 [n, T', H/8, W/8] in batches of exactly
    `batch_size` (the last one padded by repetition), so each (F, H, W) compiles once."""

    def __init__(self, model, batch_size: int, *, fast_compile: bool = False):
        graphdef, self._state = nnx.split(model)
        self.batch_size = batch_size
        self._encode = _jitted_encode(graphdef, fast_compile)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames, np.uint8)
        n, b = len(frames), self.batch_size
        out = []
        for start in range(0, n, b):
            batch = frames[start : start + b]
            if len(batch) < b:
                pad = np.repeat(batch[-1:], b - len(batch), axis=0)
                batch = np.concatenate([batch, pad])
            out.append(np.asarray(self._encode(self._state, batch)))
        return np.concatenate(out)[:n].astype(np.int32)


@functools.lru_cache(maxsize=8)
def _tokenizer_fn(graphdef, method: str, fast_compile: bool):
    """One jitted encode/decode per tokenizer architecture (reused across calls)."""

    def fn(state, x):
        return getattr(nnx.merge(graphdef, state), method)(x)

    return jax.jit(fn, compiler_options=parallel.compiler_options(fast_compile))


def run_tokenizer(tokenizer, method: str, x, fast_compile: bool = False) -> np.ndarray:
    """tokenizer.encode(video [B, F, H, W, 3]) or .decode(codes [B, T', h, w]), jitted."""
    graphdef, state = nnx.split(tokenizer)
    return np.asarray(_tokenizer_fn(graphdef, method, fast_compile)(state, jnp.asarray(x)))
