# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Pixel value conventions shared by every layer: uint8 frames [0, 255] <-> the
tokenizer's float range [-1, 1], and PSNR. numpy in, numpy out; jax arrays (also traced
inside jit) in, jax arrays out."""

from __future__ import annotations

import numpy as np


def to_model_range(frames):
    """uint8 [0, 255] -> float32 [-1, 1] (any shape; numpy or jax)."""
    return frames.astype(np.float32) / 127.5 - 1.0


def to_uint8(video) -> np.ndarray:
    """Float frames in [-1, 1] (any leading shape, channels last) -> uint8 in [0, 255]
    (rounded, clipped)."""
    video = np.asarray(video, np.float32)
    return np.clip(np.round((video + 1.0) * 127.5), 0, 255).astype(np.uint8)


def psnr_db(mse, peak: float = 255.0, floor: float = 1e-10):
    """10 log10(peak^2 / mse) in dB, mse floored at `floor` (a perfect reconstruction
    gives a large finite value). peak: 255 for uint8 pixels, 2 for [-1, 1]."""
    if isinstance(mse, (np.ndarray, np.generic, float, int)):
        return 10 * np.log10(peak**2 / np.maximum(mse, floor))
    import jax.numpy as jnp  # local: numpy callers (video_io) must not pay for importing jax

    return 10 * jnp.log10(peak**2 / jnp.maximum(mse, floor))
