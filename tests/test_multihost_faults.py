# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Faults in a job of 2 processes on 127.0.0.1, started directly with the LUMOS_*
variables as separate hosts would be (issue 25): a SIGTERM to one process only, a
SIGKILLed chief, a step one process cannot read, a second job on a locked workdir.
Every wait is bounded and every child is killed in a `finally`."""

import os
import re
import signal
import sys
import time

import pytest
from test_distributed_processes import (
    _cli_overrides,
    _committed_checkpoints,
    _logs,
    _losses,
    _rows,
    _wait_for,
)
from test_workdir_lock import _holder, _kill
from train_util import VOCAB, learnable_records, small_config

from launch import common, local
from lumos_jax import distributed

CONFIG = "configs/t2v.py:tiny"
HEARTBEAT_S = 10
# Process 1 of the third launch cannot open the files of step UNREADABLE (a host whose
# view of the shared workdir is damaged); process 0 reads them fine.
UNREADABLE_ON_1 = r"""
import os, runpy, sys
from lumos_jax import checkpoint_integrity
readable = checkpoint_integrity.readable
step = os.environ["UNREADABLE"]
def unreadable(path):
    if os.path.basename(path) == step:
        return "damaged", "state/manifest.ocdbt cannot be read (Input/output error)"
    return readable(path)
checkpoint_integrity.readable = unreadable
sys.argv = ["lumos_jax.train"] + sys.argv[1:]
runpy.run_module("lumos_jax.train", run_name="__main__", alter_sys=True)
"""


def _config(data_dir, steps):
    c = small_config(data_dir, steps=steps, checkpoint_every=2)
    c.optim.schedule = "constant"  # the loss at step k does not depend on train.steps
    c.vocab.visual_size = VOCAB.visual_size  # the records' codes
    c.model.vocab_size = VOCAB.text_size + VOCAB.visual_size
    if "visual_size" in c.model:
        c.model.visual_size = VOCAB.visual_size
    return c


def _launch(data_dir, workdir, steps, cache, wrap_1=None, env_1=None):
    overrides = _cli_overrides(
        _config(data_dir, steps),
        **{"distributed.timeout_s": 120, "distributed.heartbeat_timeout_s": HEARTBEAT_S},
    )
    procs = local.processes(
        common.absolute_config(CONFIG),
        workdir,
        overrides,
        num_processes=2,
        devices_per_process=4,
        port=common.free_port(),
        python=sys.executable,
    )
    if wrap_1 is not None:  # python -c WRAP_1 ARGS instead of python -m lumos_jax.train ARGS
        argv = procs[1].argv
        procs[1] = local.Process([argv[0], "-c", wrap_1, *argv[3:]], {**procs[1].env, **env_1})
    extra = {
        "JAX_DEFAULT_MATMUL_PRECISION": "highest",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "JAX_COMPILATION_CACHE_DIR": cache,
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }
    return local.start(procs, log_dir=os.path.join(workdir, "logs"), extra_env=extra)


def _last_step(work):
    return max(_losses(_rows(work)), default=0)


def _exit_codes(popens, timeout_s):
    """Each process's exit code and when it exited (s from now); None if it did not."""
    start, out = time.monotonic(), []
    for p in popens:
        try:
            p.wait(timeout=max(1.0, start + timeout_s - time.monotonic()))
        except Exception:  # noqa: BLE001  (TimeoutExpired: counted as a hang below)
            pass
        out.append((p.returncode, time.monotonic() - start))
    return out


def _console(log):
    """Lines a person reads: not absl's INFO/WARNING log lines."""
    return [ln for ln in log.splitlines() if ln.strip() and not re.match(r"[IWE]\d{4} ", ln)]


