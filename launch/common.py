# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""What every launcher shares: the training command, config overrides, sweeps, xmanager.

Everything here except `xm_launch` is plain Python, so `--dry_run` and the tests work in
the training virtualenv, where xmanager (which pins an older protobuf) is not installed.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import shlex
import socket
import sys
from collections.abc import Callable, Mapping, Sequence

from absl import flags

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_MODULE = "lumos_jax.train"


def define_common_flags(default_python: str) -> None:
    # Listed with the launcher's own flags in --help (absl keys those by sys.argv[0]).
    m = dict(module_name=sys.argv[0])
    flags.DEFINE_string("config", None, "Experiment config, e.g. configs/t2v.py:tiny.", **m)
    flags.DEFINE_string(
        "workdir", None, "Run directory; with --sweep, one sub-directory per work unit.", **m
    )
    flags.DEFINE_multi_string(
        "set",
        [],
        "Config override KEY=VALUE (repeatable), passed "
        "as --config.KEY=VALUE, e.g. --set=train.steps=1000.",
        **m,
    )
    flags.DEFINE_string(
        "sweep",
        "",
        "Hyper-parameter sweep 'KEY=V1,V2;KEY2=W1,W2': one work unit per point of the product.",
        **m,
    )
    flags.DEFINE_integer(
        "timeout_s", 0, "distributed.timeout_s for joining the coordinator (0: the config's).", **m
    )
    flags.DEFINE_string("python", default_python, "Python that runs lumos_jax.train.", **m)
    flags.DEFINE_string("title", "lumos", "Experiment title (xmanager) / job name prefix.", **m)
    flags.DEFINE_bool("dry_run", False, "Print what would run; launch nothing.", **m)
    flags.mark_flags_as_required(["config", "workdir"])


def parse_assignments(items: Sequence[str]) -> dict[str, str]:
    """['optim.lr=1e-3', 'seed=1'] -> {'optim.lr': '1e-3', 'seed': '1'} (order kept)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r}: expected KEY=VALUE, e.g. optim.lr=3e-4")
        out[key.removeprefix("config.")] = value
    return out


def parse_sweep(spec: str) -> list[dict[str, str]]:
    """'optim.lr=1e-3,3e-4;seed=0,1' -> the 4 points of the product ([{}] when empty)."""
    axes = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        key, sep, values = part.partition("=")
        if not sep or not values:
            raise ValueError(f"sweep axis {part!r}: expected KEY=V1,V2,...")
        axes.append([(key.removeprefix("config."), v) for v in values.split(",")])
    return [dict(point) for point in itertools.product(*axes)]


@dataclasses.dataclass(frozen=True)
class WorkUnit:
    """One point of a sweep: its name, its config overrides and its own workdir."""

    index: int
    name: str
    hparams: dict
    workdir: str


def work_units(root: str, sweep: str) -> list[WorkUnit]:
    points = parse_sweep(sweep)
    if points == [{}]:
        return [WorkUnit(0, "run", {}, root)]
    units = []
    for i, hp in enumerate(points):
        # The last key component keeps names short: optim.lr=3e-4 -> lr=3e-4.
        name = ",".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in hp.items())
        name = re.sub(r"[^A-Za-z0-9._=,-]", "_", name)
        # '/' join, not os.path: the workdir may be remote (a cluster path, gs://...).
        units.append(WorkUnit(i, name, hp, root.rstrip("/") + "/" + name))
    return units


def train_args(config: str, workdir: str, overrides: Mapping[str, str]) -> list[str]:
    """Arguments after `python`: the same on every process of a run."""
    return [
        "-m",
        TRAIN_MODULE,
        f"--config={config}",
        f"--workdir={workdir}",
        *(f"--config.{k}={v}" for k, v in overrides.items()),
    ]


def run_overrides(unit: WorkUnit, fixed: Mapping[str, str], timeout_s: int) -> dict:
    """Fixed --set overrides, then the sweep point's (which win), then the timeout."""
    out = dict(fixed)
    out.update(unit.hparams)
    if timeout_s:
        out["distributed.timeout_s"] = str(timeout_s)
    return out


def absolute_config(config: str) -> str:
    """configs/t2v.py:tiny -> /repo/configs/t2v.py:tiny, so any cwd works locally."""
    path, sep, arg = config.partition(":")
    if not os.path.isabs(path) and os.path.exists(os.path.join(REPO_ROOT, path)):
        path = os.path.join(REPO_ROOT, path)
    return path + sep + arg


def shell_line(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """`K=V ... prog args` quoted for a POSIX shell."""
    assigns = [f"{k}={shlex.quote(str(v))}" for k, v in (env or {}).items()]
    return " ".join(assigns + [shlex.join(argv)])


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the OS picks it; tiny race until the bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def default_python() -> str:
    """The repo's virtualenv if there is one (the launch venv lacks jax), else this one."""
    venv = os.path.join(REPO_ROOT, ".venv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


# ----------------------------------------------------------------------------- xmanager
def import_xmanager():
    """(xm, xm_local), or an error that says how to get them."""
    try:
        from xmanager import xm, xm_local  # pylint: disable=import-outside-toplevel
    except ImportError as e:
        raise SystemExit(
            f"xmanager is not installed in {sys.executable} ({e}). It pins an older "
            "protobuf than the training stack, so give it its own virtualenv:\n"
            "  python3 -m venv ~/xmvenv && ~/xmvenv/bin/pip install -r launch/requirements.txt\n"
            "and run the launcher with ~/xmvenv/bin/python, or use --launcher=direct / "
            "--dry_run."
        ) from e
    return xm, xm_local


@dataclasses.dataclass(frozen=True)
class JobSpec:
    """One job of a work unit: a local command (`program args`) and its environment."""

    name: str
    program: str
    args: list
    env: dict


def xm_launch(
    title: str, units: Sequence[WorkUnit], jobs_for: Callable[[WorkUnit], list[JobSpec]]
) -> None:
    """One xmanager experiment; one work unit per sweep point; its jobs run as a group.

    Every job is an `xm.Binary` run by the `xm_local.Local` executor on this machine:
    the training processes themselves (launch/local.py) or the command that hands the
    run to a cluster and waits for it (`sbatch --wait`, `gcloud ... ssh`).
    """
    xm, xm_local = import_xmanager()
    with xm_local.create_experiment(experiment_title=title) as experiment:
        for unit in units:
            specs = jobs_for(unit)
            executables = experiment.package(
                [
                    xm.binary(
                        executor_spec=xm_local.Local.Spec(),
                        path=_which(s.program),
                        args=s.args,
                        env_vars=s.env,
                    )
                    for s in specs
                ]
            )
            group = xm.JobGroup(
                **{
                    s.name: xm.Job(executable=e, executor=xm_local.Local(), name=s.name)
                    for s, e in zip(specs, executables)
                }
            )
            experiment.add(group)
            print(
                f"work unit {unit.index + 1}/{len(units)} {unit.name}: "
                f"{len(specs)} job(s), workdir {unit.workdir}"
            )
    # Leaving the `with` waits for local jobs (xm_local) before returning.


def _which(program: str) -> str:
    """xm.Binary wants a path that exists on this machine."""
    if os.path.sep in program:
        return os.path.abspath(program)
    import shutil  # pylint: disable=import-outside-toplevel

    found = shutil.which(program)
    if found is None:
        raise SystemExit(f"{program!r} is not on PATH of this machine")
    return found
