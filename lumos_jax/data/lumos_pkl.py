# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Importer for the Lumos-1 release's pre-tokenised per-sample pickles.

We do not hold the release's files; this importer follows a documented assumption of
their structure. One pickle holds ONE sample, either
  - a list/tuple of ints: the full token sequence in release ids, or
  - a dict with that list under one of TOKEN_KEYS, optionally a caption under one of
    CAPTION_KEYS and a stable id under "id".
The sequence is the layout of reference section 1 (bos, prompt, separator, video_start,
duration, fps, per frame image_start h/32 w/32 rows-ending-in-newline image_end,
video_end, separator), possibly without the text prefix (CFG-style, starting at
video_start). Placeholder ids are stripped first: every negative id (e.g. the -100
ignore index) and the right padding (pad ids after the final separator).

Parsing is strict: frames are split at image_start/image_end, rows at newlines, and the
result is laid out again with `layout.build_sequence` and must reproduce the stripped
sequence exactly, so a misparse can not pass silently.

Pickles are untrusted input: `load_plain` unpickles only plain containers (dict, list,
tuple) of ints, floats, strings, bytes, bools and None; anything that names a class or
function (os.system, numpy arrays, torch tensors, ...) is refused before it runs.

    python -m lumos_jax.data.lumos_pkl OUT.array_record IN1.pkl IN2.pkl ...
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
from typing import Sequence

import numpy as np

from lumos_jax import layout
from lumos_jax.data import records

TOKEN_KEYS = ("input_ids", "tokens", "token_ids", "ids")
CAPTION_KEYS = ("caption", "text", "prompt")
MAX_BYTES = 1 << 28  # 256 MiB: far above a 384p x 7-frame sample (~30k ids)
_PLAIN = (int, float, str, bytes, bool, type(None))


