# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Random faults on a 2-process tiny run, each followed by a restart (issue 25).

  python benchmarks/fault_soak.py --faults=20

Each fault is a SIGKILL of a random process or a SIGTERM of one process, fired while the
job compiles, while it saves a checkpoint or a few steps into training. After each, every
process must exit by itself within a bound (a SIGTERM: all exit 0; a SIGKILL: the others
exit with distributed.EXIT_PEER_LOST), else it is counted as a hang and killed. The job is
then restarted; after the last fault it runs to the end. The losses of every step
(metrics.jsonl) and the final params must equal an uninterrupted 2-process run's bit for
bit. Last line: JSON with faults injected, survived, hangs, rows lost / duplicated,
loss mismatches and whether the final params are bitwise equal.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from launch import common, local  # noqa: E402
from lumos_jax import distributed, layout  # noqa: E402
from lumos_jax.data import records  # noqa: E402

VOCAB = layout.compact_vocab()


def _records(directory: str, n: int = 48) -> str:
    """2-frame 32x32 clips whose codes follow from the caption's first id."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        key = int(rng.integers(0, 16))
        text = np.concatenate(
            [[VOCAB.first_text_id + key], rng.integers(VOCAB.first_text_id, VOCAB.text_size, 7)]
        )
        codes = (key * 37 + np.arange(32).reshape(2, 4, 4)) % VOCAB.visual_size
        out.append(
            records.make_record(
                f"t{i}", f"clip {key}", text, codes, fps=8, duration=1, height=32, width=32
            )
        )
    os.makedirs(directory, exist_ok=True)
    records.write_array_record(os.path.join(directory, "video-train-00000.array_record"), out)
    return f"array_record:{directory}/video-train-*.array_record"


def _overrides(sources: str, steps: int, heartbeat_s: int) -> dict:
    return {
        "model.num_layers": 2,
        "model.embed_dim": 64,
        "model.num_heads": 2,
        "model.num_kv_heads": 2,
        "model.head_dim": 32,
        "model.mlp_dim": 128,
        "vocab.visual_size": VOCAB.visual_size,
        "model.vocab_size": VOCAB.text_size + VOCAB.visual_size,
        **_visual_size_key(),
        "data.streams.video.sources": sources,
        "data.streams.video.seq_len": 128,
        "data.batch_size": 8,
        "eval_sources": "",
        "train.steps": steps,
        "train.log_every": 1,
        "train.checkpoint_every": 2,
        "train.eval_every": 10**6,
        "optim.schedule": "constant",
        "optim.warmup_steps": 2,
        "distributed.timeout_s": 120,
        "distributed.heartbeat_timeout_s": heartbeat_s,
    }


def _visual_size_key() -> dict:
    """model.visual_size where the config has that key (the records' codebook size)."""
    from lumos_jax import config_lib

    has = "visual_size" in config_lib.experiment("t2v", "tiny").model
    return {"model.visual_size": VOCAB.visual_size} if has else {}


def _launch(workdir: str, overrides: dict, cache: str) -> list:
    procs = local.processes(
        common.absolute_config("configs/t2v.py:tiny"),
        workdir,
        {k: str(v) for k, v in overrides.items()},
        num_processes=2,
        devices_per_process=2,
        port=common.free_port(),
        python=sys.executable,
    )
    env = {
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "JAX_COMPILATION_CACHE_DIR": cache,
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }
    return local.start(procs, log_dir=os.path.join(workdir, "logs"), extra_env=env)


def _log(workdir: str, i: int) -> str:
    path = os.path.join(workdir, "logs", f"process-{i}.log")
    return open(path, errors="replace").read() if os.path.exists(path) else ""


def _rows(workdir: str) -> list[dict]:
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    out = []
    for line in open(path, "rb").read().split(b"\n"):
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return [r for r in out if "loss" in r]


def _trigger(moment: str, workdir: str, victim: int, marks: list, start_step: int, rng):
    """A predicate: True once the moment to fire has come."""
    if moment == "step":
        target = start_step + rng.randint(1, 3)
        return lambda: max((r["step"] for r in _rows(workdir)), default=0) >= target
    pattern, proc = (
        ("compiling the train step", victim)
        if moment == "compile"
        else (r"checkpoint: saving step", 0)
    )
    return lambda: re.search(pattern, _log(workdir, proc)[marks[proc] :]) is not None


def _wait_all(popens, timeout_s: float) -> tuple[list, bool]:
    deadline = time.monotonic() + timeout_s
    while any(p.poll() is None for p in popens) and time.monotonic() < deadline:
        time.sleep(0.2)
    hung = any(p.poll() is None for p in popens)
    local.kill(popens)  # the helper process too (the chief's session)
    return [p.returncode for p in popens], hung


def _one_fault(work, overrides, cache, rng, heartbeat_s, report) -> None:
    """Launch, fire one fault at a random moment, wait for every process to exit."""
    kind, victim = rng.choice(["kill", "term"]), rng.randint(0, 1)
    moment = rng.choice(["compile", "save", "step"])
    start_step = max((r["step"] for r in _rows(work)), default=0)
    marks = [len(_log(work, i)) for i in (0, 1)]
    popens = _launch(work, overrides, cache)
    fire = _trigger(moment, work, victim, marks, start_step, rng)
    deadline = time.monotonic() + 600
    while not fire():
        if any(p.poll() is not None for p in popens) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if moment == "compile":
        time.sleep(rng.uniform(0, 1.5))
    if all(p.poll() is None for p in popens):
        os.kill(popens[victim].pid, signal.SIGKILL if kind == "kill" else signal.SIGTERM)
        report["faults_injected"] += 1
        fired = True
    else:
        fired = False
    codes, hung = _wait_all(popens, heartbeat_s + 90)
    ok_codes = {0} if kind == "term" else {0, distributed.EXIT_PEER_LOST}
    others = [c for i, c in enumerate(codes) if kind == "term" or i != victim]
    survived = fired and not hung and all(c in ok_codes for c in others)
    report["hangs"] += int(hung)
    report["survived"] += int(survived)
    print(
        f"fault {report['faults_injected']}: {kind} process {victim} at {moment} "
        f"(from step {start_step}): exit codes {codes}{' HANG' if hung else ''}"
        f"{'' if fired else ' (job ended before the fault: not counted)'}",
        flush=True,
    )


def _params(step_dir: str) -> dict:
    """The params of a step, as numpy arrays (flattened key -> array)."""
    import orbax.checkpoint as ocp  # after JAX_PLATFORMS is set (main)
    from jax import tree_util

    from lumos_jax import checkpoint

    meta = checkpoint.item_metadata(os.path.join(step_dir, "state"))
    meta = meta.tree if hasattr(meta, "tree") else meta
    args = tree_util.tree_map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), meta)
    state = ocp.PyTreeCheckpointer().restore(
        os.path.join(step_dir, "state"), args=ocp.args.PyTreeRestore(restore_args=args)
    )
    flat = tree_util.tree_flatten_with_path(state["params"])[0]
    return {tree_util.keystr(k): np.asarray(v) for k, v in flat}


