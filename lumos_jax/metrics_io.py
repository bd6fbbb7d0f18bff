# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Metric writers: clu's default (TensorBoard + logging) plus a JSON-lines file."""
from __future__ import annotations

import json
import logging as py_logging
import os
import time

import numpy as np
from clu import metric_writers


class JsonlWriter(metric_writers.MetricWriter):
    """Appends one JSON object per write_scalars call to `path` (plots and tests read it)."""

    def __init__(self, path: str):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._f = open(path, "a", buffering=1)

    def write_scalars(self, step, scalars):
        row = {"step": int(step), "time": time.time()}
        row.update({k: float(np.asarray(v)) for k, v in scalars.items()})
        self._f.write(json.dumps(row) + "\n")

    def write_summaries(self, step, values, metadata=None):
        pass

    def write_images(self, step, images):
        pass

    def write_videos(self, step, videos):
        pass

    def write_audios(self, step, audios, *, sample_rate):
        pass

    def write_texts(self, step, texts):
        pass

    def write_histograms(self, step, arrays, num_buckets=None):
        pass

    def write_hparams(self, hparams):
        pass

    def flush(self):
        self._f.flush()

    def close(self):
        self._f.close()


def create_writer(workdir: str, is_chief: bool) -> metric_writers.MetricWriter:
    """TensorBoard events + logging + `metrics.jsonl` on the chief; logging elsewhere."""
    if not is_chief:
        return metric_writers.create_default_writer(None, just_logging=True)
    default = metric_writers.create_default_writer(workdir, asynchronous=False)
    return metric_writers.MultiWriter([default, JsonlWriter(os.path.join(workdir,
                                                                         "metrics.jsonl"))])


def read_jsonl(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class _BelowWarningFrom(py_logging.Filter):
    def __init__(self, prefixes):
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record):
        path = record.pathname.replace(os.sep, "/")
        return record.levelno >= py_logging.WARNING or not any(p in path for p in self.prefixes)


def quiet_libraries(prefixes=("/orbax/", "/grain/", "/clu/")) -> None:
    """Keep the libraries' per-save INFO chatter out of the training log."""
    from absl import logging as absl_logging
    absl_logging.get_absl_handler().addFilter(_BelowWarningFrom(prefixes))
