# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Metric writers, with and without TensorFlow under clu."""
import json
import os
import subprocess
import sys

from lumos_jax import metrics_io

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs in a fresh interpreter where `import tensorflow` fails, as on GPU images without TF.
_NO_TF = r'''
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
import lumos_jax.tokenizer.train
assert metrics_io.CLU_IMPORT_ERROR is not None, "clu imported: TensorFlow was not blocked"
w = metrics_io.create_writer(sys.argv[1], is_chief=True)
w.write_scalars(3, {"loss": 1.5, "lr": 0.25})
w.write_hparams({"a": 1})
w.flush()
w.close()
metrics_io.create_writer(sys.argv[1], is_chief=False).write_scalars(3, {"loss": 1.5})
metrics_io.progress_reporter(10, None)(3)
tok = lumos_jax.tokenizer.train.MetricWriter(sys.argv[1])
tok.write_scalars(4, {"x": 2.0})
tok.close()
print("OK")
'''


def test_writers_without_tensorflow(tmp_path):
  r = subprocess.run([sys.executable, "-c", _NO_TF, str(tmp_path)], cwd=_ROOT,
                     capture_output=True, text=True, timeout=300)
  assert r.returncode == 0 and r.stdout.strip().endswith("OK"), r.stderr[-3000:]
  assert "clu's metric writers need TensorFlow" in r.stderr
  rows = metrics_io.read_jsonl(str(tmp_path / "metrics.jsonl"))
  # The trainer's row (step 3) and the tokenizer trainer's (step 4), values intact.
  assert [(r["step"], r.get("loss"), r.get("lr"), r.get("x")) for r in rows] == [
      (3, 1.5, 0.25, None), (4, None, None, 2.0)]
  assert "[3] loss=1.5, lr=0.25" in r.stderr  # the logging writer's line


def test_jsonl_writer_with_clu(tmp_path):
  w = metrics_io.JsonlWriter(str(tmp_path / "m.jsonl"))
  w.write_scalars(1, {"a": 2})
  w.close()
  (row,) = metrics_io.read_jsonl(str(tmp_path / "m.jsonl"))
  assert row["step"] == 1 and row["a"] == 2.0 and "time" in row
  json.dumps(row)
