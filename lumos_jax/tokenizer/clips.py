# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Clip sources for tokenizer training: uint8 arrays [N, F, H, W, 3].

Any source is a function `fn(num_clips, num_frames, height, width, seed) -> uint8
[N, F, H, W, 3]`; one that also takes `split` ('train' | 'eval') gives held-out eval
clips itself. Built in: `synthetic` (moving rectangles, no dependencies), `npy` (a saved
array of the configured size) and `videos:DIR_OR_CSV[?fps=N]` (the video files or CSV
that `prepare` reads, decoded, cropped and resized the same way; lumos_jax.data's
clip_windows, loaded by name: the tokenizer layer does not import data).
`module.path:function` plugs in anything else, e.g. a procedural dataset.
"""

import importlib
import inspect
from typing import Callable

import numpy as np

ClipFn = Callable[..., np.ndarray]


def synthetic_clips(
    num_clips: int, num_frames: int, height: int, width: int, seed: int = 0
) -> np.ndarray:
    """Moving, bouncing coloured rectangles on a two-tone background; uint8 [N,F,H,W,3]."""
    rng = np.random.default_rng(seed)
    clips = np.empty((num_clips, num_frames, height, width, 3), np.uint8)
    ys, xs = np.mgrid[:height, :width]
    for n in range(num_clips):
        bg = rng.integers(0, 256, (2, 3))
        split = rng.integers(0, width)
        background = np.where((xs < split)[..., None], bg[0], bg[1])
        objects = [
            (
                rng.integers(2, max(3, height // 3), 2),
                rng.uniform(0, [height, width]),
                rng.uniform(-2, 2, 2),
                rng.integers(0, 256, 3),
            )
            for _ in range(rng.integers(1, 4))
        ]
        for f in range(num_frames):
            frame = background.copy()
            for size, pos, vel, colour in objects:
                # Reflect the position into the frame: a bounce off the borders.
                y, x = np.abs(
                    (pos + f * vel) % (2 * np.array([height, width])) - np.array([height, width])
                )
                mask = (np.abs(ys - y) < size[0]) & (np.abs(xs - x) < size[1])
                frame[mask] = colour
            clips[n, f] = frame
    return clips


def npy_clips(path: str) -> ClipFn:
    """A source reading a saved uint8 [N, F, H, W, 3] array (F, H, W are cropped)."""

    def fn(num_clips, num_frames, height, width, seed=0):
        del seed
        arr = np.load(path, mmap_mode="r")
        if arr.ndim != 5 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
            raise ValueError(f"{path}: expected uint8 [N, F, H, W, 3], got {arr.dtype} {arr.shape}")
        if arr.shape[0] < num_clips or arr.shape[1] < num_frames:
            raise ValueError(
                f"{path}: shape {arr.shape} holds fewer clips or frames than the requested "
                f"{(num_clips, num_frames)} (config data.num_train_clips / num_frames)"
            )
        if arr.shape[2:4] != (height, width):  # a crop would silently drop most pixels
            raise ValueError(
                f"{path}: frames of {arr.shape[2]}x{arr.shape[3]} px, config data.height x "
                f"width is {height}x{width}; resize the clips or use data.source=videos:DIR"
            )
        return np.asarray(arr[:num_clips, :num_frames])

    return fn


def get_source(spec: str) -> ClipFn:
    """'synthetic', 'npy:PATH' or 'package.module:function'."""
    if spec == "synthetic":
        return synthetic_clips
    if spec.startswith("npy:"):
        return npy_clips(spec[4:])
    if spec.startswith("videos:"):
        path, _, query = spec[len("videos:") :].partition("?")
        fps = int(query.partition("fps=")[2] or 8) if query else 8
        # By name: data sits above the tokenizer in the layers (README, Architecture).
        windows = importlib.import_module("lumos_jax.data.clip_windows")
        return windows.tokenizer_clips(path, fps)
    module, sep, name = spec.partition(":")
    if not sep:
        raise ValueError(
            f"data.source={spec!r}: use 'synthetic', 'npy:PATH', 'videos:DIR_OR_CSV' or "
            f"'module:function'"
        )
    return getattr(importlib.import_module(module), name)


def takes_split(fn: ClipFn) -> bool:
    """Whether a source gives its own held-out clips (a `split` argument)."""
    try:
        return "split" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def load_clips(
    fn: ClipFn, num_clips: int, num_frames: int, height: int, width: int, seed: int, **kw
) -> np.ndarray:
    clips = np.asarray(fn(num_clips, num_frames, height, width, seed, **kw))
    want = (num_clips, num_frames, height, width, 3)
    if clips.shape != want or clips.dtype != np.uint8:
        raise ValueError(f"clip source returned {clips.dtype} {clips.shape}; expected uint8 {want}")
    return clips
