# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Several clips per video for `prepare` (and the tokenizer trainer's `videos:` source):
windows of --num_frames frames at --fps.

  --clip_stride=S     every video gives windows starting at 0, S, 2S, ... seconds (each
                      one whole: a window past the end of the file is not made)
  CSV start,end       a CSV whose header names the columns `path,caption,start,end`
                      (start/end in seconds; an empty end = as many frames as fit)

A window is a prepare_inputs.Item with its start and end; its record id and name say
where it starts (`clip.mp4@2.00s`), so failures and records point into the file.
"""

from __future__ import annotations

import csv
import dataclasses
import os

import numpy as np

from lumos_jax.data import media
from lumos_jax.data import prepare_inputs as inputs

COLUMNS = ("path", "caption", "start", "end")


@dataclasses.dataclass(frozen=True)
class Window(inputs.Item):
    """A video item from `start` to `end` seconds (end 0: as many frames as fit)."""

    start: float = 0.0
    end: float = 0.0


def _seconds(text: str, where: str) -> float:
    try:
        value = float(text) if text.strip() else 0.0
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a time in seconds") from None
    if value < 0:
        raise ValueError(f"{where}: {text!r} is negative")
    return value


def csv_has_windows(path: str) -> bool:
    """Whether the CSV's header row names a start column (else: plain path,caption)."""
    with open(path, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), [])
    return "start" in [c.strip().lower() for c in header]


def items_from_csv(path: str) -> list[Window]:
    """Rows of a CSV with the header `path,caption,start,end` (any order; captions may
    hold commas when quoted) -> windows; paths relative to the CSV."""
    base = os.path.dirname(os.path.abspath(path))
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = [c.strip().lower() for c in reader.fieldnames or []]
        if "path" not in fields:
            raise ValueError(f"--videos={path}: the header names no 'path' column ({fields})")
        for i, row in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "") for k, v in row.items() if k}
            name = row["path"].strip()
            where = f"{path} line {i}"
            start, end = _seconds(row.get("start", ""), where), _seconds(row.get("end", ""), where)
            if end and end <= start:
                raise ValueError(f"{where}: end {end:g} s is not after start {start:g} s")
            full = name if os.path.isabs(name) else os.path.join(base, name)
            kind = media.media_kind(name) or "video"
            label = f"{name}@{start:.2f}s" if kind == "video" else name
            caption = row.get("caption", "").strip()
            out.append(Window(label, kind, caption, label, path=full, start=start, end=end))
    return out


def _starts(lo: float, hi: float, stride: float, span: float) -> np.ndarray:
    """Window starts in [lo, hi] whose last frame (start + span) is shown before hi."""
    return np.arange(lo, max(hi - span - 1e-3, lo - 1.0) + 1e-9, stride)


def strided(items: list, stride: float, num_frames: int, fps: int) -> list:
    """Each video item (or CSV window's [start, end]) -> whole windows starting every
    `stride` seconds; images stay."""
    span = (num_frames - 1) / float(fps)  # seconds from a window's first to last frame
    out = []
    for it in items:
        if it.stream != "video" or not it.path:
            out.append(it)
            continue
        lo, hi = getattr(it, "start", 0.0), getattr(it, "end", 0.0)
        try:
            hi = hi or media.video_duration(it.path)
        except media.MediaError:
            out.append(it)  # prepare reports the file when it decodes it
            continue
        base = it.name.split("@")[0]
        for start in _starts(lo, hi, stride, span):
            label = f"{base}@{start:.2f}s"
            out.append(
                dataclasses.replace(
                    Window(label, "video", it.caption, label, path=it.path),
                    start=float(start),
                    end=float(getattr(it, "end", 0.0)),
                )
            )
    return out


def expand(items: list, opts) -> list:
    """prepare's items with windows: a start/end CSV is read here, --clip_stride cuts
    every video into windows."""
    path = os.path.expanduser(opts.videos or "")
    if opts.source != "shapes" and os.path.isfile(path) and csv_has_windows(path):
        items = items_from_csv(path)
    if getattr(opts, "clip_stride", 0) > 0:
        items = strided(items, opts.clip_stride, opts.num_frames, opts.fps)
    return items