def test_one_host_preemption_a_killed_chief_and_a_step_one_process_cannot_read(tmp_path):
    data = learnable_records(str(tmp_path / "records"))
    cache, work = str(tmp_path / "cache"), str(tmp_path / "w")

    # 1. SIGTERM to process 1 only: the job saves one checkpoint and both exit 0.
    popens = _launch(data, work, 1000, cache)
    try:
        _wait_for(lambda: _last_step(work) >= 3, popens, 900, work)
        os.kill(popens[1].pid, signal.SIGTERM)
        codes = _exit_codes(popens, 120)
    finally:
        local.kill(popens)
    assert [c for c, _ in codes] == [0, 0], {n: t[-3000:] for n, t in _logs(work).items()}
    stopped = _committed_checkpoints(work)[-1]
    for log in _logs(work).values():
        assert f"preemption: saved step {stopped}, exiting" in log
    assert sorted(_losses(_rows(work))) == list(range(1, stopped + 1))

    # 2. SIGKILL of the chief two steps later: process 1 exits by itself with one line.
    popens = _launch(data, work, 1000, cache)
    try:
        _wait_for(lambda: _last_step(work) >= stopped + 3, popens, 900, work)
        killed_rows = _losses(_rows(work))
        os.kill(popens[0].pid, signal.SIGKILL)
        (_, _), (code, after) = _exit_codes(popens, HEARTBEAT_S + 60)
    finally:
        local.kill(popens)
    log = _logs(work)["process-1.log"]
    assert code == distributed.EXIT_PEER_LOST, log[-3000:]
    assert after < HEARTBEAT_S + 20, after  # the bound the README states, with slack
    lost = [ln for ln in _console(log) if "lost process" in ln]
    assert lost == [
        f"lumos_jax.distributed: process 1 of 2 lost process 0: no heartbeat for {HEARTBEAT_S}"
        " s (it died, hangs or is unreachable; config distributed.heartbeat_timeout_s); "
        "exiting, restart the job to resume from its last checkpoint"
    ], log[-3000:]
    assert "Traceback" not in log[log.index("lost process") - 2000 :]

    # 3. Process 1 cannot read the newest step: every process restores the one before.
    newest = _committed_checkpoints(work)[-1]
    target = newest + 2
    popens = _launch(
        data, work, target, cache, wrap_1=UNREADABLE_ON_1, env_1={"UNREADABLE": str(newest)}
    )
    try:
        codes = _exit_codes(popens, 900)
    finally:
        local.kill(popens)
    logs = _logs(work)
    assert [c for c, _ in codes] == [0, 0], {n: t[-3000:] for n, t in logs.items()}
    previous = max(s for s in _committed_checkpoints(work) if s < newest)
    for log in logs.values():
        assert re.search(rf"resumed from checkpoint step {previous}\b", log), log[-3000:]
    assert (
        f"checkpoint step {newest} in {work}/checkpoints is damaged (state/manifest.ocdbt "
        f"cannot be read (Input/output error), seen by process 1; falling back to step "
        f"{previous})" in logs["process-0.log"]
    )
    aside = [d for d in os.listdir(f"{work}/checkpoints") if d.startswith(f"{newest}.damaged-")]
    assert len(aside) == 1 and os.listdir(f"{work}/checkpoints/{aside[0]}")  # kept whole
    final = _losses(_rows(work))
    assert sorted(final) == list(range(1, target + 1))  # one row per step
    again = [s for s in killed_rows if s > previous]
    assert again and all(final[s] == killed_rows[s] for s in again)  # bitwise


def test_a_second_job_on_a_locked_workdir_is_refused_by_every_process(tmp_path):
    data = learnable_records(str(tmp_path / "records"))
    work = tmp_path / "w"
    holder = _holder(work)
    try:
        started = time.monotonic()
        popens = _launch(data, str(work), 4, str(tmp_path / "cache"))
        try:
            codes = _exit_codes(popens, 300)
        finally:
            local.kill(popens)
    finally:
        _kill(holder)
    logs = _logs(str(work))
    assert [c for c, _ in codes] == [1, 1], {n: t[-3000:] for n, t in logs.items()}
    assert abs(codes[0][1] - codes[1][1]) < 15  # neither waits for the other to die
    for log in logs.values():
        (line,) = [ln for ln in _console(log) if "in use by" in ln]
        assert line.startswith(f"lumos_jax.train: error: workdir {work} is in use by pid "), line
    assert time.monotonic() - started < 300
    assert not os.path.exists(work / "checkpoints")


@pytest.mark.parametrize("sig", [signal.SIGINT])
def test_ctrl_c_saves_and_exits_0_like_sigterm(tmp_path, sig):
    data = learnable_records(str(tmp_path / "records"))
    work = str(tmp_path / "w")
    c = _config(data, 1000)
    args = [
        f"--config.{k}={v}"
        for k, v in _cli_overrides(c, **{"train.checkpoint_every": 1000}).items()
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = local.start(
        [local.Process([sys.executable, *common.train_args(CONFIG, work, {}), *args], env)],
        log_dir=os.path.join(work, "logs"),
    )
    try:
        _wait_for(lambda: _last_step(work) >= 2, proc, 900, work)
        os.kill(proc[0].pid, sig)
        ((code, _),) = _exit_codes(proc, 120)
    finally:
        local.kill(proc)
    log = _logs(work)["process-0.log"]
    assert code == 0, log[-3000:]
    step = _committed_checkpoints(work)
    assert len(step) == 1 and f"preemption: saved step {step[0]}, exiting" in log, log[-3000:]
