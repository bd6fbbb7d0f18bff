# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Metric writers, with and without TensorFlow under clu."""

import errno
import json
import os
import subprocess
import sys

import pytest

from lumos_jax import metrics_io

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs in a fresh interpreter where `import tensorflow` fails, as on GPU images without TF.
_NO_TF = r"""
import importlib.abc, json, logging, sys
logging.basicConfig(level=logging.INFO)

class _NoTF(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("No module named 'tensorflow' (blocked by the test)")
        return None

sys.meta_path.insert(0, _NoTF())
from lumos_jax import metrics_io
import lumos_jax.train  # the trainer imports without TensorFlow
import lumos_jax.tokenizer.train  # so does the tokenizer trainer (same metrics_io writer)
assert metrics_io.CLU_IMPORT_ERROR is not None, "clu imported: TensorFlow was not blocked"
w = metrics_io.create_writer(sys.argv[1], is_chief=True)
w.write_scalars(3, {"loss": 1.5, "lr": 0.25})
w.write_hparams({"a": 1})
w.flush()
w.close()
metrics_io.create_writer(sys.argv[1], is_chief=False).write_scalars(3, {"loss": 1.5})
metrics_io.progress_reporter(10, None)(3)
print("OK")
"""


def test_writers_without_tensorflow(tmp_path):
    r = subprocess.run(
        [sys.executable, "-c", _NO_TF, str(tmp_path)],
        cwd=_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0 and r.stdout.strip().endswith("OK"), r.stderr[-3000:]
    assert "clu's metric writers need TensorFlow" in r.stderr
    assert "pip install 'lumos_jax[tensorboard]'" in r.stderr  # names the extra
    rows = metrics_io.read_jsonl(str(tmp_path / "metrics.jsonl"))
    # The chief's row, values intact; the non-chief writer wrote none.
    assert [(r["step"], r.get("loss"), r.get("lr")) for r in rows] == [(3, 1.5, 0.25)]
    assert "[3] loss=1.5, lr=0.25" in r.stderr  # the logging writer's line


def test_jsonl_writer_with_clu(tmp_path):
    w = metrics_io.JsonlWriter(str(tmp_path / "m.jsonl"))
    w.write_scalars(1, {"a": 2})
    w.close()
    (row,) = metrics_io.read_jsonl(str(tmp_path / "m.jsonl"))
    assert row["step"] == 1 and row["a"] == 2.0 and "time" in row
    json.dumps(row)


def test_rows_are_whole_lines_and_a_cut_last_line_is_skipped(tmp_path):
    path = str(tmp_path / "m.jsonl")
    w = metrics_io.JsonlWriter(path)
    w.write_scalars(1, {"loss": 2.0})
    w.write_scalars(2, {"loss": 1.0})
    w.flush()
    w.close()
    with open(path, "ab") as f:  # what a kill mid-write under an older version left
        f.write(b'{"step": 3, "lo')
    assert [r["step"] for r in metrics_io.read_jsonl(path)] == [1, 2]


def test_drop_rows_after_keeps_one_row_per_step(tmp_path):
    """A resume from checkpoint step 4: the rows of steps 5, 6 (run again) and a cut row
    go; rows up to 4 stay byte for byte, in order."""
    path = tmp_path / "m.jsonl"
    lines = [json.dumps({"step": s, "loss": 10.0 - s}) for s in range(1, 7)]
    lines.insert(4, json.dumps({"step": 4, "eval_loss": 3.5}))
    path.write_text("\n".join(lines) + "\n" + '{"step": 7, "lo')
    assert metrics_io.drop_rows_after(str(path), 4) == 3
    assert path.read_text() == "\n".join(lines[:5]) + "\n"
    assert metrics_io.drop_rows_after(str(path), 4) == 0  # nothing left to drop
    assert metrics_io.drop_rows_after(str(tmp_path / "none.jsonl"), 4) == 0
    metrics_io.drop_rows_after(str(path), 0)  # a restart from scratch: nothing kept
    assert path.read_text() == ""


def test_a_glued_line_from_an_old_kill_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 1}\n{"step": 2, "lo{"step": 2}\n{"step": 3}\n')
    with pytest.raises(ValueError, match=r"m.jsonl:2: not a JSON object"):
        metrics_io.read_jsonl(str(path))
    assert metrics_io.drop_rows_after(str(path), 3) == 1
    assert [r["step"] for r in metrics_io.read_jsonl(str(path))] == [1, 3]


def test_a_full_disk_leaves_no_cut_line(tmp_path, monkeypatch):
    """A short write (the disk filled mid-line) is cut back and raised naming the file."""
    path = str(tmp_path / "m.jsonl")
    w = metrics_io.JsonlWriter(path)
    w.write_scalars(1, {"loss": 2.0})
    real_write = os.write
    monkeypatch.setattr(metrics_io.os, "write", lambda fd, data: real_write(fd, data[:5]))
    with pytest.raises(
        OSError,
        match=f"^metrics file {path}: could not append the row of step 2: No space left on device$",
    ):
        w.write_scalars(2, {"loss": 1.0})
    monkeypatch.setattr(metrics_io.os, "write", real_write)
    w.close()
    with open(path) as f:
        assert f.read().count("\n") == 1 and metrics_io.read_jsonl(path)[0]["step"] == 1


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_a_real_enospc_is_one_line_naming_the_file(tmp_path):
    """/dev/full fails every write with ENOSPC, as a full disk does."""
    path = tmp_path / "metrics.jsonl"
    path.symlink_to("/dev/full")
    w = metrics_io.JsonlWriter(str(path))
    with pytest.raises(
        OSError,
        match=f"^metrics file {path}: could not append the row of step 7: No space left on device$",
    ) as e:
        w.write_scalars(7, {"loss": 1.0})
    assert e.value.errno == errno.ENOSPC
    w.close()


def _event_steps(workdir):
    """(step, tag) of every scalar in workdir's event files, read by TensorBoard itself."""
    loader = pytest.importorskip("tensorboard.backend.event_processing.event_file_loader")
    out = []
    for name in sorted(os.listdir(workdir)):
        if name.startswith("events.out.tfevents."):
            for event in loader.EventFileLoader(os.path.join(workdir, name)).Load():
                out += [(event.step, v.tag) for v in event.summary.value]
    return out


def test_a_resume_drops_tensorboard_events_after_its_step(tmp_path):
    """The same cut as metrics.jsonl (issue 25): no step twice in TensorBoard after a
    resume, a record cut off by a kill dropped, other files untouched."""
    pytest.importorskip("tensorflow")
    if metrics_io.metric_writers is None:
        pytest.skip("clu's writers need TensorFlow")
    first = metrics_io.create_writer(str(tmp_path), is_chief=True)
    for step in range(1, 7):
        first.write_scalars(step, {"loss": float(step)})
    first.flush()
    first.close()
    (events,) = [n for n in os.listdir(tmp_path) if n.startswith("events.out.tfevents.")]
    with open(tmp_path / events, "ab") as f:
        f.write(b"\x20\x00\x00\x00\x00\x00\x00\x00\x01\x02")  # a record cut off by a kill
    assert metrics_io.drop_events_after(str(tmp_path), 4) == 3  # steps 5, 6 and the cut one
    assert metrics_io.drop_events_after(str(tmp_path), 4) == 0
    second = metrics_io.create_writer(str(tmp_path), is_chief=True)
    for step in range(5, 8):
        second.write_scalars(step, {"loss": float(step)})
    second.close()
    assert sorted(s for s, tag in _event_steps(str(tmp_path)) if tag == "loss") == list(range(1, 8))
