# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Launchers: --dry_run output for 6x8 GPUs on SLURM and a v5p pod; sweeps; no xmanager."""

import os
import re
import shlex
import subprocess
import sys

import ml_collections
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from launch import common, local, tpu_pod  # noqa: E402
from lumos_jax import distributed  # noqa: E402


def _cfg():
    return ml_collections.ConfigDict(
        dict(coordinator="", num_processes=0, process_id=-1, timeout_s=300)
    )


def _dry_run(module, *args):
    """Run a launcher's CLI the way a user would; xmanager must not be needed for this."""
    r = subprocess.run(
        [sys.executable, "-m", f"launch.{module}", "--dry_run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_slurm_dry_run_48_gpus(tmp_path):
    out = _dry_run(
        "slurm",
        "--config=configs/t2v.py:3.6b-384p",
        "--workdir=/shared/t2v",
        "--nodes=6",
        "--gpus_per_node=8",
        "--partition=gpu",
        "--time=72:00:00",
        "--setup=module load cuda;source .venv/bin/activate",
        "--port=29500",
        "--timeout_s=900",
        "--repo_dir=/shared/lumos_jax",
    )
    for line in (
        "#SBATCH --nodes=6",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --gpus-per-node=8",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=72:00:00",
        "#SBATCH --signal=TERM@300",
        "#SBATCH --output=/shared/t2v/slurm-%j.out",
        "cd /shared/lumos_jax",
        "module load cuda",
        "source .venv/bin/activate",
        "export LUMOS_COORDINATOR_PORT=29500",
    ):
        assert line in out.splitlines(), (line, out)
    assert "48 GPUs, one JAX process per node" in out
    srun = out[out.index("srun ") :].split("\n# submit")[0].replace("\\\n", " ")
    argv = shlex.split(srun)
    assert "--ntasks-per-node=1" in argv and "--kill-on-bad-exit=1" in argv
    train = argv[argv.index("python") :]
    assert train[:5] == [
        "python",
        "-m",
        "lumos_jax.train",
        "--config=configs/t2v.py:3.6b-384p",
        "--workdir=/shared/t2v",
    ]
    assert "--config.distributed.timeout_s=900" in train
    script = tmp_path / "job.sbatch"
    script.write_text(out.split("\n", 1)[1])
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0  # valid shell


def test_slurm_dry_run_without_setup_runs_the_venv_python():
    """Without --setup nothing activates an environment on the nodes: the script names
    the checkout's venv interpreter (or the launcher's), never a bare `python`."""
    out = _dry_run("slurm", "--config=configs/t2v.py:tiny", "--workdir=/shared/t")
    srun = out[out.index("srun ") :].split("\n# submit")[0].replace("\\\n", " ")
    argv = shlex.split(srun)
    python = argv[argv.index("-m") - 1]
    assert python == common.default_python() and os.path.isabs(python), python
    assert os.path.exists(python)
    out = _dry_run(
        "slurm",
        "--config=configs/t2v.py:tiny",
        "--workdir=/shared/t",
        "--python=/opt/env/bin/python3",
    )
    assert "/opt/env/bin/python3 -m lumos_jax.train" in out


def test_slurm_environment_gives_each_node_its_process_id():
    """What srun sets for task 3 of the 6 started by that script."""
    env = {
        "SLURM_JOB_ID": "777",
        "SLURM_STEP_NODELIST": "gpu[01-06]",
        "SLURM_NTASKS": "6",
        "SLURM_PROCID": "3",
        "SLURM_LOCALID": "0",
        "LUMOS_COORDINATOR_PORT": "29500",
    }
    s = distributed.resolve(_cfg(), env)
    assert (s["coordinator"], s["num_processes"], s["process_id"]) == ("gpu01:29500", 6, 3)
    assert s["local_device_ids"] is None


def test_slurm_sweep_writes_one_job_per_work_unit():
    out = _dry_run(
        "slurm",
        "--config=configs/t2v.py:1b",
        "--workdir=/shared/sweep",
        "--sweep=optim.lr=1e-4,5e-5;seed=0,1",
        "--title=lr",
    )
    assert out.count("#!/bin/bash") == 4
    assert "#SBATCH --job-name=lr-lr=5e-5,seed=1" in out
    assert "--workdir=/shared/sweep/lr=5e-5,seed=1 --config.optim.lr=5e-5 --config.seed=1" in out


def test_tpu_pod_dry_run_v5p():
    out = _dry_run(
        "tpu_pod",
        "--tpu=lumos-pod",
        "--zone=us-east5-a",
        "--project=proj",
        "--accelerator=v5p-128",
        "--config=configs/t2v.py:3.6b-384p",
        "--workdir=/mnt/shared/t2v",
        "--set=train.steps=1000",
    )
    assert "v5p-128): 64 chips on 16 workers = 16 JAX processes x 4 devices" in out
    (cmd,) = [line for line in out.splitlines() if line.startswith("gcloud")]
    argv = shlex.split(cmd)
    assert argv[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "lumos-pod"]
    assert {"--zone=us-east5-a", "--project=proj", "--worker=all"} <= set(argv)
    remote = next(a for a in argv if a.startswith("--command=")).split("=", 1)[1]
    assert remote.startswith("cd ~/lumos_jax && source .venv/bin/activate && ")
    train = shlex.split(remote.split(" && ")[-1])
    assert train[:2] == ["LUMOS_DISTRIBUTED=auto", "PYTHONUNBUFFERED=1"]
    assert train[2:7] == [
        "python3",
        "-m",
        "lumos_jax.train",
        "--config=configs/t2v.py:3.6b-384p",
        "--workdir=/mnt/shared/t2v",
    ]
    assert "--config.train.steps=1000" in train
    # What that environment variable makes the training process do on each worker:
    assert distributed.resolve(_cfg(), {"LUMOS_DISTRIBUTED": "auto"})["auto"]


def test_tpu_pod_shapes():
    assert tpu_pod.pod_shape("v5p-128") == dict(generation="v5p", chips=64, workers=16)
    assert tpu_pod.pod_shape("v4-32")["workers"] == 4
    assert tpu_pod.pod_shape("v6e-8")["workers"] == 1
    with pytest.raises(ValueError, match="v5p-128"):
        tpu_pod.pod_shape("v5p")


def test_local_dry_run_sweep():
    out = _dry_run(
        "local",
        "--config=configs/t2v.py:tiny",
        "--workdir=/tmp/lumos-sweep",
        "--sweep=optim.lr=1e-3,3e-4",
        "--num_processes=2",
        "--devices_per_process=4",
        "--port=23456",
    )
    lines = [line for line in out.splitlines() if "lumos_jax.train" in line]
    assert len(lines) == 4  # 2 work units x 2 processes
    for i, line in enumerate(lines):
        env = dict(a.split("=", 1) for a in shlex.split(line)[:5])
        assert env["LUMOS_COORDINATOR"] == "127.0.0.1:23456"
        assert env["LUMOS_NUM_PROCESSES"] == "2" and env["LUMOS_PROCESS_ID"] == str(i % 2)
        assert env["XLA_FLAGS"].endswith("--xla_force_host_platform_device_count=4")
        assert env["JAX_PLATFORMS"] == "cpu"
    assert "--workdir=/tmp/lumos-sweep/lr=3e-4 --config.optim.lr=3e-4" in lines[3]


def test_local_env_replaces_an_inherited_device_count():
    env = local.process_env(
        1,
        2,
        1234,
        4,
        base_env={"XLA_FLAGS": "--xla_force_host_platform_device_count=8 --xla_foo=1"},
    )
    assert env["XLA_FLAGS"] == "--xla_foo=1 --xla_force_host_platform_device_count=4"
    assert local.process_env(1, 2, 1234, 0, gpus_per_process=4)["CUDA_VISIBLE_DEVICES"] == "4,5,6,7"


def test_sweep_parsing():
    assert common.parse_sweep("") == [{}]
    assert common.parse_sweep("a=1,2;b=x") == [{"a": "1", "b": "x"}, {"a": "2", "b": "x"}]
    with pytest.raises(ValueError, match="KEY=V1"):
        common.parse_sweep("a")
    units = common.work_units("gs://b/run", "config.optim.lr=1e-3,3e-4")
    assert [u.workdir for u in units] == ["gs://b/run/lr=1e-3", "gs://b/run/lr=3e-4"]


def test_training_package_does_not_need_xmanager():
    """xmanager lives in launch/requirements.txt only; launchers import it only to launch."""
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, launch.local, launch.slurm, "
            "launch.tpu_pod; assert 'xmanager' not in sys.modules",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    for d, _, files in os.walk(os.path.join(ROOT, "lumos_jax")):
        for name in files:
            if name.endswith(".py"):
                text = open(os.path.join(d, name)).read()
                assert not re.search(r"^\s*(import|from)\s+xmanager", text, re.M), name
    assert "xmanager" not in open(os.path.join(ROOT, "setup.py")).read()
    assert "xmanager" in open(os.path.join(ROOT, "launch", "requirements.txt")).read()
