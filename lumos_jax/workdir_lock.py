# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""One trainer per workdir: a lock the chief process holds while it writes there.

  lock = acquire(workdir)   # WorkdirInUseError naming the holder's host and pid
  ...
  lock.release()            # or the process dies: the kernel drops the lock

The lock is `fcntl.flock` on WORKDIR/.lock, kept open for the run. The file holds the
holder's host, pid and start time (JSON) for the message a second trainer gets. Only
the chief process of a job takes it: the other processes of that job share the workdir
by design (they read it; only the chief writes), so they never ask.

Stale locks: a flock belongs to the open file, so a dead holder (SIGKILL, OOM, a crashed
host's NFS lease expiring) holds nothing; the .lock file it leaves is only text, and the
next trainer simply locks it and overwrites the text. No takeover logic is needed.

Several hosts on one shared workdir: Linux emulates flock on NFS with POSIX byte-range
locks, which the server arbitrates across clients. Where flock is refused (ENOLCK,
EOPNOTSUPP, ENOSYS: some network or FUSE filesystems) the fallback is WORKDIR/.lock.excl
created with O_EXCL and removed on release. A leftover one from a dead process is taken
over only when its holder ran on this host and its pid is gone (renamed aside, then
created anew); a holder on another host cannot be checked from here, so the message
says to remove the file once that process is gone. (Two processes taking over the same
stale file at the same instant could both win; the fallback accepts that narrow race.)
The two kinds of lock are not mixed: one filesystem gives every host the same answer.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time

LOCK_NAME = ".lock"
EXCL_NAME = ".lock.excl"
_NO_FLOCK = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


class WorkdirInUseError(OSError):
    """Another trainer holds the workdir (reported as one line, exit code 1)."""


class WorkdirLock:
    """A held lock; `release()` (idempotent) or the process's death frees it."""

    def __init__(self, path: str, fd: int, exclusive_file: bool):
        self.path, self._fd, self._exclusive_file = path, fd, exclusive_file

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if self._exclusive_file:
            os.close(fd)
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _holder_info() -> bytes:
    return (
        json.dumps(
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
        ).encode()
        + b"\n"
    )


def _read_holder(path: str, wait_s: float = 1.0) -> dict | None:
    """The holder's {host, pid, since}; None if it is not written (yet) or unreadable.
    A holder writes right after it locks, so an empty file is retried briefly."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with open(path, encoding="utf-8") as f:
                info = json.loads(f.read())
            if isinstance(info, dict) and "pid" in info:
                return info
        except (OSError, ValueError):
            pass
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def _in_use(workdir: str, holder: dict | None, extra: str = "") -> WorkdirInUseError:
    if holder is None:
        who = "another process (its host and pid are not recorded)"
    else:
        who = f"pid {holder.get('pid')} on host {holder.get('host')}"
        if holder.get("since"):
            who += f" (since {holder['since']})"
    return WorkdirInUseError(
        f"workdir {workdir} is in use by {who}; stop it or use another --workdir{extra}"
    )


def acquire(workdir: str) -> WorkdirLock:
    """Locks `workdir` (created if missing) for this process, or raises
    WorkdirInUseError. On refusal nothing in the workdir is changed."""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise _in_use(workdir, _read_holder(path)) from None
    except OSError as e:
        os.close(fd)
        if e.errno in _NO_FLOCK:
            return _acquire_exclusive_file(workdir)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, _holder_info(), 0)
    return WorkdirLock(path, fd, exclusive_file=False)


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True  # someone else's live process, or a pid we cannot judge
    return True


def _acquire_exclusive_file(workdir: str) -> WorkdirLock:
    """The fallback where flock is unsupported: see the module docstring."""
    path = os.path.join(workdir, EXCL_NAME)
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _read_holder(path)
            if (
                holder is not None
                and holder.get("host") == socket.gethostname()
                and not _pid_alive(holder.get("pid"))
            ):
                aside = f"{path}.stale.{os.getpid()}"
                try:
                    os.rename(path, aside)  # atomic: one taker moves it
                    os.remove(aside)
                except FileNotFoundError:
                    pass
                continue
            raise _in_use(workdir, holder, f" (if that process is gone, remove {path})") from None
        os.write(fd, _holder_info())
        return WorkdirLock(path, fd, exclusive_file=True)
    raise _in_use(workdir, _read_holder(path), f" (if that process is gone, remove {path})")
