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

Faults after joining (issue 25; bounds in the README's recovery section):
- jax's coordination service declares a process dead once it sent no heartbeat for
  `distributed.heartbeat_timeout_s` (jax's heartbeat_timeout_seconds). By default jax then
  aborts every other process (SIGABRT, a stack trace); here the tasks are recoverable
  (jax_enable_recoverability) so nothing aborts, and a watcher thread in each process
  (client.get_live_nodes) ends the process with one line naming the lost one and exit
  code EXIT_PEER_LOST. A collective that fails first (gloo sees the closed socket) waits
  for that verdict (`await_verdict`) instead of printing a traceback.
- The coordination service runs in a small helper process beside process 0
  (`distributed.serve`), so a SIGKILLed chief is a lost peer like any other: jax
  aborts a process at once when the service itself vanishes. Only the helper's own death
  (its host lost) still ends the others that way.
- A clean exit waits for every process at a barrier (`distributed.shutdown_timeout_s`),
  then process 0 disconnects last: with recoverable tasks jax's own shutdown barrier
  no longer holds the service up while the others disconnect.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import jax
from absl import logging
from jax._src import distributed as jax_distributed  # its client: the service's KV store

DEFAULT_PORT = 12355  # SLURM: plus job id % 1000, so two jobs sharing a node differ
EXIT_NO_COORDINATOR = 75  # EX_TEMPFAIL: a launcher may retry
EXIT_PEER_LOST = 75  # the same: restarting the job resumes from its last checkpoint
_WATCH_EVERY_S = 1.0
_LEFT_WAIT_S = 10  # at a clean exit: how long process 0 waits for the others to disconnect
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
    # Recoverable tasks: a dead process is reported (get_live_nodes) instead of every
    # other process being aborted by jax; _Watch turns the report into one line.
    jax.config.update("jax_enable_recoverability", True)
    timeout_s = int(cfg.timeout_s)
    timeouts = dict(
        initialization_timeout=timeout_s + _JAX_GRACE_S,
        heartbeat_timeout_seconds=int(cfg.heartbeat_timeout_s),
        shutdown_timeout_seconds=int(cfg.shutdown_timeout_s),
    )
    if settings.get("auto"):
        logging.info("distributed: %s, timeout %d s", settings["source"], timeout_s)
        with _Watchdog(timeout_s, "the coordinator found by jax's cluster detection", None):
            jax.distributed.initialize(**timeouts)
        _after_join(cfg, "the coordinator found by jax's cluster detection")
        return
    logging.info(
        "distributed: process %d of %d, coordinator %s (from %s), timeout %d s, "
        "heartbeat timeout %d s",
        settings["process_id"],
        settings["num_processes"],
        settings["coordinator"],
        settings["source"],
        timeout_s,
        int(cfg.heartbeat_timeout_s),
    )
    what = (
        f"process {settings['process_id']} of {settings['num_processes']} could not "
        f"join the coordinator at {settings['coordinator']}"
    )
    with _Watchdog(timeout_s, what, settings["coordinator"]):
        with _service_in_helper(settings, cfg):
            # 'deactivate': the values above are final. Otherwise jax's SLURM detection
            # would fill local_device_ids=[SLURM_LOCALID] and hide 7 of a node's 8 GPUs.
            jax.distributed.initialize(
                coordinator_address=settings["coordinator"],
                num_processes=settings["num_processes"],
                process_id=settings["process_id"],
                local_device_ids=settings["local_device_ids"],
                cluster_detection_method="deactivate",
                **timeouts,
            )
    _after_join(cfg, f"the coordinator at {settings['coordinator']}")


# ------------------------------------------------------------- after joining: faults
_JOB = {}  # what the watcher, await_verdict, share and the exit need to know


def _client():
    return jax_distributed.global_state.client


def _after_join(cfg, coordinator: str) -> None:
    client = _client()
    if client is None:  # jax.distributed.initialize was replaced (unit tests)
        return
    _JOB.update(
        client=client,
        n=jax.process_count(),
        me=jax.process_index(),
        coordinator=coordinator,
        heartbeat_s=int(cfg.heartbeat_timeout_s),
        shutdown_s=int(cfg.shutdown_timeout_s),
        seq=0,
        clean=False,
        leaving=False,
    )
    logging.info("distributed: joined as process %d of %d", _JOB["me"], _JOB["n"])
    _JOB["watcher"] = threading.Thread(target=_watch, name="lumos-peer-watch", daemon=True)
    _JOB["watcher"].start()
    atexit.register(_leave)  # after jax's own exit hooks were registered: runs first


def _die(line: str) -> None:
    """One line on stderr (and the log), then the exit code a launcher may retry on.
    os._exit: the main thread may be stuck in a collective with the lost process."""
    print(f"lumos_jax.distributed: {line}", file=sys.stderr, flush=True)
    os._exit(EXIT_PEER_LOST)


def _watch() -> None:
    """Asks the coordination service which processes are alive (a call every process
    makes; it returns once every live process asked) and ends this one when a peer died."""
    job = _JOB
    everyone = list(range(job["n"]))
    while not job["leaving"]:
        try:
            live = job["client"].get_live_nodes(everyone)
        except Exception as e:  # noqa: BLE001  (the client is shutting down, or jax's error)
            if job["leaving"]:
                return
            text = " ".join(str(e).split())[:200]
            _die(f"process {job['me']} of {job['n']} lost {job['coordinator']} ({text})")
        lost = [i for i in everyone if i not in live]
        if lost and not job["leaving"]:
            who = ", ".join(map(str, lost))
            _die(
                f"process {job['me']} of {job['n']} lost process{'es' if len(lost) > 1 else ''}"
                f" {who}: no heartbeat for {job['heartbeat_s']} s (it died, hangs or is "
                f"unreachable; config distributed.heartbeat_timeout_s); exiting, restart the "
                f"job to resume from its last checkpoint"
            )
        time.sleep(_WATCH_EVERY_S)


_PEER_FAILURE = re.compile(
    r"Gloo|NCCL|UNAVAILABLE|DEADLINE_EXCEEDED|Connection (closed|reset)|Socket closed"
)


def await_verdict(error: BaseException) -> None:
    """In a job of several processes, an error that looks like a failed peer (a collective
    that saw the socket close) waits for the watcher's verdict, at most
    heartbeat_timeout_s + 10 s: the one line naming the lost process, not a traceback.
    Returns when no peer was found lost (the caller re-raises `error`)."""
    if not _JOB or not _PEER_FAILURE.search(f"{type(error).__name__} {error}"):
        return
    deadline = time.monotonic() + _JOB["heartbeat_s"] + 10
    while time.monotonic() < deadline:
        time.sleep(0.2)


def share(name: str, value: str | None, timeout_s: float | None = None) -> str:
    """Process 0's `value` for `name`, on every process (the key-value store of jax's
    coordination service). Every process calls it in the same order; value is ignored
    elsewhere than on process 0. Single-process: `value` itself."""
    if not _JOB:
        return value
    _JOB["seq"] += 1
    key = f"lumos_jax/{_JOB['seq']}/{name}"
    if _JOB["me"] == 0:
        _JOB["client"].key_value_set(key, value)
        return value
    wait_ms = int(1000 * (timeout_s or _JOB["heartbeat_s"] + 60))
    return _JOB["client"].blocking_key_value_get(key, wait_ms)


def gather(name: str, value: str, timeout_s: float | None = None) -> list[str]:
    """Every process's `value` for `name`, in process order, on every process."""
    if not _JOB:
        return [value]
    _JOB["seq"] += 1
    prefix = f"lumos_jax/{_JOB['seq']}/{name}"
    _JOB["client"].key_value_set(f"{prefix}/{_JOB['me']}", value)
    wait_ms = int(1000 * (timeout_s or _JOB["heartbeat_s"] + 60))
    return [
        _JOB["client"].blocking_key_value_get(f"{prefix}/{i}", wait_ms) for i in range(_JOB["n"])
    ]


def mark_clean_exit() -> None:
    """This process finished its work: at exit it waits for the others (shutdown_timeout_s)."""
    if _JOB:
        _JOB["clean"] = True


def _leave() -> None:
    """At exit: meet the others (a clean exit waits shutdown_timeout_s, a failed one 10 s),
    then process 0 (which talks to the service) disconnects last."""
    job = _JOB
    if not job or job["leaving"]:
        return
    job["leaving"] = True
    wait_s = job["shutdown_s"] if job["clean"] else 10
    try:
        job["client"].wait_at_barrier("lumos_jax/exit", int(1000 * wait_s))
    except Exception as e:  # noqa: BLE001
        logging.warning("distributed: not every process reached the exit: %s", str(e)[:200])
    if job["me"] == 0 and job.get("helper") is None:  # the service is in this process
        deadline = time.monotonic() + _LEFT_WAIT_S
        while time.monotonic() < deadline:
            try:
                if len(job["client"].get_live_nodes(list(range(job["n"])))) <= 1:
                    break
            except Exception:  # noqa: BLE001
                break
            time.sleep(0.2)
    try:
        jax.distributed.shutdown()
    except Exception as e:  # noqa: BLE001
        logging.warning("distributed: shutdown: %s", str(e)[:200])
    # The watcher's call returns once the client is shut down; it must be back in Python
    # before the interpreter finalises (a daemon thread re-entering then is unwound by
    # force through C++ frames, which aborts the process).
    job["watcher"].join(timeout=_LEFT_WAIT_S)
    helper = job.get("helper")
    if helper is not None:  # it serves the others for _LEFT_WAIT_S more, then exits
        try:
            helper.stdin.write(b"done\n")
            helper.stdin.close()
        except OSError:
            pass


# ------------------------------------------- the coordination service in a helper process
class _ServiceInHelper:
    """What jax keeps as process 0's service object when the helper runs it."""

    def shutdown(self):
        pass


class _service_in_helper:
    """On process 0 (explicit settings): starts the helper serving the coordinator port
    and makes jax.distributed.initialize connect to it instead of starting its own."""

    def __init__(self, settings, cfg):
        self.settings, self.cfg, self.real = settings, cfg, None

    def __enter__(self):
        if self.settings["process_id"] != 0:
            return self
        port = self.settings["coordinator"].rsplit(":", 1)[1]
        bind = os.environ.get("JAX_COORDINATOR_BIND_ADDRESS", f"[::]:{port}")
        numbers = (
            self.settings["num_processes"],
            int(self.cfg.heartbeat_timeout_s),
            int(self.cfg.shutdown_timeout_s),
        )
        argv = [
            sys.executable,
            "-c",
            f"from lumos_jax import distributed; distributed."
            f"serve({bind!r}, {', '.join(map(str, numbers))})",
        ]
        helper = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        answer = helper.stdout.readline().decode().strip()
        if answer != "ready":
            helper.wait(timeout=30)
            raise OSError(
                f"the coordination service for {self.settings['coordinator']} did not start "
                f"(binding {bind}: {answer or 'exit code ' + str(helper.returncode)})"
            )
        _JOB["helper"] = helper
        self.real = jax_distributed._jax.get_distributed_runtime_service
        jax_distributed._jax.get_distributed_runtime_service = lambda *a, **k: _ServiceInHelper()
        return self

    def __exit__(self, *exc):
        if self.real is not None:
            jax_distributed._jax.get_distributed_runtime_service = self.real


def serve(bind: str, num_processes: int, heartbeat_s: int, shutdown_s: int) -> None:
    """The helper: serves until process 0 says it is done (then _LEFT_WAIT_S more, for the
    others' disconnects) or dies (then heartbeat_s + 30 s more, so the others learn it
    from the service and exit with one line, instead of being aborted by jax)."""
    # A preemption notice or Ctrl+C for the whole process group is for the trainers.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        service = jax_distributed._jax.get_distributed_runtime_service(
            bind,
            num_processes,
            heartbeat_timeout=heartbeat_s,
            shutdown_timeout=shutdown_s,
            recoverable=True,
        )
    except Exception as e:  # noqa: BLE001
        print(" ".join(str(e).split())[:300], flush=True)
        sys.exit(1)
    print("ready", flush=True)
    done = sys.stdin.readline().strip() == "done"  # "" at end-of-file: process 0 died
    time.sleep(_LEFT_WAIT_S if done else heartbeat_s + 30)
    service.shutdown()


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
