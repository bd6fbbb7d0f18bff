# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""lumos_jax.distributed: which settings each environment yields (no processes started)."""

import ml_collections
import pytest

from lumos_jax import distributed


def _cfg(**kw):
    base = dict(
        coordinator="",
        num_processes=0,
        process_id=-1,
        timeout_s=300,
        heartbeat_timeout_s=100,
        shutdown_timeout_s=300,
    )
    base.update(kw)
    return ml_collections.ConfigDict(base)


def _srun_env(procid, ntasks=6, nodelist="gpu[001-006]", localid=0, job_id="4242"):
    """What srun puts in each task's environment (the subset distributed.py reads)."""
    return {
        "SLURM_JOB_ID": job_id,
        "SLURM_JOB_NODELIST": nodelist,
        "SLURM_STEP_NODELIST": nodelist,
        "SLURM_NTASKS": str(ntasks),
        "SLURM_STEP_NUM_TASKS": str(ntasks),
        "SLURM_PROCID": str(procid),
        "SLURM_LOCALID": str(localid),
        "SLURM_JOB_NUM_NODES": "6",
    }


def test_expand_nodelist():
    assert distributed.expand_nodelist("gpu[001-003,007],cpu5") == [
        "gpu001",
        "gpu002",
        "gpu003",
        "gpu007",
        "cpu5",
    ]
    assert distributed.expand_nodelist("node7") == ["node7"]


def test_slurm_one_process_per_node_sees_all_gpus():
    s = distributed.resolve(_cfg(), _srun_env(3))
    assert s["coordinator"] == f"gpu001:{distributed.DEFAULT_PORT + 4242 % 1000}"
    assert (s["num_processes"], s["process_id"]) == (6, 3)
    assert s["local_device_ids"] is None  # all 8 GPUs of the node


def test_slurm_one_process_per_gpu_is_pinned_to_its_gpu():
    env = _srun_env(13, ntasks=48, localid=5)
    env["LUMOS_COORDINATOR_PORT"] = "29500"
    s = distributed.resolve(_cfg(), env)
    assert s["coordinator"] == "gpu001:29500" and s["num_processes"] == 48
    assert s["local_device_ids"] == [5]


def test_single_task_and_no_cluster_mean_single_process():
    assert distributed.resolve(_cfg(), _srun_env(0, ntasks=1, nodelist="gpu001")) is None
    assert distributed.resolve(_cfg(), {}) is None
    # The batch script itself (or an salloc shell) is not a task of an srun step.
    batch_shell = {k: v for k, v in _srun_env(0).items() if "STEP" not in k}
    assert distributed.resolve(_cfg(), batch_shell) is None


def test_explicit_config_wins_and_is_validated():
    env = _srun_env(3)
    s = distributed.resolve(_cfg(coordinator="10.0.0.1:1234", num_processes=2, process_id=1), env)
    assert (s["coordinator"], s["num_processes"], s["process_id"]) == ("10.0.0.1:1234", 2, 1)
    with pytest.raises(ValueError, match="distributed.process_id"):
        distributed.resolve(_cfg(coordinator="h:1", num_processes=2, process_id=2), {})
    with pytest.raises(ValueError, match="HOST:PORT"):
        distributed.resolve(_cfg(coordinator="h", num_processes=2, process_id=0), {})


def test_lumos_environment_variables():
    env = {
        "LUMOS_COORDINATOR": "127.0.0.1:5555",
        "LUMOS_NUM_PROCESSES": "2",
        "LUMOS_PROCESS_ID": "1",
    }
    s = distributed.resolve(_cfg(), env)
    assert (s["coordinator"], s["num_processes"], s["process_id"]) == ("127.0.0.1:5555", 2, 1)
    with pytest.raises(ValueError, match="LUMOS_PROCESS_ID"):
        distributed.resolve(_cfg(), {"LUMOS_COORDINATOR": "h:1", "LUMOS_NUM_PROCESSES": "2"})


def test_tpu_pod_uses_jax_cluster_detection():
    assert distributed.resolve(_cfg(), {"LUMOS_DISTRIBUTED": "auto"})["auto"]
    assert distributed.resolve(_cfg(), {"TPU_WORKER_HOSTNAMES": "w0,w1,w2,w3"})["auto"]
    assert distributed.resolve(_cfg(), {"TPU_WORKER_HOSTNAMES": "w0"}) is None


def test_initialize_passes_final_values_to_jax(monkeypatch):
    """jax's own SLURM detection must not override local_device_ids (it would pick
    [SLURM_LOCALID] and hide 7 of the node's 8 GPUs); CPU collectives use gloo."""
    calls, updates = [], []
    monkeypatch.setattr(distributed.jax.distributed, "initialize", lambda **kw: calls.append(kw))
    monkeypatch.setattr(distributed.jax.config, "update", lambda k, v: updates.append((k, v)))
    distributed.initialize(_cfg(timeout_s=20), _srun_env(2))
    (kw,) = calls
    assert kw["cluster_detection_method"] == "deactivate"
    assert kw["local_device_ids"] is None and kw["process_id"] == 2
    assert kw["initialization_timeout"] >= 20
    assert ("jax_cpu_collectives_implementation", "gloo") in updates
