# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Token records: what `prepare` writes and the data pipeline reads.

One record is one pre-tokenised sample (an image is a 1-frame video, duration 1, fps 1):

  text_ids  int32 [n]          the templated prompt (`layout.prompt_text`) tokenised and
                               mapped into the unified vocabulary (a text tokenizer's id i
                               becomes `vocab.first_text_id + i`); bos and separator are
                               NOT stored: `layout.build_sequence` adds them.
  codes     int32 [T', H', W'] visual codes (FSQ indices, not token ids)
  fps, duration                the size-token values of the video header
  height, width                pixels (H' = height / 8, W' = width / 8)
  caption, record_id           the raw caption (for evaluation) and a stable id

Serialised form (format version 1), little-endian:

  magic b"LTRK" | version u16 | flags u16 | meta_len u32 | payload_len u32 | crc32 u32
  meta     JSON (utf-8): id, caption, fps, duration, height, width, text_len,
           codes_shape [T', H', W'], codes_dtype ("uint16" when every code < 65536)
  payload  text ids as int32, then codes in codes_dtype (C order)

The CRC-32 covers meta + payload, so a corrupt or truncated record is detected; every
decode error is a `RecordError` naming the shard, the record index and the problem.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import zlib
from typing import Iterable

import numpy as np
from array_record.python import array_record_module

from lumos_jax import layout

MAGIC = b"LTRK"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<4sHHIII")  # magic, version, flags, meta_len, payload_len, crc32
_META_KEYS = (
    "id",
    "caption",
    "fps",
    "duration",
    "height",
    "width",
    "text_len",
    "codes_shape",
    "codes_dtype",
)


class RecordError(ValueError):
    """A bad record: `shard` (file or dataset name), `index` (record index), `problem`."""

    def __init__(self, shard: str, index: int, problem: str):
        super().__init__(f"{shard} record {index}: {problem}")
        self.shard, self.index, self.problem = shard, int(index), problem

    def __reduce__(self):  # keeps the fields when raised inside a Grain worker process
        return (RecordError, (self.shard, self.index, self.problem))


@dataclasses.dataclass(frozen=True)
class TokenRecord:
    """One pre-tokenised sample; see the module docstring for the fields."""

    record_id: str
    caption: str
    text_ids: np.ndarray  # int32 [n]
    codes: np.ndarray  # int32 [T', H', W']
    fps: int
    duration: int
    height: int
    width: int

    @property
    def num_frames(self) -> int:
        return int(self.codes.shape[0])

    def sequence_length(self, with_text: bool = True) -> int:
        """Tokens of the laid-out sample (layout.build_sequence), computed without building it."""
        t, rows, cols = self.codes.shape
        prefix = (2 + len(self.text_ids) if with_text else 0) + 3
        return prefix + t * layout.tokens_per_frame(rows, cols) + 2


def make_record(
    record_id: str,
    caption: str,
    text_ids,
    codes,
    *,
    fps: int,
    duration: int,
    height: int,
    width: int,
) -> TokenRecord:
    """Builds a TokenRecord with int32 arrays (codes must be [T', H', W'])."""
    codes = np.asarray(codes, np.int32)
    if codes.ndim != 3:
        raise ValueError(f"codes must be [frames, rows, cols], got shape {codes.shape}")
    return TokenRecord(
        str(record_id),
        str(caption),
        np.asarray(text_ids, np.int32).reshape(-1),
        codes,
        int(fps),
        int(duration),
        int(height),
        int(width),
    )


def encode(record: TokenRecord) -> bytes:
    """TokenRecord -> bytes (format version 1, with a CRC-32)."""
    codes = np.asarray(record.codes)
    small = codes.size == 0 or (codes.min() >= 0 and codes.max() < 2**16)
    codes_dtype = "uint16" if small else "int32"  # 64,000 Cosmos codes fit: half the bytes
    meta = dict(
        id=record.record_id,
        caption=record.caption,
        fps=record.fps,
        duration=record.duration,
        height=record.height,
        width=record.width,
        text_len=int(record.text_ids.size),
        codes_shape=list(codes.shape),
        codes_dtype=codes_dtype,
    )
    meta_bytes = json.dumps(meta, ensure_ascii=False).encode("utf-8")
    payload = (
        np.asarray(record.text_ids, "<i4").tobytes()
        + np.ascontiguousarray(codes, np.dtype(codes_dtype).newbyteorder("<")).tobytes()
    )
    crc = zlib.crc32(payload, zlib.crc32(meta_bytes))
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, 0, len(meta_bytes), len(payload), crc)
    return header + meta_bytes + payload


def _check_frame(data: bytes) -> tuple[int, int]:
    """Checks magic, version, length and checksum; returns (meta_len, payload_len)."""
    if len(data) < _HEADER.size:
        raise ValueError(f"truncated record: {len(data)} bytes, the header alone is {_HEADER.size}")
    magic, version, _, meta_len, payload_len, crc = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ValueError(f"not a lumos token record (magic {magic!r}, expected {MAGIC!r})")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"record format version {version} is newer than this reader (reads <= {FORMAT_VERSION})"
        )
    expected = _HEADER.size + meta_len + payload_len
    if len(data) != expected:
        raise ValueError(f"truncated record: {len(data)} bytes, header says {expected}")
    if zlib.crc32(data[_HEADER.size :]) != crc:
        raise ValueError("checksum mismatch: the record is corrupt")
    return meta_len, payload_len


