# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Haar patcher: exact inversion, Cosmos band/channel order, causal frame grouping."""

import itertools

import jax.numpy as jnp
import numpy as np
import pytest

from lumos_jax.tokenizer import haar


def _reference_dwt(x: np.ndarray) -> np.ndarray:
    """One level straight from the definition: band (bt, bh, bw) at channel band*C + c is
    sum over the 2x2x2 block of x * (+-1 per high axis) * (1/sqrt2)^3 / (2 sqrt2)."""
    b, t, h, w, c = x.shape
    out = np.zeros((b, t // 2, h // 2, w // 2, 8 * c), x.dtype)
    norm = (1 / np.sqrt(2)) ** 3 / (2 * np.sqrt(2))
    for bt, bh, bw in itertools.product((0, 1), repeat=3):
        band = 4 * bt + 2 * bh + bw
        acc = 0
        for i, j, k in itertools.product((0, 1), repeat=3):
            sign = (-1) ** (bt * i + bh * j + bw * k)
            acc = acc + sign * x[:, i::2, j::2, k::2, :]
        out[..., band * c : (band + 1) * c] = acc * norm
    return out


def test_round_trip_is_exact_on_dyadic_values():
    rng = np.random.default_rng(0)
    # Integers: every Haar sum / 8 is a short dyadic fraction, so float32 is exact.
    video = rng.integers(-128, 128, size=(2, 9, 16, 24, 3)).astype(np.float32)
    patches = haar.patch3d(jnp.asarray(video), 4)
    assert patches.shape == (2, 3, 4, 6, 192)
    np.testing.assert_array_equal(np.asarray(haar.unpatch3d(patches, 4)), video)


@pytest.mark.parametrize("frames", [1, 17])
def test_round_trip_random_floats(frames):
    video = np.random.default_rng(1).uniform(-1, 1, (1, frames, 8, 8, 3)).astype(np.float32)
    patches = haar.patch3d(jnp.asarray(video), 4)
    assert patches.shape == (1, 1 + (frames - 1) // 4, 2, 2, 192)
    np.testing.assert_allclose(np.asarray(haar.unpatch3d(patches, 4)), video, atol=1e-6)


def test_matches_definition_including_frame0_repeat_and_channel_order():
    video = np.random.default_rng(2).normal(size=(1, 5, 8, 8, 3)).astype(np.float64)
    x = np.concatenate([np.repeat(video[:, :1], 3, axis=1), video], axis=1)
    expected = _reference_dwt(_reference_dwt(x))
    got = np.asarray(haar.patch3d(jnp.asarray(video, jnp.float32), 4))
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_band_order_width_high_pass():
    # +1/-1 alternating along W only: level 1 puts it all in LLH (band 1, channels 3..5);
    # level 2 keeps it in that band's LLL: output channel 0 * 24 + 1 * 3 + c.
    sign = np.where(np.arange(8) % 2 == 0, 1.0, -1.0).astype(np.float32)
    video = np.broadcast_to(sign[None, None, None, :, None], (1, 5, 8, 8, 3))
    out = np.asarray(haar.patch3d(jnp.asarray(video), 4))
    np.testing.assert_allclose(out[..., 3:6], 1.0, atol=1e-6)
    np.testing.assert_allclose(np.delete(out, [3, 4, 5], axis=-1), 0.0, atol=1e-6)
    # Low-pass band (channels 0..2) is the mean of each 4x4x4 block.
    const = np.full((1, 5, 8, 8, 3), 0.25, np.float32)
    np.testing.assert_allclose(
        np.asarray(haar.patch3d(jnp.asarray(const), 4))[..., :3], 0.25, atol=1e-6
    )


def test_causal_grouping():
    rng = np.random.default_rng(3)
    video = rng.normal(size=(1, 9, 8, 8, 3)).astype(np.float32)
    base = np.asarray(haar.patch3d(jnp.asarray(video), 4))
    for k in range(9):
        moved = video.copy()
        moved[:, k] += 1.0
        diff = np.abs(np.asarray(haar.patch3d(jnp.asarray(moved), 4)) - base).max(axis=(0, 2, 3, 4))
        group = 0 if k == 0 else (k - 1) // 4 + 1  # latent 0 <- frame 0, latent 1 <- 1..4, ...
        assert np.all(diff[:group] == 0) and diff[group] > 0 and np.all(diff[group + 1 :] == 0), k


def test_rejects_odd_sizes():
    with pytest.raises(ValueError, match="even"):
        haar.patch3d(jnp.zeros((1, 5, 6, 8, 3)), 4)
