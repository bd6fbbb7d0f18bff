"""Training survives kills, damaged checkpoints, I/O errors and SIGTERM (issue 16):
each logged step keeps exactly one metrics row, a bad step falls back to the previous
one, errors are one line naming the path."""
import os
import subprocess
import sys

import pytest

from lumos_jax import train
from train_util import checkpoint_steps, learnable_records, small_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.dirname(os.path.abspath(__file__))

# Trains small_config and SIGKILLs itself right after checkpoint step 4 is complete on
# disk: the moment where the row of step 4 used to be still pending (written one step
# late), so it was lost.
KILL_AFTER_SAVE = r'''
import os, signal, sys
sys.path.insert(0, sys.argv[3])
from lumos_jax import checkpoint, train
from train_util import small_config
save = checkpoint.Checkpointer.save
def save_then_die(self, step, *args, **kwargs):
    saved = save(self, step, *args, **kwargs)
    if step == 4:
        self.wait()
        os.kill(os.getpid(), signal.SIGKILL)
    return saved
checkpoint.Checkpointer.save = save_then_die
train.run(small_config(sys.argv[1], steps=8, checkpoint_every=4), sys.argv[2])
'''


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return learnable_records(str(tmp_path_factory.mktemp("records")))


def loss_row_steps(workdir):
    from lumos_jax.metrics_io import read_jsonl
    return [r["step"] for r in read_jsonl(os.path.join(workdir, "metrics.jsonl"))
            if "loss" in r]


def test_sigkill_right_after_a_save_loses_no_row_and_doubles_none(data_dir, tmp_path):
    work = str(tmp_path / "w")
    r = subprocess.run([sys.executable, "-c", KILL_AFTER_SAVE, data_dir, work, TESTS],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == -9, r.stderr[-3000:]
    assert checkpoint_steps(work) == [4]
    assert loss_row_steps(work) == [1, 2, 3, 4]  # step 4's row came before its save
    assert train.run(small_config(data_dir, steps=8, checkpoint_every=4), work) == 8
    assert loss_row_steps(work) == list(range(1, 9))


def test_rows_after_the_restored_step_are_not_written_twice(data_dir, tmp_path):
    """Killed at step 7 (rows 1-5 written, checkpoint 4):
    the resume drops row 5 and writes each step once."""
    work = str(tmp_path / "w")
    train.run(small_config(data_dir, steps=8, checkpoint_every=4), work, crash_after=7)
    assert checkpoint_steps(work) == [4] and loss_row_steps(work) == [1, 2, 3, 4, 5]
    train.run(small_config(data_dir, steps=8, checkpoint_every=4), work)
    assert loss_row_steps(work) == list(range(1, 9))
