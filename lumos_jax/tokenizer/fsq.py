# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Finite scalar quantisation (FSQ) as pure functions, Cosmos-Tokenizer variant.

FSQ: Mentzer et al., "Finite Scalar Quantization: VQ-VAE Made Simple" (arXiv 2309.15505).
The bound follows Cosmos-Tokenizer's `FSQuantizer.bound` (NVIDIA, Apache-2.0), which uses
shift = atanh(offset / half_l) where the paper's listing uses tan:
  half_l = (L - 1)(1 + eps) / 2,  offset = 0.5 if L even else 0,
  bounded = tanh(z + shift) * half_l - offset,
then round (straight-through) and divide by half_width = L // 2, so codes lie in [-1, 1).
Index = sum_i digit_i * basis_i, digit_i = code_i * half_width_i + half_width_i,
basis = cumprod([1] + levels[:-1]) (first dimension least significant).
For levels [8, 8, 8, 5, 5, 5]: basis [1, 8, 64, 512, 2560, 12800], 64,000 codes.
"""

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

BOUND_EPS = 1e-3


def _levels(levels: Sequence[int]) -> np.ndarray:
    arr = np.asarray(levels, np.int64)
    if arr.ndim != 1 or arr.size == 0 or (arr < 2).any():
        raise ValueError(f"FSQ levels must be a non-empty list of ints >= 2; got {levels}")
    return arr


def codebook_size(levels: Sequence[int]) -> int:
    return int(np.prod(_levels(levels)))


def basis(levels: Sequence[int]) -> np.ndarray:
    """[d] int64 place values of each dimension's digit (first dim least significant)."""
    lv = _levels(levels)
    return np.cumprod(np.concatenate([[1], lv[:-1]]))


def bound(z: jnp.ndarray, levels: Sequence[int], eps: float = BOUND_EPS) -> jnp.ndarray:
    """Squash z [..., d] into (-(L-1)(1+eps)/2 - offset, (L-1)(1+eps)/2 - offset)."""
    lv = _levels(levels).astype(np.float64)
    half_l = (lv - 1) * (1 + eps) / 2
    offset = np.where(lv % 2 == 0, 0.5, 0.0)
    # Shift makes bound(0) == 0 for even L, whose grid is asymmetric ({-L/2 .. L/2 - 1}).
    shift = np.arctanh(offset / half_l)
    dt = z.dtype
    return jnp.tanh(z + shift.astype(dt)) * half_l.astype(dt) - offset.astype(dt)


def round_ste(x: jnp.ndarray) -> jnp.ndarray:
    """Round to nearest (ties to even, like torch.round) with identity gradient."""
    return x + jax.lax.stop_gradient(jnp.round(x) - x)


def quantize(z: jnp.ndarray, levels: Sequence[int]) -> jnp.ndarray:
    """z [..., d] float -> normalised codes [..., d] on the FSQ grid, straight-through."""
    half_width = (_levels(levels) // 2).astype(np.float32)
    return round_ste(bound(z, levels)) / half_width.astype(z.dtype)


def quantize_noisy(
    z: jnp.ndarray, levels: Sequence[int], key: jax.Array, fraction: float
) -> jnp.ndarray:
    """Training-time FSQ with additive uniform noise (Balle et al., "End-to-end Optimized
    Image Compression", arXiv 1611.01704): on a random `fraction` of the latent vectors the
    rounding is replaced by U(-0.5, 0.5) noise of one quantisation step, elsewhere it is
    `quantize`. Why: with rounding alone, two inputs whose bounded latents fall in one bin
    get one code, and the straight-through gradient cannot tell the decoder's response to
    moving them apart; the noise shows the decoder a continuum, so the encoder learns to
    keep inputs the loss tells apart more than a step apart (measured on ShapesMotion:
    circle and square cells 0.13 of a step apart, one code, under rounding alone).
    z: [..., d] -> normalised codes [..., d] (gradients flow through both paths)."""
    half_width = (_levels(levels) // 2).astype(np.float32)
    b = bound(z, levels)
    k_noise, k_pick = jax.random.split(key)
    noisy = b + jax.random.uniform(k_noise, b.shape, b.dtype, -0.5, 0.5)
    pick = jax.random.uniform(k_pick, b.shape[:-1] + (1,)) < fraction
    return jnp.where(pick, noisy, round_ste(b)) / half_width.astype(z.dtype)


def codes_to_indices(codes: jnp.ndarray, levels: Sequence[int]) -> jnp.ndarray:
    """Normalised codes [..., d] -> int32 indices [...]."""
    lv = _levels(levels)
    half_width = lv // 2
    # Round guards against float error; digits are exact integers in [0, L).
    digits = jnp.round(codes.astype(jnp.float32) * half_width + half_width).astype(jnp.int32)
    return jnp.sum(digits * jnp.asarray(basis(levels), jnp.int32), axis=-1)


def indices_to_digits(indices: jnp.ndarray, levels: Sequence[int]) -> jnp.ndarray:
    """int indices [...] -> int32 digits [..., d], digit_i in [0, L_i)."""
    lv = jnp.asarray(_levels(levels), jnp.int32)
    b = jnp.asarray(basis(levels), jnp.int32)
    return (indices.astype(jnp.int32)[..., None] // b) % lv


def indices_to_codes(indices: jnp.ndarray, levels: Sequence[int], dtype=jnp.float32) -> jnp.ndarray:
    """int indices [...] -> normalised codes [..., d] in [-1, 1)."""
    half_width = jnp.asarray(_levels(levels) // 2, jnp.float32)
    digits = indices_to_digits(indices, levels).astype(jnp.float32)
    return ((digits - half_width) / half_width).astype(dtype)
