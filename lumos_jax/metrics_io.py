# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Metric writers: clu's default (TensorBoard + logging) plus a JSON-lines file.

clu's `metric_writers` package imports TensorFlow when it is imported (for its TensorBoard
writer). Where TensorFlow is missing (GPU images often ship JAX without it), the writers
here fall back to logging + metrics.jsonl, with one warning: training does not need TF.
"""
from __future__ import annotations

import json
import logging as py_logging
import os
import time

import numpy as np

try:
    from clu import metric_writers
    CLU_IMPORT_ERROR = None
except ImportError as _e:  # TensorFlow (or tensorboard) missing under clu
    metric_writers = None
    CLU_IMPORT_ERROR = _e

_log = py_logging.getLogger("lumos_jax.metrics")


class _NoOpWrites:
    """The MetricWriter methods this project never needs beyond scalars."""

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
        pass

    def close(self):
        pass


# clu's abstract MetricWriter when clu imports; _NoOpWrites (first) fills in its methods.
_BASES = (_NoOpWrites,) + ((metric_writers.MetricWriter,) if metric_writers else ())


class LoggingWriter(_NoOpWrites):
    """Scalars to the log (clu's LoggingWriter's place when clu cannot be imported)."""

    def write_scalars(self, step, scalars):
        _log.info("[%d] %s", int(step), ", ".join(
            f"{k}={float(np.asarray(v)):.6g}" for k, v in sorted(scalars.items())))


class MultiWriter(_NoOpWrites):
    """Forwards scalars, flush and close to each writer (clu's MultiWriter's place)."""

    def __init__(self, writers):
        self.writers = list(writers)

    def write_scalars(self, step, scalars):
        for w in self.writers:
            w.write_scalars(step, scalars)

    def write_hparams(self, hparams):
        for w in self.writers:
            w.write_hparams(hparams)

    def flush(self):
        for w in self.writers:
            w.flush()

    def close(self):
        for w in self.writers:
            w.close()


class JsonlWriter(*_BASES):
    """Appends one JSON object per write_scalars call to `path` (plots and tests read it)."""

    def __init__(self, path: str):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._f = open(path, "a", buffering=1)

    def write_scalars(self, step, scalars):
        row = {"step": int(step), "time": time.time()}
        row.update({k: float(np.asarray(v)) for k, v in scalars.items()})
        self._f.write(json.dumps(row) + "\n")

    def flush(self):
        self._f.flush()

    def close(self):
        self._f.close()


def create_writer(workdir: str, is_chief: bool):
    """TensorBoard events + logging + `metrics.jsonl` on the chief; logging elsewhere.

    Without TensorFlow (clu not importable): logging + `metrics.jsonl`, no events."""
    if metric_writers is None:
        if is_chief:
            _log.warning("no TensorBoard events: clu's metric writers need TensorFlow "
                         "(%s); writing metrics.jsonl and the log only", CLU_IMPORT_ERROR)
            return MultiWriter([LoggingWriter(), JsonlWriter(os.path.join(workdir,
                                                                           "metrics.jsonl"))])
        return LoggingWriter()
    if not is_chief:
        return metric_writers.create_default_writer(None, just_logging=True)
    default = metric_writers.create_default_writer(workdir, asynchronous=False)
    return metric_writers.MultiWriter([default, JsonlWriter(os.path.join(workdir,
                                                                         "metrics.jsonl"))])


def progress_reporter(num_train_steps: int, writer):
    """clu's ReportProgress (steps/s, ETA in the log and as metrics); a no-op without clu."""
    if metric_writers is None:
        return lambda step: None
    from clu import periodic_actions  # pylint: disable=import-outside-toplevel
    return periodic_actions.ReportProgress(num_train_steps=num_train_steps, writer=writer)


def read_jsonl(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
