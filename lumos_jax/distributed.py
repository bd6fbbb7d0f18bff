# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Multi-process initialisation from explicit config, the environment, SLURM or a TPU pod.

Order: explicit `config.distributed` (coordinator, num_processes, process_id) ->
LUMOS_COORDINATOR / LUMOS_NUM_PROCESSES / LUMOS_PROCESS_ID -> SLURM variables (one
process per node sees all its GPUs; one per task sees GPU SLURM_LOCALID) ->
LUMOS_DISTRIBUTED=auto or a multi-worker TPU_WORKER_HOSTNAMES (jax asks the TPU VM
metadata server) -> single process.

A process that cannot reach its coordinator, or whose peers never arrive, exits with
code EXIT_NO_COORDINATOR after `timeout_s` and a message naming the address: jax itself
would either abort with a bare DEADLINE_EXCEEDED or, on some paths, wait much longer.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
import time

import jax
from absl import logging

DEFAULT_PORT = 12355  # SLURM: plus job id % 1000, so two jobs sharing a node differ
EXIT_NO_COORDINATOR = 75  # EX_TEMPFAIL: a launcher may retry
_JAX_GRACE_S = 30  # jax's own deadline is later, so our message wins the race


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


def slurm_settings(env=os.environ) -> dict | None:
    """Coordinator (first node of the step), process count and id from an srun step.

    Only inside `srun` (SLURM_STEP_NODELIST set, as jax's own detection requires): a
    python started by the batch script or an salloc shell is one process, not task 0
    of an allocation whose other tasks would never come.
    """
    if "SLURM_JOB_ID" not in env or "SLURM_PROCID" not in env:
        return None
    nodes = expand_nodelist(env.get("SLURM_STEP_NODELIST", ""))
    ntasks = env.get("SLURM_STEP_NUM_TASKS") or env.get("SLURM_NTASKS")
    if not nodes or not ntasks:
        return None
    ntasks = int(ntasks)
    if "LUMOS_COORDINATOR_PORT" in env:
        port = int(env["LUMOS_COORDINATOR_PORT"])
    else:
        port = DEFAULT_PORT + int(re.sub(r"\D", "", env["SLURM_JOB_ID"]) or 0) % 1000
    # Several tasks per node means one task per GPU: pin it to its local GPU, as jax's
    # own SLURM detection does; one task per node must see all of the node's GPUs.
    local = None
    if ntasks > len(nodes) and "SLURM_LOCALID" in env:
        local = [int(env["SLURM_LOCALID"])]
    return dict(
        coordinator=f"{nodes[0]}:{port}",
        num_processes=ntasks,
        process_id=int(env["SLURM_PROCID"]),
        local_device_ids=local,
        source="slurm",
    )


def resolve(cfg, env=os.environ) -> dict | None:
    """What `initialize` will do: explicit settings, {'auto': True}, or None (one process)."""
    if cfg.coordinator:
        if cfg.num_processes < 1 or not 0 <= cfg.process_id < cfg.num_processes:
            raise ValueError(
                f"config distributed.coordinator={cfg.coordinator!r} needs "
                f"distributed.num_processes >= 1 and 0 <= distributed.process_id < "
                f"num_processes; got num_processes={cfg.num_processes}, "
                f"process_id={cfg.process_id}"
            )
        settings = dict(
            coordinator=cfg.coordinator,
            num_processes=int(cfg.num_processes),
            process_id=int(cfg.process_id),
            local_device_ids=None,
            source="config.distributed",
        )
    elif env.get("LUMOS_COORDINATOR"):
        missing = [k for k in ("LUMOS_NUM_PROCESSES", "LUMOS_PROCESS_ID") if k not in env]
        if missing:
            raise ValueError(
                f"LUMOS_COORDINATOR={env['LUMOS_COORDINATOR']} is set but "
                f"{' and '.join(missing)} not: set all three"
            )
        settings = dict(
            coordinator=env["LUMOS_COORDINATOR"],
            num_processes=int(env["LUMOS_NUM_PROCESSES"]),
            process_id=int(env["LUMOS_PROCESS_ID"]),
            local_device_ids=None,
            source="LUMOS_* environment",
        )
    elif (slurm := slurm_settings(env)) is not None:
        settings = slurm
    elif (
        env.get("LUMOS_DISTRIBUTED") == "auto"
        or env.get("TPU_WORKER_HOSTNAMES", "").count(",") >= 1
    ):
        return dict(auto=True, source="jax cluster detection (TPU pod)")
    else:
        return None
    if ":" not in settings["coordinator"]:
        raise ValueError(
            f"coordinator {settings['coordinator']!r} (from {settings['source']})"
            " needs a port: HOST:PORT"
        )
    if settings["num_processes"] == 1:
        return None  # nothing to coordinate; skip binding a port
    return settings


