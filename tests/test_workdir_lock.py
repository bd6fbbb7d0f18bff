"""One trainer per workdir (lumos_jax/workdir_lock.py): a second one is refused with the
holder's host and pid, a killed holder's lock is free again, the train CLI stops with one
line before writing anything, and the O_EXCL fallback where flock is unsupported."""

import errno
import os
import signal
import socket
import subprocess
import sys

import pytest
from train_util import learnable_records

from lumos_jax import workdir_lock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOLD = (
    "import sys, time\n"
    "from lumos_jax import workdir_lock\n"
    "lock = workdir_lock.acquire(sys.argv[1])\n"
    "print('held', flush=True)\n"
    "time.sleep(600)\n"
)
TRY = (
    "import sys\n"
    "from lumos_jax import workdir_lock\n"
    "try:\n"
    "    workdir_lock.acquire(sys.argv[1]).release()\n"
    "except workdir_lock.WorkdirInUseError as e:\n"
    "    print(e); sys.exit(3)\n"
    "print('acquired')\n"
)


def _holder(workdir):
    """A process that holds the workdir's lock until killed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(workdir)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def _try(workdir):
    return subprocess.run(
        [sys.executable, "-c", TRY, str(workdir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _kill(proc):
    proc.kill()
    proc.wait(timeout=30)


def test_second_process_is_refused_with_the_holders_host_and_pid(tmp_path):
    holder = _holder(tmp_path / "w")
    try:
        r = _try(tmp_path / "w")
        assert r.returncode == 3, r.stderr
        line = r.stdout.strip()
        assert line.startswith(
            f"workdir {tmp_path / 'w'} is in use by pid {holder.pid} on "
            f"host {socket.gethostname()} (since "
        ), line
        assert line.endswith("; stop it or use another --workdir"), line
        # This process too (another open file: flock refuses it like another process).
        with pytest.raises(workdir_lock.WorkdirInUseError, match=f"pid {holder.pid}"):
            workdir_lock.acquire(str(tmp_path / "w"))
    finally:
        _kill(holder)


def test_a_killed_holders_lock_is_taken_over(tmp_path):
    holder = _holder(tmp_path / "w")
    assert _try(tmp_path / "w").returncode == 3
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    r = _try(tmp_path / "w")  # the stale .lock file is left; its flock died with it
    assert r.returncode == 0 and r.stdout.strip() == "acquired", (r.stdout, r.stderr)
    # Released on return: acquired again in this process, then free for the next one.
    with workdir_lock.acquire(str(tmp_path / "w")):
        assert _try(tmp_path / "w").returncode == 3
    assert _try(tmp_path / "w").returncode == 0


def test_train_cli_on_a_held_workdir_is_one_line_and_writes_nothing(tmp_path):
    data = learnable_records(str(tmp_path / "records"))
    work = tmp_path / "w"
    holder = _holder(work)
    try:
        (work / "metrics.jsonl").write_text('{"step": 1}\n')  # the first trainer's files

        def snapshot():
            return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in work.rglob("*")}

        before = snapshot()
        env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "lumos_jax.train",
                "--config=configs/t2v.py:tiny",
                f"--workdir={work}",
                "--config.eval_sources=",
                f"--config.data.streams.video.sources=array_record:{data}/video-train-*",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert r.returncode == 1, r.stderr[-3000:]
        since = workdir_lock._read_holder(str(work / ".lock"))["since"]
        assert r.stderr.strip().splitlines() == [
            f"lumos_jax.train: error: workdir {work} is in use by pid {holder.pid} on host "
            f"{socket.gethostname()} (since {since}); stop it or use another --workdir "
            "(--verbosity=1 shows the traceback)"
        ]
        assert snapshot() == before
    finally:
        _kill(holder)


def test_fallback_without_flock_takes_over_only_a_dead_local_holder(tmp_path, monkeypatch):
    def no_flock(*_):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(workdir_lock.fcntl, "flock", no_flock)
    work = str(tmp_path / "w")
    excl = os.path.join(work, workdir_lock.EXCL_NAME)
    lock = workdir_lock.acquire(work)
    assert os.path.exists(excl)
    with pytest.raises(workdir_lock.WorkdirInUseError, match=f"pid {os.getpid()} .*remove"):
        workdir_lock.acquire(work)
    lock.release()
    assert not os.path.exists(excl)
    # A dead process's file on this host is taken over; a live one elsewhere is not.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with open(excl, "w") as f:
        f.write(f'{{"host": "{socket.gethostname()}", "pid": {dead}, "since": "x"}}')
    workdir_lock.acquire(work).release()
    with open(excl, "w") as f:
        f.write('{"host": "other-host", "pid": 1, "since": "12:00:01"}')
    with pytest.raises(
        workdir_lock.WorkdirInUseError,
        match="in use by pid 1 on host other-host .since 12:00:01.; stop it",
    ):
        workdir_lock.acquire(work)