def _parse_meta(raw: bytes) -> dict:
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"unreadable metadata: {e}") from None
    missing = [k for k in _META_KEYS if k not in meta]
    if missing:
        raise ValueError(f"metadata lacks {missing}")
    if meta["codes_dtype"] not in ("uint16", "int32") or len(meta["codes_shape"]) != 3:
        raise ValueError(f"bad codes layout {meta['codes_dtype']} {meta['codes_shape']}")
    return meta


def _decode(data: bytes) -> TokenRecord:
    meta_len, _ = _check_frame(data)
    meta = _parse_meta(data[_HEADER.size : _HEADER.size + meta_len])
    body = memoryview(data)[_HEADER.size + meta_len :]
    n = meta["text_len"] * 4
    dtype = np.dtype(meta["codes_dtype"]).newbyteorder("<")
    shape = tuple(int(s) for s in meta["codes_shape"])
    if len(body) != n + int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(
            f"payload of {len(body)} bytes does not hold {meta['text_len']} text "
            f"ids and codes {shape} {meta['codes_dtype']}"
        )
    text = np.frombuffer(body[:n], "<i4").astype(np.int32)
    codes = np.frombuffer(body[n:], dtype).astype(np.int32).reshape(shape)
    return TokenRecord(
        str(meta["id"]),
        str(meta["caption"]),
        text,
        codes,
        int(meta["fps"]),
        int(meta["duration"]),
        int(meta["height"]),
        int(meta["width"]),
    )


def decode(data: bytes, *, shard: str = "<bytes>", index: int = 0) -> TokenRecord:
    """bytes -> TokenRecord; raises RecordError(shard, index, problem) on any defect."""
    try:
        return _decode(bytes(data))
    except (ValueError, struct.error) as e:
        raise RecordError(shard, index, str(e)) from None


def problems(record: TokenRecord, vocab: layout.Vocab) -> list[str]:
    """Everything that keeps `record` from being laid out with `vocab` (empty if none)."""
    out = []
    text, codes = record.text_ids, record.codes
    if text.size and (text.min() < 0 or text.max() >= vocab.text_size):
        out.append(
            f"text token id out of range [0, {vocab.text_size}): min {text.min()}, max {text.max()}"
        )
    if codes.ndim != 3 or codes.shape[0] < 1:
        out.append(f"codes must be [frames >= 1, rows, cols], got shape {codes.shape}")
        return out
    if codes.size and (codes.min() < 0 or codes.max() >= vocab.visual_size):
        out.append(
            f"visual code out of range [0, {vocab.visual_size}): min {codes.min()}, "
            f"max {codes.max()}"
        )
    rows, cols = codes.shape[1:]
    if (rows * 8, cols * 8) != (record.height, record.width):
        out.append(
            f"code grid {rows}x{cols} does not match the stated size "
            f"{record.height}x{record.width} px (expected "
            f"{record.height // 8}x{record.width // 8} codes at 8 px/code)"
        )
    values = dict(
        fps=record.fps,
        duration=record.duration,
        height_32=record.height // 32,
        width_32=record.width // 32,
    )
    for name, v in values.items():
        if not 0 <= v < vocab.max_size_value:
            out.append(f"{name}={v} has no size token (values 0..{vocab.max_size_value - 1})")
    return out


def check(record: TokenRecord, vocab: layout.Vocab, *, shard: str, index: int) -> TokenRecord:
    """Returns `record` if it can be laid out, else raises RecordError listing the problems."""
    found = problems(record, vocab)
    if found:
        raise RecordError(shard, index, "; ".join(found))
    return record


def write_array_record(path: str, records: Iterable[TokenRecord | bytes]) -> int:
    """Writes records (TokenRecord or already-encoded bytes) to one ArrayRecord shard.

    group_size 1 gives O(1) random access, which Grain's global shuffle needs.
    Returns the number of records written.
    """
    writer = array_record_module.ArrayRecordWriter(str(path), "group_size:1")
    n = 0
    try:
        for r in records:
            writer.write(r if isinstance(r, (bytes, bytearray)) else encode(r))
            n += 1
    finally:
        writer.close()
    return n


def random_record(
    rng: np.random.Generator,
    vocab: layout.Vocab,
    *,
    frames: int,
    height: int,
    width: int,
    text_len: int,
    fps: int = 8,
    record_id: str = "random",
) -> TokenRecord:
    """A synthetic record of random ids (benchmarks, smoke tests): codes [frames, h/8, w/8]."""
    first = vocab.first_text_id or vocab.video_end + 1  # clear of the special ids
    text = rng.integers(first, vocab.text_size, text_len)
    codes = rng.integers(0, vocab.visual_size, (frames, height // 8, width // 8))
    duration = 1 if frames == 1 else max(1, round((4 * (frames - 1) + 1) / fps))
    return make_record(
        record_id,
        f"caption of {record_id}",
        text,
        codes,
        fps=1 if frames == 1 else fps,
        duration=duration,
        height=height,
        width=width,
    )