class _PlainUnpickler(pickle.Unpickler):
    """Refuses every global lookup: only opcodes that build plain containers remain."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(
            f"refused: the pickle references {module}.{name}; only "
            "plain lists/dicts of numbers and strings are accepted"
        )

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused: the pickle uses persistent ids")


def _check_plain(obj, depth: int = 0) -> None:
    if depth > 8:
        raise pickle.UnpicklingError("refused: containers nested deeper than 8")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_plain(k, depth + 1)
            _check_plain(v, depth + 1)
    elif isinstance(obj, (list, tuple)):
        if obj and all(type(x) is int for x in obj):  # fast path: the token list
            return
        for v in obj:
            _check_plain(v, depth + 1)
    elif not isinstance(obj, _PLAIN):
        raise pickle.UnpicklingError(f"refused: value of type {type(obj).__name__}")


def load_plain(data: bytes):
    """Unpickles bytes that hold only plain containers and numbers (else UnpicklingError)."""
    if len(data) > MAX_BYTES:
        raise pickle.UnpicklingError(f"refused: {len(data)} bytes exceeds {MAX_BYTES}")
    obj = _PlainUnpickler(io.BytesIO(data)).load()
    _check_plain(obj)
    return obj


def _sample_fields(obj):
    """Pickled object -> (token list, caption, id or None)."""
    if isinstance(obj, (list, tuple)):
        return obj, "", None
    if isinstance(obj, dict):
        key = next((k for k in TOKEN_KEYS if k in obj), None)
        if key is None:
            raise ValueError(
                f"dict has none of the token keys {TOKEN_KEYS}: {sorted(map(str, obj))}"
            )
        cap = next((obj[k] for k in CAPTION_KEYS if isinstance(obj.get(k), str)), "")
        rid = obj.get("id")
        return obj[key], cap, None if rid is None else str(rid)
    raise ValueError(f"expected a token list or a dict, got {type(obj).__name__}")


def strip_placeholders(ids, vocab: layout.Vocab) -> np.ndarray:
    """Drops negative placeholder ids and the right padding after the last separator."""
    ids = np.asarray(ids, np.int64).reshape(-1)
    ids = ids[ids >= 0]
    seps = np.flatnonzero(ids == vocab.separator)
    if seps.size and np.all(ids[seps[-1] + 1 :] == vocab.pad):
        ids = ids[: seps[-1] + 1]
    return ids


def _expect(ids, i: int, want: int, what: str) -> None:
    if i >= len(ids) or ids[i] != want:
        got = "end of sequence" if i >= len(ids) else f"id {ids[i]}"
        raise ValueError(f"expected {what} ({want}) at token {i}, found {got}")


def _parse_frame(ids, pos: int, vocab: layout.Vocab):
    """Frame at ids[pos] (image_start) -> (codes [rows, cols], (h/32, w/32), next pos)."""
    _expect(ids, pos, vocab.image_start, "image_start")
    ends = np.flatnonzero(ids[pos:] == vocab.image_end)
    if not ends.size:
        raise ValueError(f"frame at token {pos} has no image_end")
    end = pos + int(ends[0])
    size = tuple(int(v) - vocab.size_base for v in ids[pos + 1 : pos + 3])
    body = ids[pos + 3 : end]
    nl = np.flatnonzero(body == vocab.newline)
    if not nl.size:
        raise ValueError(f"frame at token {pos} has no rows (no newline)")
    cols, rows = int(nl[0]), int(nl.size)
    if len(body) != rows * (cols + 1) or np.any(nl != (cols + 1) * np.arange(rows) + cols):
        raise ValueError(f"frame at token {pos}: rows of unequal length (newlines at {nl[:8]}...)")
    grid = body.reshape(rows, cols + 1)[:, :cols] - vocab.visual_offset
    if grid.size and (grid.min() < 0 or grid.max() >= vocab.visual_size):
        raise ValueError(
            f"frame at token {pos}: a content token is not a visual id "
            f"[{vocab.visual_offset}, {vocab.size})"
        )
    return grid, size, end + 1


def parse_tokens(ids, vocab: layout.Vocab) -> dict:
    """A full release token sequence -> record fields (text_ids, codes, fps, duration, ...)."""
    ids = strip_placeholders(ids, vocab)
    starts = np.flatnonzero(ids == vocab.video_start)
    if not starts.size:
        raise ValueError("no video_start token")
    v = int(starts[0])
    text = np.zeros(0, np.int64)
    if v:  # text prefix: bos, prompt ids, separator
        _expect(ids, 0, vocab.bos, "bos")
        _expect(ids, v - 1, vocab.separator, "separator before video_start")
        text = ids[1 : v - 1]
    duration, fps = (int(x) - vocab.size_base for x in ids[v + 1 : v + 3])
    frames, sizes, pos = [], set(), v + 3
    while pos < len(ids) and ids[pos] == vocab.image_start:
        grid, size, pos = _parse_frame(ids, pos, vocab)
        frames.append(grid)
        sizes.add(size)
    if not frames:
        raise ValueError("no frame after the video header")
    if len({f.shape for f in frames}) != 1:
        raise ValueError(f"frames of different grids {sorted({f.shape for f in frames})}")
    _expect(ids, pos, vocab.video_end, "video_end")
    _expect(ids, pos + 1, vocab.separator, "final separator")
    if pos + 2 != len(ids):
        raise ValueError(f"{len(ids) - pos - 2} unexpected tokens after the final separator")
    rows, cols = frames[0].shape
    if sizes != {(rows * 8 // 32, cols * 8 // 32)}:
        raise ValueError(
            f"size tokens {sorted(sizes)} disagree with the {rows}x{cols} grid "
            f"(expected {(rows * 8 // 32, cols * 8 // 32)})"
        )
    fields = dict(
        text_ids=text.astype(np.int32),
        codes=np.stack(frames).astype(np.int32),
        fps=fps,
        duration=duration,
        height=rows * 8,
        width=cols * 8,
    )
    again = layout.build_sequence(
        fields["text_ids"],
        fields["codes"],
        fps=fps,
        duration=duration,
        height=rows * 8,
        width=cols * 8,
        vocab=vocab,
        with_text=bool(v),
    )
    if not np.array_equal(again.tokens, ids):
        raise ValueError("the parsed sample does not lay out to the same tokens")
    return fields


def import_pickle(data: bytes, vocab: layout.Vocab, *, record_id: str) -> records.TokenRecord:
    """Pickle bytes of one sample -> TokenRecord (ValueError/UnpicklingError if bad)."""
    tokens, caption, rid = _sample_fields(load_plain(data))
    if not isinstance(tokens, (list, tuple)) or not all(type(t) is int for t in tokens):
        raise ValueError("the token sequence must be a list of ints")
    fields = parse_tokens(tokens, vocab)
    return records.make_record(
        rid or record_id, caption, fields.pop("text_ids"), fields.pop("codes"), **fields
    )


class PklSource:
    """Release pickles as a token-record source: one file, one record (index 0)."""

    def __init__(self, paths: Sequence[str], vocab: layout.Vocab | None = None):
        self.paths = [str(p) for p in paths]
        self.vocab = vocab or layout.release_vocab()
        self.name = f"lumos_pkl[{len(self.paths)} files]"

    def __len__(self) -> int:
        return len(self.paths)

    def locate(self, index: int) -> tuple[str, int]:
        return self.paths[index], 0

    def read(self, index: int) -> records.TokenRecord:
        path = self.paths[index]
        stem = os.path.splitext(os.path.basename(path))[0]
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_BYTES + 1)
            return import_pickle(data, self.vocab, record_id=stem)
        except (ValueError, pickle.UnpicklingError, EOFError, OSError) as e:
            raise records.RecordError(path, 0, str(e)) from None


def convert(paths: Sequence[str], out_path: str, vocab: layout.Vocab | None = None) -> int:
    """Imports pickles into one ArrayRecord shard of token records; returns the count."""
    source = PklSource(paths, vocab)
    return records.write_array_record(out_path, (source.read(i) for i in range(len(source))))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="output ArrayRecord shard")
    parser.add_argument("pickles", nargs="+", help="release per-sample .pkl files")
    args = parser.parse_args(argv)
    n = convert(args.pickles, args.out)
    print(f"wrote {n} token records to {args.out}")


if __name__ == "__main__":
    main()
