"""Training survives kills, damaged checkpoints, I/O errors and SIGTERM (issue 16):
each logged step keeps exactly one metrics row, a bad step falls back to the previous
one, errors are one line naming the path."""

import os
import signal
import subprocess
import sys

import pytest
from train_util import checkpoint_steps, learnable_records, small_config

from lumos_jax import train_loop

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.dirname(os.path.abspath(__file__))

# Trains small_config and SIGKILLs itself right after checkpoint step 4 is complete on
# disk: the moment where the row of step 4 used to be still pending (written one step
# late), so it was lost.
KILL_AFTER_SAVE = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[3])
from lumos_jax import checkpoint, train_loop
from train_util import small_config
save = checkpoint.Checkpointer.save
def save_then_die(self, step, *args, **kwargs):
    saved = save(self, step, *args, **kwargs)
    if step == 4:
        self.wait()
        os.kill(os.getpid(), signal.SIGKILL)
    return saved
checkpoint.Checkpointer.save = save_then_die
train_loop.run(small_config(sys.argv[1], steps=8, checkpoint_every=4), sys.argv[2])
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return learnable_records(str(tmp_path_factory.mktemp("records")))


def loss_row_steps(workdir):
    from lumos_jax.metrics_io import read_jsonl

    return [r["step"] for r in read_jsonl(os.path.join(workdir, "metrics.jsonl")) if "loss" in r]


def test_sigkill_right_after_a_save_loses_no_row_and_doubles_none(data_dir, tmp_path):
    work = str(tmp_path / "w")
    r = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_SAVE, data_dir, work, TESTS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == -9, r.stderr[-3000:]
    assert checkpoint_steps(work) == [4]
    assert loss_row_steps(work) == [1, 2, 3, 4]  # step 4's row came before its save
    assert train_loop.run(small_config(data_dir, steps=8, checkpoint_every=4), work) == 8
    assert loss_row_steps(work) == list(range(1, 9))


def test_rows_after_the_restored_step_are_not_written_twice(data_dir, tmp_path):
    """Killed at step 7 (rows 1-5 written, checkpoint 4):
    the resume drops row 5 and writes each step once."""
    work = str(tmp_path / "w")
    train_loop.run(small_config(data_dir, steps=8, checkpoint_every=4), work, crash_after=7)
    assert checkpoint_steps(work) == [4] and loss_row_steps(work) == [1, 2, 3, 4, 5]
    train_loop.run(small_config(data_dir, steps=8, checkpoint_every=4), work)
    assert loss_row_steps(work) == list(range(1, 9))


def test_a_damaged_last_step_resumes_from_the_one_before(data_dir, tmp_path, caplog):
    import logging

    work = str(tmp_path / "w")
    cfg = small_config(data_dir, steps=8, checkpoint_every=4)
    train_loop.run(cfg, work)
    os.remove(os.path.join(work, "checkpoints", "8", "state", "manifest.ocdbt"))
    cfg.train.steps = 10
    with caplog.at_level(logging.WARNING):
        assert train_loop.run(cfg, work) == 10
    (line,) = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
    assert line.startswith(
        f"checkpoint step 8 in {work}/checkpoints is damaged "
        f"(state/manifest.ocdbt is missing; falling back to step 4)"
    )
    assert loss_row_steps(work) == list(range(1, 11))  # steps 5-8 ran again, once each
    assert checkpoint_steps(work) == [4, 8, 10]
    assert len([d for d in os.listdir(f"{work}/checkpoints") if ".damaged-" in d]) == 1


def test_non_finite_loss_says_the_last_checkpoint_is_intact_only_when_verified(data_dir, tmp_path):
    from lumos_jax import train_lib

    cfg = small_config(data_dir, steps=6, checkpoint_every=1)
    cfg.optim.update(lr=1e30, warmup_steps=0, clip=1e30)
    with pytest.raises(train_lib.NonFiniteError) as e:
        train_loop.run(cfg, str(tmp_path / "nan"))
    # Step 1 ran on the initial params (finite), its update made them huge.
    assert str(e.value).startswith("step 2: non-finite loss=")
    assert str(e.value).endswith("; the last checkpoint, step 1, is intact (checksums verified)")
    cfg.train.checkpoint_every = 100
    with pytest.raises(train_lib.NonFiniteError, match="; no checkpoint was saved yet$"):
        train_loop.run(cfg, str(tmp_path / "nan2"))


# The train CLI, with every file written from the save of step 8 on limited to 16 KiB
# (RLIMIT_FSIZE: the kernel fails the write with EFBIG, as a full disk fails it with
# ENOSPC): the state's files of step 8 cannot be written.
WRITE_FAILS_AT_8 = r"""
import resource, runpy, signal, sys
from lumos_jax import checkpoint
save = checkpoint.Checkpointer.save
def save_limited(self, step, *args, **kwargs):
    if step == 8:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (16384, resource.RLIM_INFINITY))
    return save(self, step, *args, **kwargs)
checkpoint.Checkpointer.save = save_limited
sys.argv = ["lumos_jax.train"] + sys.argv[1:]
runpy.run_module("lumos_jax.train", run_name="__main__", alter_sys=True)
"""