def _compare(work: str, ref: str, steps: int) -> dict:
    rows, ref_rows = _rows(work), {r["step"]: r["loss"] for r in _rows(ref)}
    seen = [r["step"] for r in rows]
    losses = {r["step"]: r["loss"] for r in rows}
    mine, theirs = (_params(os.path.join(d, "checkpoints", str(steps))) for d in (work, ref))
    return dict(
        rows_lost=len(set(range(1, steps + 1)) - set(seen)),
        rows_duplicated=len(seen) - len(set(seen)),
        loss_mismatches=sum(losses.get(s) != ref_rows.get(s) for s in range(1, steps + 1)),
        params_bitwise_equal=mine.keys() == theirs.keys()
        and all(
            np.array_equal(mine[k], theirs[k]) and mine[k].dtype == theirs[k].dtype for k in mine
        ),
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--faults", type=int, default=3)
    ap.add_argument("--steps", type=int, default=0, help="0: 4 per fault + 10")
    ap.add_argument("--heartbeat_s", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default="", help="default: a new temporary directory")
    a = ap.parse_args()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    root = a.workdir or tempfile.mkdtemp(prefix="fault_soak_")
    steps = a.steps or 4 * a.faults + 10
    sources = _records(os.path.join(root, "records"))
    overrides, cache = _overrides(sources, steps, a.heartbeat_s), os.path.join(root, "cache")
    started = time.monotonic()
    ref = os.path.join(root, "reference")
    codes, hung = _wait_all(_launch(ref, overrides, cache), 1800)
    assert codes == [0, 0] and not hung, f"the uninterrupted run failed: {codes} (logs {ref})"
    print(f"reference: {steps} steps in {time.monotonic() - started:.0f} s", flush=True)
    rng = random.Random(a.seed)
    work = os.path.join(root, "faults")
    report = dict(faults_injected=0, survived=0, hangs=0)
    attempts = 0
    while report["faults_injected"] < a.faults and attempts < 3 * a.faults:
        attempts += 1
        _one_fault(work, overrides, cache, rng, a.heartbeat_s, report)
    codes, hung = _wait_all(_launch(work, overrides, cache), 1800)  # to the end
    report.update(final_exit_codes=codes, hangs=report["hangs"] + int(hung))
    report.update(_compare(work, ref, steps))
    report.update(steps=steps, minutes=round((time.monotonic() - started) / 60, 1), root=root)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
