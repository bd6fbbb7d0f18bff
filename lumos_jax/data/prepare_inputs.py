# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""What `prepare` tokenises: input items from a directory, a CSV or the built-in
ShapesMotion generator, each loaded to uint8 frames [F, H, W, 3] at its bucket; and the
project's ShapesMotion text BPE.
"""

from __future__ import annotations

import csv
import dataclasses
import os

import numpy as np

from lumos_jax import layout
from lumos_jax.data import media, shapes
from lumos_jax.tokenizer import text as text_lib

SHAPES_SIZE = shapes.SIZE  # px; video stream 9 frames (-> 3 latent frames), images 1 frame
SHAPES_FRAMES = {"video": shapes.VIDEO_FRAMES, "image": 1}
SHAPES_FPS = shapes.FPS


@dataclasses.dataclass(frozen=True)
class Item:
    """One input: `name` is what failures report (the path as given, or a shapes id)."""

    name: str
    stream: str  # 'video' | 'image'
    caption: str
    record_id: str
    path: str = ""  # media file ('' for shapes)
    index: int = -1  # shapes example index


def _caption_beside(path: str) -> str:
    txt = os.path.splitext(path)[0] + ".txt"
    if os.path.exists(txt):
        with open(txt, encoding="utf-8") as f:
            return f.read().strip()
    return ""


def items_from_dir(root: str) -> list[Item]:
    """Media files under `root` (recursive, sorted); caption from a same-stem .txt."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for n in sorted(filenames):
            kind = media.media_kind(n)
            if kind is not None:
                path = os.path.join(dirpath, n)
                rel = os.path.relpath(path, root)
                found.append(Item(rel, kind, _caption_beside(path), rel, path=path))
    return found


def items_from_csv(path: str) -> list[Item]:
    """Rows `path,caption` (a header row `path,caption` is allowed); relative paths are
    relative to the CSV. Unknown extensions are tried as videos."""
    base = os.path.dirname(os.path.abspath(path))
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.reader(f)):
            if not row or (i == 0 and [c.strip().lower() for c in row[:2]] == ["path", "caption"]):
                continue
            name = row[0].strip()
            caption = ",".join(row[1:]).strip() if len(row) > 1 else ""
            full = name if os.path.isabs(name) else os.path.join(base, name)
            out.append(Item(name, media.media_kind(name) or "video", caption, name, path=full))
    return out


def items_from_shapes(split: str, num: int, seed: int, streams) -> list[Item]:
    """`num` ShapesMotion examples per stream (metadata only; pixels render on load)."""
    out = []
    for stream in streams:
        if stream not in SHAPES_FRAMES:
            raise ValueError(f"--streams: unknown stream {stream!r}; use video and/or image")
        for i in range(num):
            meta = shapes.sample_meta(
                seed, split, i, SHAPES_SIZE, SHAPES_SIZE, SHAPES_FRAMES[stream], SHAPES_FPS
            )
            rid = meta["id"] if stream == "video" else meta["id"] + "-image"
            out.append(Item(rid, stream, meta["caption"], rid, index=i))
    return out


def list_items(opts) -> list[Item]:
    """The run's items in a fixed order (so shard contents are stable across runs); none
    is an error."""
    if opts.source == "shapes":
        items = items_from_shapes(opts.split, opts.num, opts.seed, opts.streams)
        if not items:
            raise ValueError(
                f"--num={opts.num} --streams={','.join(opts.streams)}: nothing "
                f"to make (expected --num >= 1 and a stream: video, image)"
            )
        return items
    path = os.path.expanduser(opts.videos)
    if os.path.isdir(path):
        items = items_from_dir(path)
    elif os.path.isfile(path):
        items = items_from_csv(path)
    else:
        raise FileNotFoundError(f"--videos={opts.videos}: no such directory or CSV file")
    if not items:
        raise ValueError(
            f"--videos={opts.videos}: no videos or images in it (expected media "
            f"files, each with an optional same-stem .txt caption, or a CSV of "
            f"path,caption)"
        )
    return items


def _load_file(item: Item, opts) -> tuple[np.ndarray, int]:
    if item.stream == "image":
        return media.load_image(item.path), 1
    frames = media.decode_video(item.path, fps=opts.fps, max_frames=opts.num_frames)
    n = media.valid_frame_count(len(frames))
    if n < max(1, opts.min_frames):
        raise media.MediaError(
            item.name,
            f"too short: {len(frames)} frames at {opts.fps} fps, need >= {opts.min_frames}",
        )
    return frames[:n], opts.fps


def load_frames(item: Item, opts) -> tuple[np.ndarray, int]:
    """Item -> (uint8 [F, H, W, 3] at its bucket, fps); raises media.MediaError."""
    if item.path:
        frames, fps = _load_file(item, opts)
        return media.to_bucket(frames, target=opts.target, size=opts.size), fps
    frames = SHAPES_FRAMES[item.stream]
    meta = shapes.sample_meta(
        opts.seed, opts.split, item.index, SHAPES_SIZE, SHAPES_SIZE, frames, SHAPES_FPS
    )
    return shapes.render_clip(meta), meta["fps"]


def shapes_prompts(num: int = 2000, seed: int = 0) -> list[str]:
    """Training text of the ShapesMotion BPE: templated prompts of train examples
    0..num-1, for both streams, with the streams' own geometry."""
    texts = []
    for stream, frames in SHAPES_FRAMES.items():
        fps = SHAPES_FPS if frames > 1 else 1
        for i in range(num):
            meta = shapes.sample_meta(
                seed, "train", i, SHAPES_SIZE, SHAPES_SIZE, frames, SHAPES_FPS
            )
            texts.append(
                layout.prompt_text(
                    meta["caption"], width=SHAPES_SIZE, height=SHAPES_SIZE, frames=frames, fps=fps
                )
            )
    return texts


def train_shapes_bpe(vocab_size: int = 448, seed: int = 0, num: int = 2000):
    """The project's byte-level BPE for ShapesMotion (a `tokenizers.Tokenizer`)."""
    return text_lib.train_bpe(shapes_prompts(num, seed), vocab_size)
