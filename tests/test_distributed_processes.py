# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Real multi-process training on 127.0.0.1: 2 processes x 4 emulated CPU devices.

One launch is SIGKILLed mid-run and relaunched; its losses are compared with a
single-process 8-device run of the same config (this pytest process, conftest's mesh),
and the relaunch's with what the killed launch itself had computed for the same steps.
Every child is killed in a `finally`; every wait is bounded.
"""

import json
import os
import re
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from train_util import learnable_records, small_config

from launch import common, local  # noqa: E402  (the repo root, not an installed package)
from lumos_jax import config_lib, distributed, train_loop  # noqa: E402

CONFIG = "configs/t2v.py:tiny"
CHECKPOINT_EVERY = 4


def _config(data_dir, steps):
    # Constant LR: the loss at step k does not depend on train.steps, so a launch told
    # to run 1000 steps and killed computes the same steps as a 10-step run.
    c = small_config(data_dir, steps=steps, checkpoint_every=CHECKPOINT_EVERY)
    c.optim.schedule = "constant"
    return c


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _cli_overrides(cfg, **extra):
    """--config.KEY=VALUE flags turning configs/t2v.py:tiny into `cfg` (small_config)."""
    base = _flatten(config_lib.experiment("t2v", "tiny").to_dict())
    out = {k: str(v) for k, v in _flatten(cfg.to_dict()).items() if base.get(k) != v}
    out.update({k: str(v) for k, v in extra.items()})
    return out


def _launch(data_dir, workdir, steps, cache_dir, num_processes=2, only=None, timeout_s=60):
    overrides = _cli_overrides(_config(data_dir, steps), **{"distributed.timeout_s": timeout_s})
    procs = local.processes(
        common.absolute_config(CONFIG),
        workdir,
        overrides,
        num_processes=num_processes,
        devices_per_process=4,
        port=common.free_port(),
        python=sys.executable,
    )
    if only is not None:
        procs = [procs[only]]
    # Same matmul precision as this process (conftest); a compile cache shared by the
    # launches keeps the second one from compiling again on these shared cores.
    extra = {
        "JAX_DEFAULT_MATMUL_PRECISION": "highest",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "JAX_COMPILATION_CACHE_DIR": cache_dir,
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }
    return local.start(procs, log_dir=os.path.join(workdir, "logs"), extra_env=extra)


def _rows(workdir):
    """metrics.jsonl rows; a line cut short by SIGKILL is skipped."""
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    rows = []
    with open(path) as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return rows


def _losses(rows):
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def _committed_checkpoints(workdir):
    """Orbax renames a step's directory to its bare number only once it is complete."""
    d = os.path.join(workdir, "checkpoints")
    return sorted(int(n) for n in os.listdir(d) if n.isdigit()) if os.path.isdir(d) else []


def _logs(workdir):
    d = os.path.join(workdir, "logs")
    return {n: open(os.path.join(d, n), errors="replace").read() for n in sorted(os.listdir(d))}


def _wait_for(predicate, popens, timeout_s, workdir):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        failed = [p.returncode for p in popens if p.poll() not in (None, 0)]
        if failed or time.monotonic() > deadline:
            tails = {n: t[-2500:] for n, t in _logs(workdir).items()}
            raise AssertionError(f"exit codes {failed} or timed out: {tails}")
        time.sleep(0.05)


def _two_process_runs(root):
    """Launch A (killed), launch B (resumed), reference (one process); their losses."""
    data_dir = learnable_records(str(root / "records"))
    cache = str(root / "jax_cache")
    work = str(root / "two_processes")
    # Launch A: 2 processes; SIGKILL both once step 4 is checkpointed and step 6 logged.
    popens = _launch(data_dir, work, 1000, cache)
    try:
        _wait_for(
            lambda: 4 in _committed_checkpoints(work) and max(_losses(_rows(work)), default=0) >= 6,
            popens,
            240,
            work,
        )
        alive = [p.poll() is None for p in popens]
        local.kill(popens)  # SIGKILL to each process group
    finally:
        local.kill(popens)
    killed_rows = _rows(work)
    resumed_from = _committed_checkpoints(work)[-1]
    # Launch B: the same command with a fresh port, to resumed_from + 4 steps.
    target = resumed_from + 4
    popens = _launch(data_dir, work, target, cache)
    try:
        codes = local.wait(popens, timeout_s=240)
    finally:
        local.kill(popens)
    assert codes == [0, 0], {n: t[-3000:] for n, t in _logs(work).items()}
    # The relaunch dropped the rows past its checkpoint and wrote those steps again.
    final = _rows(work)
    resumed = _losses([r for r in final if r["step"] > resumed_from])
    # Reference: one process, 8 devices, same config, no interruption.
    ref_dir = str(root / "one_process")
    train_loop.run(_config(data_dir, target), ref_dir)
    return dict(
        alive=alive,
        killed=_losses(killed_rows),
        resumed_from=resumed_from,
        resumed=resumed,
        target=target,
        reference=_losses(_rows(ref_dir)),
        logs=_logs(work),
        work=work,
        loss_row_steps=[r["step"] for r in final if "loss" in r],
    )


def test_two_processes_match_one_and_resume_exactly_after_sigkill(tmp_path):
    # One test, not two sharing a fixture: under pytest-xdist each worker would rerun
    # the launches for its share of the tests.
    runs = _two_process_runs(tmp_path)

    # 2 processes x 4 devices compute the losses of 1 process x 8 devices.
    killed, ref = runs["killed"], runs["reference"]
    assert all(runs["alive"]), "launch A finished before it was killed"
    assert set(range(1, 7)) <= set(killed), killed
    for step, loss in killed.items():
        assert loss == pytest.approx(ref[step], abs=1e-5), step
    assert any("process 1 of 2, coordinator 127.0.0.1:" in t for t in runs["logs"].values())

    # The relaunch resumes from the last checkpoint and continues the same trajectory.
    start, target = runs["resumed_from"], runs["target"]
    log = runs["logs"]["process-0.log"]
    assert re.search(rf"resumed from checkpoint step {start}\b", log), log[-3000:]
    resumed = runs["resumed"]
    assert sorted(resumed) == list(range(start + 1, target + 1)), resumed
    assert runs["loss_row_steps"] == list(range(1, target + 1))  # one row per step
    for step, loss in resumed.items():
        assert loss == pytest.approx(ref[step], abs=1e-5), step
    # Steps the killed launch had already computed past its checkpoint come out bit-for-bit
    # the same after the relaunch (same 2-process mesh, same data order).
    overlap = [s for s in resumed if s in killed]
    assert overlap, (start, sorted(killed))
    assert [resumed[s] for s in overlap] == [killed[s] for s in overlap]
    assert _committed_checkpoints(runs["work"])[-1] == target


def test_a_process_without_its_peer_exits_with_a_clear_message(tmp_path):
    """Process 1 with no coordinator, and process 0 whose peer never comes: both exit
    non-zero after distributed.timeout_s, naming the coordinator address."""
    timeout_s = 10
    data_dir = str(tmp_path / "none")  # never read: they stop before the data
    started = time.monotonic()
    popens = []
    try:
        for pid in (1, 0):
            popens += _launch(
                data_dir,
                str(tmp_path / f"alone{pid}"),
                5,
                str(tmp_path / "cache"),
                only=pid,
                timeout_s=timeout_s,
            )
        # Two independent jobs: wait for each (local.wait would kill one once the other
        # failed).
        codes = [p.wait(timeout=timeout_s + 100) for p in popens]
    finally:
        local.kill(popens)
    elapsed = time.monotonic() - started
    assert codes == [distributed.EXIT_NO_COORDINATOR] * 2, codes
    for pid in (1, 0):
        log = _logs(str(tmp_path / f"alone{pid}"))["process-0.log"]
        m = re.search(
            r"process (\d) of 2 could not join the coordinator at "
            r"127\.0\.0\.1:\d+ within 10 s \(waited ([\d.]+) s",
            log,
        )
        assert m and int(m.group(1)) == pid, log[-3000:]
        assert timeout_s <= float(m.group(2)) < timeout_s + 5
    assert elapsed < timeout_s + 100
