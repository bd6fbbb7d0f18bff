# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Metric writers: clu's default (TensorBoard + logging) plus a JSON-lines file.

clu's `metric_writers` package imports TensorFlow when it is imported (for its TensorBoard
writer). Where TensorFlow is missing (GPU images often ship JAX without it), the writers
here fall back to logging + metrics.jsonl, with one warning: training does not need TF.
"""

from __future__ import annotations

import errno
import glob
import json
import logging as py_logging
import os
import struct
import time

import numpy as np

try:
    from clu import metric_writers

    CLU_IMPORT_ERROR = None
except ImportError as _e:  # TensorFlow (or tensorboard) missing under clu
    metric_writers = None
    CLU_IMPORT_ERROR = _e

_log = py_logging.getLogger("lumos_jax.metrics")
METRICS_NAME = "metrics.jsonl"  # in the workdir
EVENTS_GLOB = "events.out.tfevents.*"  # TensorBoard's event files (clu's writer, the workdir)


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
        _log.info(
            "[%d] %s",
            int(step),
            ", ".join(f"{k}={float(np.asarray(v)):.6g}" for k, v in sorted(scalars.items())),
        )


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
    """Appends one JSON object per write_scalars call to `path` (plots and tests read it).

    Each row goes out as one whole line in a single write() on an O_APPEND descriptor: a
    SIGKILL never leaves half a line behind a finished write, and a short write (disk
    full) is cut back before the error is raised. flush() fsyncs: train.py flushes before
    each checkpoint save, so a step's row is on disk before the checkpoint of that step.
    """

    def __init__(self, path: str):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write_scalars(self, step, scalars):
        row = {"step": int(step), "time": time.time()}
        row.update({k: float(np.asarray(v)) for k, v in scalars.items()})
        data = (json.dumps(row) + "\n").encode()
        end = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            written = os.write(self._fd, data)
        except OSError as e:
            raise _write_error(self.path, step, e) from None
        if written != len(data):  # the disk filled mid-line: no cut line stays behind
            os.ftruncate(self._fd, end)
            raise _write_error(self.path, step, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))

    def flush(self):
        try:
            os.fsync(self._fd)
        except OSError as e:
            raise _io_error(
                e.errno, f"metrics file {self.path}: fsync failed: {e.strerror}"
            ) from None

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _write_error(path, step, error: OSError) -> OSError:
    return _io_error(
        error.errno,
        f"metrics file {path}: could not append the row of step {step}: {error.strerror or error}",
    )


def _io_error(code, text) -> OSError:
    """An OSError whose message is `text` alone (OSError(code, text) adds '[Errno N]')."""
    error = OSError(text)
    error.errno = code
    return error


def create_writer(workdir: str, is_chief: bool):
    """TensorBoard events + logging + `metrics.jsonl` on the chief; logging elsewhere.

    Without TensorFlow (clu not importable): logging + `metrics.jsonl`, no events."""
    if metric_writers is None:
        if is_chief:
            _log.warning(
                "no TensorBoard events: clu's metric writers need TensorFlow "
                "(%s; pip install 'lumos_jax[tensorboard]'); writing metrics.jsonl and "
                "the log only",
                CLU_IMPORT_ERROR,
            )
            return MultiWriter([LoggingWriter(), JsonlWriter(os.path.join(workdir, METRICS_NAME))])
        return LoggingWriter()
    if not is_chief:
        return metric_writers.create_default_writer(None, just_logging=True)
    default = metric_writers.create_default_writer(workdir, asynchronous=False)
    return metric_writers.MultiWriter([default, JsonlWriter(os.path.join(workdir, METRICS_NAME))])


def progress_reporter(num_train_steps: int, writer):
    """clu's ReportProgress (steps/s, ETA in the log and as metrics); a no-op without clu."""
    if metric_writers is None:
        return lambda step: None
    from clu import periodic_actions  # local: only when clu imported above (TensorFlow present)

    return periodic_actions.ReportProgress(num_train_steps=num_train_steps, writer=writer)


def read_jsonl(path: str) -> list[dict]:
    """The rows of a metrics file; a last line without its newline (a writer cut off
    mid-line by an older version, or one being written now) is skipped."""
    rows, bad, _ = _parse_rows(path)
    if bad:
        raise ValueError(
            f"{path}:{bad[0]}: not a JSON object (a damaged metrics file; "
            f"lumos_jax.train repairs it when it resumes this workdir)"
        )
    return [row for _, row in rows]


def _parse_rows(path: str):
    """-> ([(line bytes, row)], [numbers of bad lines], whether a final partial line
    was left out)."""
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    partial = bool(lines.pop())  # whole lines only: what follows the last "\n" is cut
    rows, bad = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not an object")
            rows.append((line, row))
        except ValueError:
            bad.append(number)
    return rows, bad, partial


def drop_rows_after(path: str, step: int) -> int:
    """Keeps the rows of steps <= `step` (what the checkpoint a run resumes from had
    seen), so the steps it runs again are not written twice; also drops lines that do
    not parse (a row cut off by a kill under an older version). The file is replaced
    atomically. Returns the number of lines dropped."""
    if not os.path.exists(path):
        return 0
    rows, bad, partial = _parse_rows(path)
    keep = [line for line, row in rows if int(row.get("step", 0)) <= step]
    dropped = len(rows) - len(keep) + len(bad) + int(partial)
    if dropped:
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(b"".join(line + b"\n" for line in keep))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _log.info(
            "%s: dropped %d rows after step %d (written after the checkpoint this "
            "run resumes from; the steps run again write them anew)",
            path,
            dropped,
            step,
        )
    return dropped


def drop_events_after(workdir: str, step: int) -> int:
    """The cut of drop_rows_after for TensorBoard's event files in `workdir`: records of
    steps after `step` (and a record cut off by a kill) are dropped, each file replaced
    atomically, so a resumed run's steps are not shown twice. Records are copied byte for
    byte (their CRCs stay valid). Returns the number of records dropped."""
    dropped = 0
    for path in sorted(glob.glob(os.path.join(workdir, EVENTS_GLOB))):
        with open(path, "rb") as f:
            data = f.read()
        records = list(_tf_records(data))
        keep = [data[a:b] for a, b, payload in records if _event_step(payload) <= step]
        whole = records[-1][1] if records else 0
        cut = len(records) - len(keep) + int(whole < len(data))
        if not cut:
            continue
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(b"".join(keep))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dropped += cut
    if dropped:
        _log.info("%s: dropped %d TensorBoard records after step %d", workdir, dropped, step)
    return dropped


def _tf_records(data: bytes):
    """(start, end, payload) of each whole TFRecord: length (uint64 LE), its masked CRC,
    the payload, the payload's masked CRC. A tail cut short is not yielded."""
    pos = 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        end = pos + 12 + length + 4
        if end > len(data):
            return
        yield pos, end, data[pos + 12 : pos + 12 + length]
        pos = end


def _event_step(payload: bytes) -> int:
    """Field 2 (`step`, int64 varint) of a serialized tensorboard Event; 0 when absent
    (the file-version record). Read from the wire format: no TensorFlow or protobuf."""
    pos = 0
    while pos < len(payload):
        key, pos = _varint(payload, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(payload, pos)
            if field == 2:
                return value - (1 << 64) if value >= 1 << 63 else value
        elif wire == 1:
            pos += 8
        elif wire == 2:
            size, pos = _varint(payload, pos)
            pos += size
        elif wire == 5:
            pos += 4
        else:  # groups (never in an Event): stop reading
            return 0
    return 0


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    return value, pos
