# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""MM-RoPE as pure functions (Lumos-1 paper, section 3 of ../shared/lumos1-reference.md).

Every token carries 3 positions (t, h, w). Each of the head_dim/2 RoPE frequencies is
assigned to one axis; the angle of frequency j is pos[axis_j] * inv_freq_j. Text tokens
have t = h = w = sequence index, so for them every variant reduces to plain 1-D RoPE.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

T, H, W = 0, 1, 2
# "Meta MM-RoPE": inside a group of 16 frequencies, j mod 16 -> axis.
META_GROUP = (T, T, T, T, H, H, W, W, H, H, W, W, H, H, W, W)
VARIANTS = ("mmrope", "mrope", "1d")


def inv_freq(head_dim: int, theta: float = 10000.0) -> np.ndarray:
    """inv_freq_j = 1 / theta^(2j/d), j < d/2, float32 [d/2].

    Rounded step by step in float32 as the release (and Hugging Face's Llama/Chameleon)
    computes it, `1.0 / (base ** (arange(0, d, 2).float() / d))`: exponent, power and
    reciprocal each rounded to float32. Computing in float64 and rounding once differs
    in ~1/3 of the entries by 1 ulp, which grows to ~1e-3 rad at 30k positions.
    """
    if head_dim % 2:
        raise ValueError(f"head_dim must be even for RoPE, got {head_dim}")
    exponent = np.arange(0, head_dim, 2, dtype=np.float32) / np.float32(head_dim)
    # A correctly rounded float32 power (torch's), formed in float64 and rounded once:
    # numpy's own float32 power is off by 1 ulp on some entries.
    power = np.float32(np.float64(np.float32(theta)) ** exponent.astype(np.float64))
    return np.float32(1.0) / power


def axis_allocation(head_dim: int, variant: str = "mmrope") -> np.ndarray:
    """Axis (0=t, 1=h, 2=w) of each of the head_dim/2 frequencies.

    mmrope: distributed 16-frequency meta groups (t:h:w = 4:6:6, h/w interleaved in pairs).
    mrope:  contiguous blocks in the same 2:3:3 ratio, t on the high-frequency block.
    1d:     every frequency on axis t (positions then carry the sequence index).
    """
    half = head_dim // 2
    if variant == "mmrope":
        if head_dim % 2 or half % len(META_GROUP):
            raise ValueError(
                f"MM-RoPE needs head_dim/2 to be a multiple of {len(META_GROUP)} (whole "
                f"meta groups); head_dim={head_dim} gives {half} frequencies"
            )
        return np.tile(np.asarray(META_GROUP, np.int32), half // len(META_GROUP))
    if variant == "mrope":
        if head_dim % 2 or half % 8:
            raise ValueError(f"mrope needs head_dim/2 divisible by 8 (2:3:3), got {head_dim}")
        nt, nh = half // 4, 3 * half // 8
        return np.concatenate([np.full(nt, T), np.full(nh, H), np.full(half - nt - nh, W)]).astype(
            np.int32
        )
    if variant == "1d":
        return np.zeros(half, np.int32)
    raise ValueError(f"unknown rope variant {variant!r}; expected one of {VARIANTS}")


def rope_angles(positions, head_dim: int, *, variant: str = "mmrope", theta: float = 10000.0):
    """positions [..., 3] int -> angles [..., head_dim/2] float32.

    Positions can be ~30k; the product is formed in float32 like the release's fp32 RoPE.
    """
    alloc = axis_allocation(head_dim, variant)
    freqs = jnp.asarray(inv_freq(head_dim, theta), jnp.float32)
    pos = jnp.take(positions, jnp.asarray(alloc), axis=-1).astype(jnp.float32)
    return pos * freqs


def apply_rope(x, angles):
    """Rotate-half RoPE. x [..., S, N, D], angles [..., S, D/2] -> same shape/dtype as x.

    cos/sin of length D are [angles, angles]; rotate_half(x) = [-x2, x1].
    """
    cos = jnp.cos(angles)[..., None, :]
    sin = jnp.sin(angles)[..., None, :]
    x32 = x.astype(jnp.float32)
    x1, x2 = jnp.split(x32, 2, axis=-1)
    out = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    return out.astype(x.dtype)
