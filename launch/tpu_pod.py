# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Cloud TPU VM pod: the same training command on every worker, over `gcloud ... ssh`.

  python -m launch.tpu_pod --tpu=lumos-v5p --zone=us-east5-a --accelerator=v5p-128 \
      --config=configs/t2v.py:3.6b-384p --workdir=/mnt/shared/runs/t2v --dry_run
  # from the launch venv: an xmanager experiment, one work unit per sweep point
  ~/xmvenv/bin/python -m launch.tpu_pod --launcher=xm --sweep='optim.lr=1e-4,5e-5' ...

Each worker runs one JAX process with LUMOS_DISTRIBUTED=auto: jax.distributed asks the
TPU VM metadata server for the coordinator, process count and id. The checkout (and its
virtualenv) must already be on every worker at --repo_dir, and --workdir must be a
filesystem all workers share (e.g. a Filestore or gcsfuse mount): every process writes
its shards of each checkpoint there.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

if __package__ in (None, ""):  # `python launch/tpu_pod.py`: make `launch` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from launch import common  # noqa: E402

# Generations whose accelerator-type suffix counts TensorCores (2 per chip); the others
# (v5litepod = v5e, v6e) count chips. Pod hosts carry 4 chips.
_CORES_PER_CHIP = {"v2": 2, "v3": 2, "v4": 2, "v5p": 2, "v5litepod": 1, "v6e": 1}
CHIPS_PER_HOST = 4


def pod_shape(accelerator: str) -> dict:
    """'v5p-128' -> {'generation': 'v5p', 'chips': 64, 'workers': 16}."""
    m = re.fullmatch(r"(v\d+[a-z]*)-(\d+)", accelerator)
    if not m or m.group(1) not in _CORES_PER_CHIP:
        raise ValueError(
            f"--accelerator={accelerator!r}: expected e.g. v5p-128, v4-32, "
            f"v5litepod-64, v6e-256 (generations {sorted(_CORES_PER_CHIP)})"
        )
    gen, n = m.group(1), int(m.group(2))
    chips = n // _CORES_PER_CHIP[gen]
    single_host = gen in ("v5litepod", "v6e") and chips <= 8
    return dict(
        generation=gen, chips=chips, workers=1 if single_host else max(1, chips // CHIPS_PER_HOST)
    )


def worker_command(
    train_argv: list, repo_dir: str, setup: str = "", background_log: str = ""
) -> str:
    """The shell command each worker runs (identical on all of them)."""
    steps = [f"cd {repo_dir}"]  # unquoted on purpose: '~' must expand on the worker
    steps += [s.strip() for s in setup.split(";") if s.strip()]
    train = "LUMOS_DISTRIBUTED=auto PYTHONUNBUFFERED=1 " + common.shell_line(train_argv)
    if background_log:
        # Detached: the run outlives this ssh session (and a Ctrl+C of the launcher).
        train = f"nohup bash -c {shlex.quote(train)} >> {background_log} 2>&1 &"
    return " && ".join(steps + [train])


def gcloud_argv(tpu: str, zone: str, command: str, project: str = "", worker: str = "all") -> list:
    argv = ["gcloud", "compute", "tpus", "tpu-vm", "ssh", tpu, f"--zone={zone}"]
    if project:
        argv.append(f"--project={project}")
    return argv + [f"--worker={worker}", f"--command={command}"]


def _define_flags():
    common.define_common_flags("python3")
    flags.DEFINE_string("tpu", None, "TPU VM (pod slice) name.")
    flags.DEFINE_string("zone", None, "Its zone, e.g. us-east5-a.")
    flags.DEFINE_string("project", "", "GCP project (default: gcloud's).")
    flags.DEFINE_string(
        "accelerator",
        "v5p-128",
        "Accelerator type of the slice (for the summary and sanity checks).",
    )
    flags.DEFINE_string("repo_dir", "~/lumos_jax", "The checkout on every worker.")
    flags.DEFINE_string(
        "setup", "source .venv/bin/activate", "Shell commands before training, ';'-separated."
    )
    flags.DEFINE_string(
        "background_log",
        "",
        "Detach with nohup, appending to this log on "
        "each worker (e.g. ~/lumos-train.log); empty: stay attached.",
    )
    flags.DEFINE_enum(
        "launcher",
        "direct",
        ["direct", "xm"],
        "direct: run gcloud; xm: an xmanager experiment whose work units run gcloud.",
    )
    flags.mark_flags_as_required(["tpu", "zone"])


def plan(fv) -> list[tuple[common.WorkUnit, list]]:
    fixed = common.parse_assignments(fv.set)
    out = []
    for unit in common.work_units(fv.workdir, fv.sweep):
        argv = [
            fv.python,
            *common.train_args(
                fv.config, unit.workdir, common.run_overrides(unit, fixed, fv.timeout_s)
            ),
        ]
        command = worker_command(argv, fv.repo_dir, fv.setup, fv.background_log)
        out.append((unit, gcloud_argv(fv.tpu, fv.zone, command, fv.project)))
    return out


def main(argv):
    del argv
    fv = flags.FLAGS
    shape = pod_shape(fv.accelerator)
    planned = plan(fv)
    if len(planned) > 1 and not fv.background_log:
        print("note: attached work units run one after another on the one pod")
    if fv.dry_run:
        print(
            f"# TPU pod {fv.tpu} ({fv.accelerator}): {shape['chips']} chips on "
            f"{shape['workers']} workers = {shape['workers']} JAX processes x "
            f"{shape['chips'] // shape['workers']} devices"
        )
        for unit, gcloud in planned:
            print(f"# work unit {unit.index + 1}/{len(planned)} {unit.name} -> {unit.workdir}")
            print(shlex.join(gcloud))
        return 0
    if fv.launcher == "xm":
        by_unit = {u.index: g for u, g in planned}
        common.xm_launch(
            fv.title,
            [u for u, _ in planned],
            lambda u: [common.JobSpec("gcloud_ssh", "gcloud", by_unit[u.index][1:], {})],
        )
        return 0
    for unit, gcloud in planned:
        print(f"work unit {unit.name}: {shlex.join(gcloud)}", flush=True)
        if subprocess.run(gcloud).returncode:
            return 1
    return 0


if __name__ == "__main__":
    _define_flags()
    app.run(main)