def load(item: Window, opts) -> tuple[np.ndarray, int]:
    """A video window -> (uint8 [F, H, W, 3] at its bucket, fps), checked as
    prepare_inputs checks whole files (too short: a MediaError naming the window)."""
    frames = media.decode_video(
        item.path, fps=opts.fps, max_frames=opts.num_frames, start=item.start, end=item.end
    )
    n = media.valid_frame_count(len(frames))
    if n < max(1, opts.min_frames):
        raise media.MediaError(
            item.name,
            f"too short: {len(frames)} frames at {opts.fps} fps, need >= {opts.min_frames}",
        )
    return media.to_bucket(frames[:n], target=opts.target, size=opts.size), opts.fps


# ------------------------------------------------------------------ tokenizer training


def _split_windows(windows: list, split: str) -> list:
    """Held-out windows are every 8th (the last one when there are fewer than 8), so the
    tokenizer's eval clips are never training clips."""
    held = [w for i, w in enumerate(windows) if i % 8 == 7] or windows[-1:]
    if split == "eval":
        return held
    train = [w for w in windows if w not in held]
    if not train:
        raise ValueError("videos: one clip in all; the tokenizer needs at least 2 (1 held out)")
    return train


def tokenizer_windows(path: str, num_frames: int, fps: int) -> list[Window]:
    """The clips of a video folder or CSV (the inputs prepare reads): a start/end CSV's
    windows, else back-to-back windows of `num_frames` frames in every video."""
    path = os.path.expanduser(path)
    if os.path.isdir(path):
        items = inputs.items_from_dir(path)
    elif os.path.isfile(path) and csv_has_windows(path):
        return [
            cut
            for w in items_from_csv(path)
            if w.stream == "video"
            for cut in _within(w, num_frames / float(fps), (num_frames - 1) / float(fps))
        ]
    elif os.path.isfile(path):
        items = inputs.items_from_csv(path)
    else:
        raise FileNotFoundError(f"config data.source=videos:{path}: no such directory or CSV")
    videos = [it for it in items if it.stream == "video"]
    if not videos:
        raise ValueError(f"config data.source=videos:{path}: no video files in it")
    return strided(videos, num_frames / float(fps), num_frames, fps)


def _within(window: Window, stride: float, span: float) -> list[Window]:
    """Back-to-back windows inside one CSV row's [start, end] (the row itself when it
    has no end or holds only one)."""
    starts = _starts(window.start, window.end, stride, span) if window.end else []
    if len(starts) < 2:
        return [window]
    return [dataclasses.replace(window, start=float(t)) for t in starts]


def tokenizer_clips(path: str, fps: int = 8):
    """A clip source for lumos_jax.tokenizer.train (config data.source=videos:PATH):
    fn(num_clips, num_frames, height, width, seed, split) -> uint8 [N, F, H, W, 3],
    decoded and centre-cropped + resized as prepare does; the eval split holds clips
    the train split never gives, and either repeats its clips to `num_clips`."""

    def fn(num_clips, num_frames, height, width, seed=0, split="train"):
        windows = _split_windows(tokenizer_windows(path, num_frames, fps), split)
        order = np.random.default_rng(seed).permutation(len(windows))
        clips = []
        for k in range(num_clips):
            w = windows[order[k % len(windows)]]
            if k < len(windows):
                frames = media.decode_video(
                    w.path, fps=fps, max_frames=num_frames, start=w.start, end=w.end
                )
                if len(frames) < num_frames:  # the end of a file: repeat the last frame
                    pad = np.repeat(frames[-1:], num_frames - len(frames), axis=0)
                    frames = np.concatenate([frames, pad])
                clips.append(media.center_crop_resize(frames, width, height))
            else:
                clips.append(clips[k % len(windows)])
        return np.stack(clips)

    return fn