def _cli_args(data_dir, work, *extra):
    return [
        "--config=configs/t2v.py:tiny",
        f"--workdir={work}",
        "--config.model.num_layers=1",
        "--config.model.embed_dim=64",
        "--config.model.num_heads=2",
        "--config.model.num_kv_heads=2",
        "--config.model.mlp_dim=128",
        "--config.data.streams.video.seq_len=128",
        "--config.data.batch_size=8",
        "--config.vocab.visual_size=1000",  # the records' ids (train_util.VOCAB)
        "--config.eval_sources=",
        f"--config.data.streams.video.sources=array_record:{data_dir}/video-train-*",
        *extra,
    ]


def test_a_failed_checkpoint_write_is_one_line_and_earlier_steps_stay_valid(data_dir, tmp_path):
    from lumos_jax import checkpoint, parallel
    from lumos_jax.train_step import Trainer

    work = str(tmp_path / "w")
    args = _cli_args(data_dir, work, "--config.train.steps=8", "--config.train.checkpoint_every=4")
    r = subprocess.run(
        [sys.executable, "-c", WRITE_FAILS_AT_8, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 1, r.stderr[-3000:]
    console = [line for line in r.stderr.splitlines() if not line.startswith("I")]
    assert len(console) == 1, r.stderr[-5000:]
    assert console[0].startswith(
        f"lumos_jax.train: error: checkpoint step 8 could not be "
        f"written to {work}/checkpoints: File too large (writing "
        f"{work}/checkpoints/8.orbax-checkpoint-tmp"
    ), console[0]
    assert "the steps saved before it (4) stay valid" in console[0]
    ck = checkpoint.Checkpointer(f"{work}/checkpoints", async_save=False)
    assert ck.intact_status() == "the last checkpoint, step 4, is intact (checksums verified)"
    cfg = small_config(data_dir)
    cfg.model.update(num_layers=1)
    trainer = Trainer(cfg, parallel.make_mesh(dict(cfg.mesh)))
    assert ck.restore_latest(trainer.abstract_state())[0] == 4
    ck.close()


def test_sigterm_while_compiling_exits_0_with_a_message(data_dir, tmp_path):
    work = str(tmp_path / "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lumos_jax.train",
            *_cli_args(data_dir, work, "--config.train.steps=5"),
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "compiling the train step" in line:
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.communicate(timeout=300)[1]
    out = "".join(seen) + rest
    assert proc.returncode == 0, out[-3000:]
    assert (
        "SIGTERM during start-up (compiling the train step): no step of this run had "
        "started, nothing to save; exiting" in out
    ), out[-3000:]
    assert "Traceback" not in out and checkpoint_steps(work) == []


# A main thread stuck in C code (pbkdf2 never checks for signals) when SIGTERM comes:
# the watcher ends the process after the grace period, long before the call returns.
STUCK_IN_C = r"""
import hashlib, os, signal, threading, time
from lumos_jax import preemption
stop = preemption.StopSignal(grace_s=0.5)
stop.install()
stop.stage = "compiling the train step"
threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
start = time.time()
hashlib.pbkdf2_hmac("sha256", b"p", b"s", 10 ** 8)  # about 25 s here
print("returned after", time.time() - start, flush=True)
"""


def test_sigterm_while_the_main_thread_is_busy_in_c_exits_0_promptly():
    import time

    start = time.time()
    r = subprocess.run(
        [sys.executable, "-c", STUCK_IN_C], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0 and "returned after" not in r.stdout, r.stdout + r.stderr
    assert "SIGTERM during start-up (compiling the train step)" in r.stderr, r.stderr
    assert "main thread was busy" in r.stderr
    assert time.time() - start < 15


IN_PYTHON = r"""
import os, signal, threading, time
from lumos_jax import preemption
stop = preemption.StopSignal(grace_s=0.5)
stop.install()
stop.stage = "restoring the state"
threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
try:
    time.sleep(30)
except preemption.Stopped as e:
    stop.handled()
    print("stopped:", e, flush=True)
time.sleep(1.5)  # past the grace period: the watcher stood down
stop.uninstall()
print("finished", flush=True)
"""


def test_sigterm_in_python_code_unwinds_in_the_main_thread():
    r = subprocess.run(
        [sys.executable, "-c", IN_PYTHON], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "stopped: SIGTERM during start-up (restoring the state): no step of this run had "
        "started, nothing to save; exiting",
        "finished",
    ], r.stdout + r.stderr
