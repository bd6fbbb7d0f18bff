# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The one uint8 <-> [-1, 1] conversion and PSNR, against hand-derived values."""

import jax
import jax.numpy as jnp
import numpy as np

from lumos_jax import pixels


def test_uint8_and_model_range():
    frames = np.array([0, 1, 127, 128, 255], np.uint8)
    # x / 127.5 - 1: 0 -> -1, 255 -> 1, 127 -> -0.5/127.5, 128 -> 0.5/127.5.
    want = np.array([-1.0, 1 / 127.5 - 1, -0.5 / 127.5, 0.5 / 127.5, 1.0], np.float32)
    got = pixels.to_model_range(frames)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(pixels.to_uint8(got), frames)  # round trip
    # Out of range values clip; halfway values round to even: (x + 1) * 127.5 = 0.5 -> 0.
    np.testing.assert_array_equal(pixels.to_uint8([-3.0, 3.0, 0.5 / 127.5 - 1]), [0, 255, 0])
    # Inside jit too (the tokenizer trainer scales uint8 batches on the device).
    # (XLA may divide as a multiply by 1 / 127.5: within an ulp.)
    np.testing.assert_allclose(
        jax.jit(pixels.to_model_range)(jnp.asarray(frames)), want, rtol=0, atol=2.4e-7
    )


def test_psnr_db():
    # mse 1 at peak 255: 20 log10(255) = 48.1308 dB; mse 0.04 at peak 2: 10 log10(100) = 20.
    np.testing.assert_allclose(pixels.psnr_db(1.0), 48.130803608679, rtol=1e-12)
    np.testing.assert_allclose(
        pixels.psnr_db(np.array([0.04, 4.0]), peak=2.0), [20.0, 0.0], rtol=1e-12
    )
    assert pixels.psnr_db(0.0, peak=2.0) == 10 * np.log10(4 / 1e-10)  # the floor
    traced = jax.jit(lambda m: pixels.psnr_db(m, peak=2.0))(jnp.float32(0.04))
    np.testing.assert_allclose(float(traced), 20.0, rtol=1e-6)
