# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Random-access sources of token records (`records.TokenRecord`).

Every source has `len(source)`, `source.read(i) -> TokenRecord` and `source.locate(i)
-> (shard, index in shard)`; a bad record raises `records.RecordError` naming both.
Sources are picklable (Grain ships them to its worker processes) and open files lazily.

  array_record:GLOB     ArrayRecord shards written by `records.write_array_record`
                        (production path; read with Grain's ArrayRecordDataSource)
  tfds:NAME[:SPLIT]     a prepared TFDS dataset in `data_dir` (array_record file format),
                        served by `tfds.data_source(..., download=False)`; NAME may carry a
                        config (`lumos_token_records/mine`). Build one with `records_tfds.build`.
  lumos_pkl:GLOB        the release's per-sample pre-tokenised pickles (`lumos_pkl`)
"""

from __future__ import annotations

import bisect
import glob
import os
from typing import Sequence

import grain
import numpy as np
import tensorflow_datasets as tfds

from lumos_jax.data import lumos_pkl, records

KINDS = ("array_record", "tfds", "lumos_pkl")


def _expand(pattern: str) -> list[str]:
    paths = sorted(glob.glob(os.path.expanduser(pattern)))
    if not paths:
        raise FileNotFoundError(f"no files match {pattern!r}")
    return paths


# The first 64 bytes of every Riegeli file (ArrayRecord's container): its signature.
_RIEGELI_SIGNATURE = bytes.fromhex(
    "83af70d10d884a3f00000000000000004000000000000000"
    "91bac23c9287e1a90000000000000000e19f13c0e9b1c372"
    "73000000000000000000000000000000"
)
_BLOCK = 64 * 1024  # Riegeli's block size


def open_problem(path: str, error: BaseException) -> str:
    """Why an ArrayRecord shard failed to open. The reader says why for a short file; for
    a missing index (a shard cut at a block boundary) it raises a RuntimeError with no
    text, so the file itself is looked at."""
    text = " ".join(str(error).split())
    if text:
        return f"{type(error).__name__}: {text}"
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(len(_RIEGELI_SIGNATURE))
    except OSError as e:
        return f"{type(e).__name__}: {e.strerror}"
    if head != _RIEGELI_SIGNATURE:
        return (
            "it does not start with the ArrayRecord (Riegeli) file signature: not an "
            "ArrayRecord file, or its first block is damaged"
        )
    n = size // _BLOCK
    blocks = f", exactly {n} block{'s' * (n != 1)} of 64 KiB" if size % _BLOCK == 0 else ""
    return (
        f"its record index (written at the end of the file when the writer closes) is "
        f"missing or damaged: the file ends after {size} bytes{blocks}, as a write or "
        f"copy cut short leaves it"
    )


def _open_shard(path: str):
    try:
        return grain.sources.ArrayRecordDataSource(path)
    except Exception as e:  # truncated or foreign file: the reader fails while indexing it
        raise ValueError(
            f"{path}: cannot open as an ArrayRecord shard ({open_problem(path, e)})"
        ) from e


class ArrayRecordSource:
    """Token records in ArrayRecord shards; global index runs over the shards in order."""

    def __init__(self, paths: Sequence[str]):
        self.paths = [str(p) for p in paths]
        # One Grain source per shard so an index maps to (shard file, index in shard).
        self._shards = [_open_shard(p) for p in self.paths]
        self._ends = np.cumsum([len(s) for s in self._shards]).tolist()
        self.name = f"array_record[{len(self.paths)} shards]"

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def locate(self, index: int) -> tuple[str, int]:
        shard = bisect.bisect_right(self._ends, index)
        start = self._ends[shard - 1] if shard else 0
        return os.path.basename(self.paths[shard]), index - start

    def read(self, index: int) -> records.TokenRecord:
        shard = bisect.bisect_right(self._ends, index)
        local = index - (self._ends[shard - 1] if shard else 0)
        name = os.path.basename(self.paths[shard])
        try:
            data = self._shards[shard][local]
        except Exception as e:  # a damaged shard fails inside the ArrayRecord reader
            raise records.RecordError(name, local, f"unreadable ({type(e).__name__}: {e})") from e
        return records.decode(data, shard=name, index=local)


def _tfds_to_record(ex: dict) -> records.TokenRecord:
    text = lambda v: v.decode("utf-8") if isinstance(v, bytes) else str(v)  # noqa: E731
    return records.make_record(
        text(ex["id"]),
        text(ex["caption"]),
        ex["text_ids"],
        ex["codes"],
        fps=ex["fps"],
        duration=ex["duration"],
        height=ex["height"],
        width=ex["width"],
    )


class TfdsSource:
    """A prepared TFDS token-record dataset, opened lazily (nothing is ever downloaded)."""

    def __init__(self, name: str, split: str = "train", data_dir: str | None = None):
        self.tfds_name, self.split, self.data_dir = name, split, data_dir or None
        self.name = f"tfds:{name}:{split}"
        self._ds = None
        self._len = len(self._open())

    def _open(self):
        if self._ds is None:
            self._ds = tfds.data_source(
                self.tfds_name, split=self.split, data_dir=self.data_dir, download=False
            )
        return self._ds

    def __getstate__(self):  # workers reopen the dataset themselves
        return {**self.__dict__, "_ds": None}

    def __len__(self) -> int:
        return self._len

    def locate(self, index: int) -> tuple[str, int]:
        return self.name, index

    def read(self, index: int) -> records.TokenRecord:
        try:
            ex = self._open()[index]
            return _tfds_to_record(ex)
        except Exception as e:  # undecodable example or missing feature
            raise records.RecordError(
                self.name, index, f"unreadable ({type(e).__name__}: {e})"
            ) from e


class ConcatSource:
    """Several sources behind one global index (in the order given)."""

    def __init__(self, parts: Sequence):
        self.parts = list(parts)
        self._ends = np.cumsum([len(p) for p in self.parts]).tolist()
        self.name = " + ".join(p.name for p in self.parts)

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def _split(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"record {index} outside [0, {len(self)}) of {self.name}")
        part = bisect.bisect_right(self._ends, index)
        return self.parts[part], index - (self._ends[part - 1] if part else 0)

    def locate(self, index: int) -> tuple[str, int]:
        part, local = self._split(index)
        return part.locate(local)

    def read(self, index: int) -> records.TokenRecord:
        part, local = self._split(index)
        return part.read(local)


def open_source(spec: str, *, tfds_data_dir: str | None = None, vocab=None):
    """One `KIND:ARG` spec (see module docstring) -> a source."""
    kind, sep, arg = spec.partition(":")
    if not sep or kind not in KINDS:
        raise ValueError(f"source {spec!r}: expected KIND:ARG with KIND in {KINDS}")
    if kind == "array_record":
        return ArrayRecordSource(_expand(arg))
    if kind == "tfds":
        name, _, split = arg.partition(":")
        return TfdsSource(name, split or "train", tfds_data_dir)
    return lumos_pkl.PklSource(_expand(arg), vocab)


def parse_specs(specs) -> list[str]:
    """A comma-separated string (or a sequence) of source specs -> list of specs."""
    if isinstance(specs, str):
        specs = specs.split(",")
    return [s.strip() for s in specs if s and s.strip()]


def open_sources(specs, *, tfds_data_dir: str | None = None, vocab=None) -> ConcatSource:
    """Source specs -> one ConcatSource."""
    return ConcatSource(
        [open_source(s, tfds_data_dir=tfds_data_dir, vocab=vocab) for s in parse_specs(specs)]
    )
