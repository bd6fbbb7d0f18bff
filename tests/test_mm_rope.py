"""MM-RoPE allocation, rotation and relative-position property."""

import jax.numpy as jnp
import numpy as np
import pytest

from lumos_jax.model import mm_rope

T, H, W = 0, 1, 2


def test_meta_allocation_head_dim_64_and_128():
    # Reference table: j mod 16: 0-3 t, 4-5 h, 6-7 w, 8-9 h, 10-11 w, 12-13 h, 14-15 w.
    group = [T] * 4 + [H, H, W, W] * 3
    for d, counts in ((64, (8, 12, 12)), (128, (16, 24, 24))):
        alloc = mm_rope.axis_allocation(d, "mmrope")
        assert alloc.shape == (d // 2,)
        np.testing.assert_array_equal(alloc, group * (d // 32))
        assert tuple(np.bincount(alloc, minlength=3)) == counts


def test_mrope_contiguous_and_1d():
    alloc = mm_rope.axis_allocation(128, "mrope")
    np.testing.assert_array_equal(alloc, [T] * 16 + [H] * 24 + [W] * 24)
    np.testing.assert_array_equal(mm_rope.axis_allocation(64, "1d"), np.zeros(32))


def test_bad_head_dim_is_a_clear_error():
    with pytest.raises(ValueError, match="multiple of 16"):
        mm_rope.axis_allocation(48, "mmrope")
    with pytest.raises(ValueError, match="unknown rope variant"):
        mm_rope.axis_allocation(64, "spiral")


def test_inv_freq_formula():
    f = mm_rope.inv_freq(8, 10000.0)
    np.testing.assert_allclose(f, [1.0, 10000**-0.25, 10000**-0.5, 10000**-0.75])


def _numpy_rope(x, pos, alloc, freqs):
    """Independent implementation: pair (x_j, x_{j+d/2}) as a complex number."""
    half = x.shape[-1] // 2
    angle = pos[..., alloc] * freqs  # [S, half]
    z = (x[..., :half] + 1j * x[..., half:]) * np.exp(1j * angle)[:, None, :]
    return np.concatenate([z.real, z.imag], -1)


def test_apply_rope_matches_complex_rotation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 2, 64)).astype(np.float32)  # [S, N, D]
    pos = rng.integers(0, 3000, size=(5, 3))
    ang = mm_rope.rope_angles(jnp.asarray(pos), 64)
    got = np.asarray(mm_rope.apply_rope(jnp.asarray(x), ang))
    want = _numpy_rope(x, pos, mm_rope.axis_allocation(64), mm_rope.inv_freq(64))
    np.testing.assert_allclose(got, want, atol=2e-3, rtol=1e-3)


def test_text_tokens_get_plain_1d_rope():
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(4, 1, 32)), jnp.float32)
    idx = np.arange(4)
    pos3 = jnp.asarray(np.stack([idx] * 3, 1))
    a = mm_rope.apply_rope(x, mm_rope.rope_angles(pos3, 32, variant="mmrope"))
    b = mm_rope.apply_rope(x, mm_rope.rope_angles(pos3, 32, variant="1d"))
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


@pytest.mark.parametrize("variant", ["mmrope", "mrope"])
def test_dot_product_depends_only_on_per_axis_differences(variant):
    rng = np.random.default_rng(2)
    d = 64
    q = jnp.asarray(rng.normal(size=(1, 1, d)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(1, 1, d)), jnp.float32)

    def score(pq, pk):
        aq = mm_rope.rope_angles(jnp.asarray([pq]), d, variant=variant)
        ak = mm_rope.rope_angles(jnp.asarray([pk]), d, variant=variant)
        return float(jnp.sum(mm_rope.apply_rope(q, aq) * mm_rope.apply_rope(k, ak)))

    base = score([10, 20, 30], [3, 5, 9])
    # Shifting both by the same per-axis offset leaves the score unchanged ...
    assert score([10 + 7, 20 - 4, 30 + 11], [3 + 7, 5 - 4, 9 + 11]) == pytest.approx(base, abs=1e-3)
    # ... while changing one axis' difference changes it (each axis is really used).
    for axis in range(3):
        pq = [10, 20, 30]
        pq[axis] += 5
        assert abs(score(pq, [3, 5, 9]) - base) > 1e-2, f"axis {axis} has no effect"


def test_inv_freq_is_rounded_in_float32_like_the_release():
    """By hand: each step of 1 / theta^(j/d) rounded to float32 (exact float64 arithmetic
    on float32 inputs, then rounding, is what a correctly rounded float32 op gives)."""
    for d, theta in ((64, 10000.0), (128, 10000.0), (32, 500000.0)):
        got = mm_rope.inv_freq(d, theta)
        assert got.dtype == np.float32
        exp = np.float32(np.arange(0, d, 2, dtype=np.float64) / d)  # j and d exact
        power = np.float32(np.float64(theta) ** np.float64(exp))
        want = np.float32(1.0 / np.float64(power))
        np.testing.assert_array_equal(got, want)
    once = np.float32(10000.0 ** (-np.arange(0, 64, 2, dtype=np.float64) / 64))
    assert (mm_rope.inv_freq(64) != once).sum() >= 5  # rounding once differs (1 ulp)


def test_inv_freq_matches_torch_float32():
    torch = pytest.importorskip("torch")
    for d in (32, 64, 128):
        want = 1.0 / (10000.0 ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
        np.testing.assert_array_equal(mm_rope.inv_freq(d), want.numpy())
