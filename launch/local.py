# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""N training processes on this machine, joined by jax.distributed over 127.0.0.1.

  # 2 processes x 4 emulated CPU devices = one 8-device mesh
  python -m launch.local --config=configs/t2v.py:tiny --workdir=/tmp/mp
  # a learning-rate sweep: one work unit (and workdir) per value, run one after another
  python -m launch.local --config=configs/t2v.py:tiny --workdir=/tmp/sweep \
      --sweep='optim.lr=1e-3,3e-4' --set=train.steps=200
  # the same as an xmanager experiment (run from the launch venv, see requirements.txt)
  ~/xmvenv/bin/python -m launch.local --launcher=xm --config=... --workdir=...
  # on a GPU box: 2 processes with 4 GPUs each
  python -m launch.local --devices_per_process=0 --gpus_per_process=4 --config=... ...

Every process runs the same `python -m lumos_jax.train` command; only LUMOS_PROCESS_ID
differs (lumos_jax.distributed reads LUMOS_COORDINATOR / _NUM_PROCESSES / _PROCESS_ID).
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

if __package__ in (None, ""):  # `python launch/local.py`: make `launch` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from launch import common  # noqa: E402

_DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"


@dataclasses.dataclass(frozen=True)
class Process:
    """One training process: argv and the environment it adds to the launcher's."""

    argv: list
    env: dict


def process_env(
    process_id: int,
    num_processes: int,
    port: int,
    devices_per_process: int,
    gpus_per_process: int = 0,
    base_env: Mapping[str, str] = os.environ,
) -> dict:
    """Environment for one process (only what it adds or replaces)."""
    env = {
        "LUMOS_COORDINATOR": f"127.0.0.1:{port}",
        "LUMOS_NUM_PROCESSES": str(num_processes),
        "LUMOS_PROCESS_ID": str(process_id),
    }
    if devices_per_process:
        # Emulated CPU devices; drop an inherited count (pytest's conftest sets 8).
        inherited = re.sub(rf"{_DEVICE_COUNT_FLAG}=\S+", "", base_env.get("XLA_FLAGS", ""))
        env["XLA_FLAGS"] = " ".join(
            inherited.split() + [f"{_DEVICE_COUNT_FLAG}={devices_per_process}"]
        )
        env["JAX_PLATFORMS"] = "cpu"
    if gpus_per_process:
        first = process_id * gpus_per_process
        env["CUDA_VISIBLE_DEVICES"] = ",".join(
            str(g) for g in range(first, first + gpus_per_process)
        )
    return env


def processes(
    config: str,
    workdir: str,
    overrides: Mapping[str, str],
    *,
    num_processes: int,
    devices_per_process: int,
    port: int,
    python: str,
    gpus_per_process: int = 0,
    base_env: Mapping[str, str] = os.environ,
) -> list[Process]:
    argv = [python, *common.train_args(config, workdir, overrides)]
    return [
        Process(
            argv,
            process_env(i, num_processes, port, devices_per_process, gpus_per_process, base_env),
        )
        for i in range(num_processes)
    ]


def start(
    procs: Sequence[Process],
    log_dir: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    cwd: str = common.REPO_ROOT,
) -> list[subprocess.Popen]:
    """Start every process, each in its own session so a kill reaches its children.

    With log_dir, process i writes to log_dir/process-i.log; otherwise process 0 keeps
    this terminal and the others write next to the run's workdir.
    """
    popens = []
    try:
        for i, p in enumerate(procs):
            env = {**os.environ, **(extra_env or {}), **p.env}
            out = None
            if log_dir is not None or i > 0:
                directory = log_dir or os.path.join(_workdir_of(p.argv), "logs")
                os.makedirs(directory, exist_ok=True)
                out = open(os.path.join(directory, f"process-{i}.log"), "ab")
            popens.append(
                subprocess.Popen(
                    p.argv,
                    env=env,
                    cwd=cwd,
                    stdout=out,
                    stderr=subprocess.STDOUT if out else None,
                    start_new_session=True,
                )
            )
            if out is not None:
                out.close()  # the child holds its own descriptor
    except BaseException:
        kill(popens)
        raise
    return popens


def _workdir_of(argv: Sequence[str]) -> str:
    return next(a.split("=", 1)[1] for a in argv if a.startswith("--workdir="))


