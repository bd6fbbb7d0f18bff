# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Multi-process initialisation from explicit config, SLURM or a TPU pod environment.

Order: explicit `config.distributed` (coordinator, num_processes, process_id) -> SLURM
variables (one process per node or per task) -> Cloud TPU metadata (jax's own
detection) -> single process. A process that cannot reach its coordinator fails after
`timeout_s` with a message naming the address, instead of hanging.
"""
from __future__ import annotations

import os
import re

import jax
from absl import logging

DEFAULT_PORT = 12355


def slurm_settings(env=os.environ) -> dict | None:
    """Coordinator (first node of the allocation), process count and id from SLURM."""
    if "SLURM_JOB_ID" not in env or "SLURM_PROCID" not in env:
        return None
    nodes = expand_nodelist(env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST", ""))
    if not nodes:
        return None
    port = int(env.get("LUMOS_COORDINATOR_PORT", DEFAULT_PORT))
    return dict(coordinator=f"{nodes[0]}:{port}", num_processes=int(env["SLURM_NTASKS"]),
                process_id=int(env["SLURM_PROCID"]))


def expand_nodelist(nodelist: str) -> list[str]:
    """'gpu[001-003,007],cpu5' -> ['gpu001', 'gpu002', 'gpu003', 'gpu007', 'cpu5']."""
    out = []
    for part in re.findall(r"[^,\[]+(?:\[[^\]]*\])?", nodelist):
        m = re.fullmatch(r"(.*)\[(.*)\]", part)
        if not m:
            out.append(part)
            continue
        prefix, ranges = m.groups()
        for r in ranges.split(","):
            lo, _, hi = r.partition("-")
            if not hi:
                out.append(prefix + lo)
                continue
            width = len(lo)
            out += [f"{prefix}{i:0{width}d}" for i in range(int(lo), int(hi) + 1)]
    return out


def initialize(cfg) -> None:
    """Initialise jax.distributed when the config or the environment asks for it."""
    settings = None
    if cfg.coordinator:
        settings = dict(coordinator=cfg.coordinator, num_processes=cfg.num_processes,
                        process_id=cfg.process_id)
    elif os.environ.get("LUMOS_COORDINATOR"):
        settings = dict(coordinator=os.environ["LUMOS_COORDINATOR"],
                        num_processes=int(os.environ["LUMOS_NUM_PROCESSES"]),
                        process_id=int(os.environ["LUMOS_PROCESS_ID"]))
    elif (slurm := slurm_settings()) is not None and int(os.environ.get("SLURM_NTASKS", 1)) > 1:
        settings = slurm
    elif os.environ.get("TPU_WORKER_HOSTNAMES", "").count(",") >= 1:
        logging.info("distributed: TPU pod detected; jax finds the coordinator itself")
        jax.distributed.initialize(initialization_timeout=int(cfg.timeout_s))
        return
    if settings is None:
        return
    logging.info("distributed: process %d of %d, coordinator %s", settings["process_id"],
                 settings["num_processes"], settings["coordinator"])
    try:
        jax.distributed.initialize(coordinator_address=settings["coordinator"],
                                   num_processes=settings["num_processes"],
                                   process_id=settings["process_id"],
                                   initialization_timeout=int(cfg.timeout_s))
    except Exception as e:  # jax raises XlaRuntimeError/DEADLINE_EXCEEDED; name the address
        raise RuntimeError(
            f"process {settings['process_id']} could not join the coordinator at "
            f"{settings['coordinator']} within {cfg.timeout_s} s "
            f"(config distributed.timeout_s): {e}") from e
