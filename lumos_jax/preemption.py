# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""SIGTERM (or SIGINT, Ctrl+C) at any point of a training run: a clean exit with one message.

  stop = StopSignal(); stop.install()
  stop.stage = "compiling the train step"   # named in the message
  ... Stopped is raised here on SIGTERM (nothing of this run to save yet) ...
  stop.start_training()                     # from now on SIGTERM only sets stop.requested
  ... the loop saves the step in flight and exits ...
  stop.uninstall()

Before the first step (config and data checks, building the built-in data, restoring,
compiling) no step of this invocation has run: there is nothing to save, and the
handler raises Stopped so the main thread unwinds (closing the data iterator, releasing
the workdir lock). Python runs a handler only between bytecodes, though, and a compile
or a restore holds the main thread in C++ for minutes, longer than a preemption notice
lasts: the C-level handler also wakes a watcher thread (signal.set_wakeup_fd), which
ends the process itself with exit code 0, after the same message, when the main thread
has not finished stopping within `grace_s`. From the first step on, the handler only
sets `requested`: the loop finishes the step in flight, saves it and exits 0.

SIGINT is the same request as SIGTERM. In a job of several processes jax's preemption
notifier owns SIGTERM once jax.distributed is initialised (its C handler replaces this
one): a notice reaching one process makes every process stop at the same step
(Checkpointer.reached_preemption), so `jax_owns_sigterm()` makes SIGINT a SIGTERM to this
process for jax to handle.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

_log = logging.getLogger("lumos_jax.preemption")
GRACE_S = 5.0  # how long the main thread may take to notice before the watcher exits


class Stopped(BaseException):
    """SIGTERM before the first step: `step` is the checkpoint step the run stands at.
    A BaseException (as KeyboardInterrupt): `except Exception` blocks let it through."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


class StopSignal:
    def __init__(self, grace_s: float = GRACE_S):
        self.grace_s = grace_s
        self.stage = "starting"  # what start-up is doing, for the message
        self.step = 0  # the step a restored checkpoint stands at
        self.requested = False
        self.signal_name = "SIGTERM"  # the last stop signal received
        self._forward_sigint = False
        self._training = False
        self._stopped = threading.Event()  # the main thread handled it (or uninstalled)
        self._previous = None
        self._pipe = None
        self._previous_fd = -1

    def message(self) -> str:
        return (
            f"{self.signal_name} during start-up ({self.stage}): no step of this run had "
            f"started, nothing to save; exiting"
        )

    def install(self) -> None:
        """In the main thread (where Python's signal handlers live)."""
        self._previous = signal.signal(signal.SIGTERM, self._handle)
        self._previous_int = signal.signal(signal.SIGINT, self._handle)
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        self._previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        self._pipe = (read_fd, write_fd)
        threading.Thread(
            target=self._watch, args=(read_fd,), name="sigterm-watcher", daemon=True
        ).start()

    def jax_owns_sigterm(self) -> None:
        """jax.distributed is initialised with several processes (module docstring)."""
        self._forward_sigint = True

    def start_training(self) -> None:
        self._training = True

    def uninstall(self) -> None:
        self._stopped.set()
        if self._pipe is None:
            return
        signal.set_wakeup_fd(self._previous_fd)
        signal.signal(signal.SIGTERM, self._previous)
        signal.signal(signal.SIGINT, self._previous_int)
        write_fd = self._pipe[1]
        self._pipe = None
        os.close(write_fd)  # the watcher's read sees end-of-file, closes its end, returns

    def handled(self) -> None:
        """The main thread caught Stopped: the watcher must not end the process."""
        self._stopped.set()

    def _handle(self, signum, frame):
        if signum == signal.SIGINT and self._forward_sigint:
            os.kill(os.getpid(), signal.SIGTERM)  # to jax's notifier: the job stops together
            return
        self.signal_name = signal.Signals(signum).name
        self.requested = True
        if not self._training:
            raise Stopped(self.message(), self.step)

    def _watch(self, read_fd: int) -> None:
        try:
            while True:
                data = os.read(read_fd, 64)
                if not data:
                    return
                if (
                    (signal.SIGTERM in data or signal.SIGINT in data)
                    and not self._forward_sigint
                    and not self._training
                    and not self._stopped.wait(self.grace_s)
                    and not self._training
                ):
                    # The main thread is still inside a long C++ call (a compile).
                    _log.warning(
                        "%s (stopped while the main thread was busy for %.0f s)",
                        self.message(),
                        self.grace_s,
                    )
                    sys.stderr.flush()
                    os._exit(0)
        finally:
            os.close(read_fd)