def initialize(cfg, env=os.environ) -> None:
    """Initialise jax.distributed when the config or the environment asks for it.

    Must run before anything creates a jax backend (jax.devices(), a jit call, ...).
    """
    settings = resolve(cfg, env)
    if settings is None:
        return
    _use_cpu_collectives(env)
    timeout_s = int(cfg.timeout_s)
    if settings.get("auto"):
        logging.info("distributed: %s, timeout %d s", settings["source"], timeout_s)
        with _Watchdog(timeout_s, "the coordinator found by jax's cluster detection", None):
            jax.distributed.initialize(initialization_timeout=timeout_s + _JAX_GRACE_S)
        logging.info("distributed: process %d of %d", jax.process_index(), jax.process_count())
        return
    logging.info(
        "distributed: process %d of %d, coordinator %s (from %s), timeout %d s",
        settings["process_id"],
        settings["num_processes"],
        settings["coordinator"],
        settings["source"],
        timeout_s,
    )
    what = (
        f"process {settings['process_id']} of {settings['num_processes']} could not "
        f"join the coordinator at {settings['coordinator']}"
    )
    with _Watchdog(timeout_s, what, settings["coordinator"]):
        # 'deactivate': the values above are final. Otherwise jax's SLURM detection would
        # fill local_device_ids=[SLURM_LOCALID] and hide 7 of a node's 8 GPUs.
        jax.distributed.initialize(
            coordinator_address=settings["coordinator"],
            num_processes=settings["num_processes"],
            process_id=settings["process_id"],
            local_device_ids=settings["local_device_ids"],
            cluster_detection_method="deactivate",
            initialization_timeout=timeout_s + _JAX_GRACE_S,
        )


def _use_cpu_collectives(env) -> None:
    """Cross-process collectives on CPU need gloo (jax 0.10 defaults to it; older releases
    and an explicit 'none' do not). An explicit JAX_CPU_COLLECTIVES_IMPLEMENTATION wins."""
    if "JAX_CPU_COLLECTIVES_IMPLEMENTATION" not in env:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")


def port_open(address: str, timeout_s: float = 1.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


class _Watchdog:
    """Ends the process with a clear message if the block does not finish in time.

    jax releases the GIL while connecting, so this timer thread runs; os._exit because
    the main thread is stuck inside C++ and atexit hooks would wait on the same client.
    """

    def __init__(self, timeout_s: int, what: str, address: str | None):
        self.timeout_s, self.what, self.address = timeout_s, what, address
        self.timer = threading.Timer(timeout_s, self._fire)
        self.timer.daemon = True

    def __enter__(self):
        self.start = time.monotonic()
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()

    def _fire(self):
        hint = ""
        if self.address is not None:
            hint = (
                " (the coordinator port accepts connections: some other process never joined)"
                if port_open(self.address)
                else " (nothing listens there: is process 0 running, and the host:port right?)"
            )
        msg = (
            f"lumos_jax.distributed: {self.what} within {self.timeout_s} s "
            f"(waited {time.monotonic() - self.start:.1f} s; config "
            f"distributed.timeout_s){hint}"
        )
        logging.error(msg)
        print(msg, file=sys.stderr, flush=True)
        os._exit(EXIT_NO_COORDINATOR)