def wait(popens: Sequence[subprocess.Popen], timeout_s: float | None = None) -> list[int]:
    """Wait for all; once one fails, kill the rest (their collectives would hang)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while any(p.poll() is None for p in popens):
            if any(p.returncode not in (None, 0) for p in popens):
                break
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"processes still running after {timeout_s} s")
            time.sleep(0.2)
    finally:
        kill(popens)
    return [p.returncode for p in popens]


def send(popens: Sequence[subprocess.Popen], sig: int) -> None:
    """Send `sig` to each live process's session (its process group)."""
    for p in popens:
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass


def kill(popens: Sequence[subprocess.Popen], sig: int = signal.SIGKILL) -> None:
    """Send `sig` to each live process's session, then reap it."""
    send(popens, sig)
    for p in popens:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass


# ---------------------------------------------------------------------------------- CLI
def _define_flags():
    common.define_common_flags(common.default_python())
    flags.DEFINE_integer("num_processes", 2, "Processes on this machine.")
    flags.DEFINE_integer(
        "devices_per_process",
        4,
        "Emulated CPU devices per process (XLA_FLAGS); 0: the machine's real devices.",
    )
    flags.DEFINE_integer(
        "gpus_per_process",
        0,
        "With real GPUs: CUDA_VISIBLE_DEVICES slices of this size, one per process.",
    )
    flags.DEFINE_integer("port", 0, "Coordinator port on 127.0.0.1 (0: a free one per work unit).")
    flags.DEFINE_enum(
        "launcher",
        "direct",
        ["direct", "xm"],
        "direct: subprocesses, work units one after another; xm: an xmanager local experiment.",
    )


def plan(flag_values) -> list[tuple[common.WorkUnit, list[Process]]]:
    fixed = common.parse_assignments(flag_values.set)
    config = common.absolute_config(flag_values.config)
    out = []
    for unit in common.work_units(os.path.abspath(flag_values.workdir), flag_values.sweep):
        port = flag_values.port or common.free_port()
        procs = processes(
            config,
            unit.workdir,
            common.run_overrides(unit, fixed, flag_values.timeout_s),
            num_processes=flag_values.num_processes,
            devices_per_process=flag_values.devices_per_process,
            gpus_per_process=flag_values.gpus_per_process,
            port=port,
            python=flag_values.python,
        )
        out.append((unit, procs))
    return out


def dry_run_script(planned) -> str:
    """A shell script equivalent to the launch (what --dry_run prints)."""
    lines = ["#!/bin/bash", f"cd {common.REPO_ROOT}"]
    for unit, procs in planned:
        lines.append(
            f"# work unit {unit.index + 1}/{len(planned)} {unit.name}: "
            f"{len(procs)} processes -> {unit.workdir}"
        )
        lines += [common.shell_line(p.argv, p.env) + " &" for p in procs]
        lines.append("wait")
    return "\n".join(lines) + "\n"


def main(argv):
    del argv
    planned = plan(flags.FLAGS)
    if flags.FLAGS.dry_run:
        print(dry_run_script(planned), end="")
        return 0
    if flags.FLAGS.launcher == "xm":
        by_unit = {u.index: ps for u, ps in planned}
        common.xm_launch(
            flags.FLAGS.title,
            [u for u, _ in planned],
            lambda u: [
                common.JobSpec(f"process_{i}", p.argv[0], p.argv[1:], p.env)
                for i, p in enumerate(by_unit[u.index])
            ],
        )
        return 0
    stopping = []
    for unit, procs in planned:
        print(
            f"work unit {unit.index + 1}/{len(planned)} {unit.name}: {len(procs)} "
            f"processes, workdir {unit.workdir}",
            flush=True,
        )
        popens = start(procs)
        # A SIGTERM to the launcher (preemption) reaches every process, which then saves
        # a checkpoint and exits; Ctrl+C kills them at once (wait's finally).
        signal.signal(signal.SIGTERM, lambda *_: (stopping.append(1), send(popens, signal.SIGTERM)))
        codes = wait(popens)
        if any(codes):
            print(
                f"work unit {unit.name} failed: exit codes {codes} (logs: {unit.workdir}/logs)",
                file=sys.stderr,
            )
            return 1
        if stopping:
            print("stopped by SIGTERM; relaunch the same command to resume", file=sys.stderr)
            return 0
    return 0


if __name__ == "__main__":
    _define_flags()
    app.run(main)
