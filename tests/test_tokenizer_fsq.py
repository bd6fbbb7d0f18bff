# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""FSQ: Cosmos bound (atanh shift), grid, index <-> code round trip, straight-through grad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lumos_jax.tokenizer import fsq

LEVELS = (8, 8, 8, 5, 5, 5)


def test_basis_and_codebook_size():
    np.testing.assert_array_equal(fsq.basis(LEVELS), [1, 8, 64, 512, 2560, 12800])
    assert fsq.codebook_size(LEVELS) == 64_000
    assert fsq.codebook_size((8, 5, 5, 5)) == 1000


# Hand-computed with half_l = (L-1)(1.001)/2 (3.5035 for L=8, 2.002 for L=5),
# offset 0.5 / 0, shift = atanh(offset / half_l), bound = tanh(z + shift) * half_l - offset.
BOUND_CASES = {
    8: {
        0.0: 0.0,
        1.0: 2.3576462031544567,
        -0.7: -2.2700750211694882,
        2.5: 2.9682582300450853,
        30.0: 3.0035,
        -30.0: -4.0035,
    },
    5: {
        0.0: 0.0,
        1.0: 1.524711500223441,
        -0.7: -1.2099442897885615,
        2.5: 1.9752018248991632,
        30.0: 2.002,
        -30.0: -2.002,
    },
}


@pytest.mark.parametrize("level", [8, 5])
def test_bound_values(level):
    zs = np.array(list(BOUND_CASES[level]), np.float32)
    want = np.array(list(BOUND_CASES[level].values()), np.float32)
    got = np.asarray(fsq.bound(jnp.asarray(zs)[:, None], (level,)))[:, 0]
    # atol 2e-6 separates atanh from the FSQ paper's tan shift (bound(0) = -1.4e-5 for L=8).
    np.testing.assert_allclose(got, want, atol=2e-6)


def test_quantize_grid():
    z = jnp.asarray([[0.0, 1.0, -0.7, 2.5, 30.0, -30.0]], jnp.float32).T  # [6, 1]
    z = jnp.tile(z, (1, 6))  # same z in every dimension
    codes = np.asarray(fsq.quantize(z, LEVELS))
    # L=8: rounded bound {0, 2, -2, 3, 3, -4} / 4; L=5: {0, 2, -1, 2, 2, -2} / 2.
    np.testing.assert_array_equal(codes[:, 0], [0, 0.5, -0.5, 0.75, 0.75, -1.0])
    np.testing.assert_array_equal(codes[:, 5], [0, 1.0, -0.5, 1.0, 1.0, -1.0])
    idx = np.asarray(fsq.codes_to_indices(jnp.asarray(codes), LEVELS))
    # digits = code * (L // 2) + L // 2; e.g. z=1: [6,6,6,4,4,4] -> 6*(1+8+64) + 4*(512+2560+12800)
    assert idx[1] == 6 * 73 + 4 * 15872
    assert idx[5] == 0 and idx[4] == 7 * 73 + 4 * 15872 == 63_999  # all-min, all-max


def test_index_code_round_trip_all_64000():
    idx = jnp.arange(64_000, dtype=jnp.int32)
    codes = fsq.indices_to_codes(idx, LEVELS)
    assert codes.shape == (64_000, 6)
    c = np.asarray(codes)
    assert c.min() == -1.0 and c[:, :3].max() == 0.75 and c[:, 3:].max() == 1.0
    np.testing.assert_array_equal(np.asarray(fsq.codes_to_indices(codes, LEVELS)), idx)
    # Codes are fixed points of quantize's grid: distinct and complete.
    assert len({tuple(r) for r in c.tolist()}) == 64_000


def test_known_digits():
    digits = np.array([1, 2, 3, 4, 0, 1])
    idx = 1 * 1 + 2 * 8 + 3 * 64 + 4 * 512 + 0 * 2560 + 1 * 12800
    assert idx == 15057
    np.testing.assert_array_equal(np.asarray(fsq.indices_to_digits(jnp.int32(idx), LEVELS)), digits)
    np.testing.assert_allclose(
        np.asarray(fsq.indices_to_codes(jnp.int32(idx), LEVELS)),
        (digits - np.array([4, 4, 4, 2, 2, 2])) / [4, 4, 4, 2, 2, 2],
    )


def test_straight_through_gradient():
    z = jnp.asarray([[0.3, -0.2, 1.1, 0.0, 0.4, -1.5]], jnp.float32)
    g = jax.grad(lambda v: fsq.quantize(v, LEVELS).sum())(z)
    # d/dz [bound(z) / half_width] = (1 - tanh^2(z + shift)) * half_l / half_width.
    lv = np.array(LEVELS, np.float64)
    half_l = (lv - 1) * 1.001 / 2
    shift = np.arctanh(np.where(lv % 2 == 0, 0.5, 0.0) / half_l)
    want = (1 - np.tanh(np.asarray(z, np.float64) + shift) ** 2) * half_l / (lv // 2)
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-5)


def test_rejects_bad_levels():
    with pytest.raises(ValueError, match="levels"):
        fsq.basis([8, 1])


def test_quantize_noisy_rounds_or_adds_one_step_of_noise():
    import jax

    levels = (8, 5, 5, 5)
    z = jax.random.normal(jax.random.key(0), (512, 4)) * 2
    key = jax.random.key(1)
    np.testing.assert_array_equal(fsq.quantize_noisy(z, levels, key, 0.0), fsq.quantize(z, levels))
    half = np.asarray(levels) // 2
    bounded = np.asarray(fsq.bound(z, levels))
    noisy = np.asarray(fsq.quantize_noisy(z, levels, key, 1.0)) * half
    off = noisy - bounded
    assert np.abs(off).max() <= 0.5 + 1e-6 and off.std() > 0.2  # ~U(-0.5, 0.5): std 0.29
    assert not np.allclose(noisy, np.round(noisy))  # not on the grid
    mixed = np.asarray(fsq.quantize_noisy(z, levels, key, 0.5)) * half
    on_grid = np.all(np.isclose(mixed, np.round(bounded)), axis=-1)
    assert 0.35 < on_grid.mean() < 0.65  # about half the vectors rounded, whole vectors
    # Gradients reach z through both paths (straight-through and noise).
    g = jax.grad(lambda x: fsq.quantize_noisy(x, levels, key, 0.5).sum())(z)
    assert np.all(np.asarray(g) > 0)
