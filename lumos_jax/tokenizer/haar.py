# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Parameter-free causal 3-D Haar patcher and un-patcher (channels-last).

Facts from Cosmos-Tokenizer's `Patcher3D`/`UnPatcher3D` (NVIDIA, Apache-2.0):
- frame 0 is repeated `patch_size` times in total before the transform, so a clip of
  1 + p*k frames becomes p + p*k frames and p-fold temporal compression gives 1 + k;
- each level is a stride-2 Haar DWT along T, then H, then W with the orthonormal filters
  [1, 1]/sqrt 2 (low) and [1, -1]/sqrt 2 (high), followed by a 1/(2*sqrt 2) rescale, so
  one level is (signed sum of a 2x2x2 block) / 8 and the LLL band is the block mean;
- the 8 bands are concatenated band-major on channels in the order
  LLL, LLH, LHL, LHH, HLL, HLH, HHL, HHH (letters = T, H, W), i.e. band index
  4*t_high + 2*h_high + w_high and output channel = band * C_in + c;
- the inverse undoes the levels and drops the `patch_size - 1` leading frames.
With 3 colour channels and patch_size 4 (two levels) this gives 192 channels.
"""

import functools
import math

import jax
import jax.numpy as jnp


def _butterfly(x: jnp.ndarray, axis: int) -> jnp.ndarray:
    """Unnormalised (a + b, a - b) on a size-2 axis; applying it twice gives 2x."""
    a, b = jnp.take(x, 0, axis=axis), jnp.take(x, 1, axis=axis)
    return jnp.stack([a + b, a - b], axis=axis)


def _butterfly3(x: jnp.ndarray, axes: tuple[int, int, int]) -> jnp.ndarray:
    for axis in axes:
        x = _butterfly(x, axis)
    return x


def haar_dwt3d(x: jnp.ndarray) -> jnp.ndarray:
    """One 3-D Haar level: [B, T, H, W, C] -> [B, T/2, H/2, W/2, 8C] (T, H, W even)."""
    b, t, h, w, c = x.shape
    if t % 2 or h % 2 or w % 2:
        raise ValueError(f"haar_dwt3d needs even T, H, W; got shape {x.shape}")
    x = x.reshape(b, t // 2, 2, h // 2, 2, w // 2, 2, c)
    # (orthonormal 1/sqrt2 per axis) * (1/(2 sqrt2) rescale) = 1/8 in total.
    x = _butterfly3(x, (2, 4, 6)) / 8.0
    x = x.transpose(0, 1, 3, 5, 2, 4, 6, 7)  # [B, T', H', W', bt, bh, bw, C]
    return x.reshape(b, t // 2, h // 2, w // 2, 8 * c)


def haar_idwt3d(y: jnp.ndarray) -> jnp.ndarray:
    """Inverse of `haar_dwt3d`: [B, T, H, W, 8C] -> [B, 2T, 2H, 2W, C]."""
    b, t, h, w, c8 = y.shape
    if c8 % 8:
        raise ValueError(f"haar_idwt3d needs channels divisible by 8; got {c8}")
    c = c8 // 8
    y = y.reshape(b, t, h, w, 2, 2, 2, c)
    # The butterfly is its own inverse up to 2 per axis, which cancels the forward 1/8.
    y = _butterfly3(y, (4, 5, 6))
    y = y.transpose(0, 1, 4, 2, 5, 3, 6, 7)  # [B, T, bt, H, bh, W, bw, C]
    return y.reshape(b, 2 * t, 2 * h, 2 * w, c)


def num_levels(patch_size: int) -> int:
    levels = int(round(math.log2(patch_size)))
    if patch_size < 1 or 2**levels != patch_size:
        raise ValueError(f"patch_size must be a power of two; got {patch_size}")
    return levels


@functools.partial(jax.jit, static_argnames="patch_size")
def patch3d(video: jnp.ndarray, patch_size: int = 4) -> jnp.ndarray:
    """Causal Haar patcher.

    Args:
      video: [B, F, H, W, C], F = 1 + patch_size * k, H and W divisible by patch_size.
    Returns:
      [B, 1 + k, H/p, W/p, C * p**3].
    """
    first = jnp.repeat(video[:, :1], patch_size - 1, axis=1)
    x = jnp.concatenate([first, video], axis=1)
    for _ in range(num_levels(patch_size)):
        x = haar_dwt3d(x)
    return x


@functools.partial(jax.jit, static_argnames="patch_size")
def unpatch3d(x: jnp.ndarray, patch_size: int = 4) -> jnp.ndarray:
    """Inverse of `patch3d`: [B, T, h, w, C * p**3] -> [B, 1 + p*(T-1), h*p, w*p, C]."""
    for _ in range(num_levels(patch_size)):
        x = haar_idwt3d(x)
    return x[:, patch_size - 1 :]
