"""Frame-causal mask semantics and blockwise attention against the dense reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lumos_jax.layout import CAUSAL, PAD
from lumos_jax.model import attention

# text(3) | frame 0 (3) | frame 1 (3) | text(1) | pad(2)
SEG = np.array([CAUSAL] * 3 + [0] * 3 + [1] * 3 + [CAUSAL] + [PAD] * 2, np.int32)


def _mask(seg):
    idx = np.arange(len(seg))[None]
    return np.asarray(
        attention.lumos_mask(
            jnp.asarray(idx), jnp.asarray(seg[None]), jnp.asarray(idx), jnp.asarray(seg[None])
        )
    )[0]


def test_mask_by_hand():
    m = _mask(SEG)
    text, f0, f1, pad = [0, 1, 2], [3, 4, 5], [6, 7, 8], [10, 11]
    for i in text:  # text is causal
        assert m[i].tolist() == [j <= i for j in range(12)], i
    for i in f0:  # frame 0 sees text + all of frame 0, nothing of frame 1
        assert m[i].tolist() == [j in text + f0 for j in range(12)], i
    for i in f1:
        assert m[i].tolist() == [j in text + f0 + f1 for j in range(12)], i
    assert m[9].tolist() == [j <= 9 for j in range(12)]
    for i in pad:  # padding sees only itself and is seen by no real token
        assert m[i].tolist() == [j == i for j in range(12)], i
    assert not m[:10, 10:].any()


def _random_case(rng, b, s, h, hk, d, frames):
    q = jnp.asarray(rng.normal(size=(b, s, h, d)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(b, s, hk, d)), jnp.float32)
    v = jnp.asarray(rng.normal(size=(b, s, hk, d)), jnp.float32)
    segs = []
    for row in range(b):  # text, several frames of random lengths, text, padding
        seg = [CAUSAL] * int(rng.integers(2, 9))
        for f in range(frames):
            seg += [f] * int(rng.integers(5, 30))
        seg += [CAUSAL] * 2
        seg = (seg + [PAD] * s)[: s - 3 * row] + [PAD] * (3 * row)
        segs.append(seg)
    seg = jnp.asarray(np.array(segs, np.int32))
    idx = jnp.broadcast_to(jnp.arange(s, dtype=jnp.int32), (b, s))
    return q, k, v, idx, seg


@pytest.mark.parametrize("block", [(16, 16), (32, 8), (24, 40)])
def test_blockwise_equals_dense_values_and_grads(block):
    rng = np.random.default_rng(0)
    q, k, v, idx, seg = _random_case(rng, b=2, s=100, h=4, hk=2, d=16, frames=3)
    w = jnp.asarray(rng.normal(size=q.shape), jnp.float32)
    real = (seg != PAD)[:, :, None, None]

    def loss(fn, q, k, v):
        return jnp.sum(jnp.where(real, fn(q, k, v) * w, 0.0))

    dense = lambda q, k, v: attention.dense_attention(q, k, v, idx, seg, idx, seg)  # noqa
    blockwise = lambda q, k, v: attention.blockwise_attention(  # noqa: E731
        q, k, v, idx, seg, idx, seg, block_q=block[0], block_k=block[1]
    )
    np.testing.assert_allclose(
        np.asarray(blockwise(q, k, v)), np.asarray(dense(q, k, v)), atol=2e-5
    )
    gd = jax.grad(lambda *a: loss(dense, *a), argnums=(0, 1, 2))(q, k, v)
    gb = jax.jit(jax.grad(lambda *a: loss(blockwise, *a), argnums=(0, 1, 2)))(q, k, v)
    for a, b_ in zip(gd, gb):
        np.testing.assert_allclose(np.asarray(b_), np.asarray(a), atol=5e-5)


def test_needed_blocks_skip_future_blocks_of_pure_text():
    s, blk = 64, 16
    idx = jnp.arange(s, dtype=jnp.int32)[None]
    seg = jnp.full((1, s), CAUSAL, jnp.int32)
    blocks = lambda x: attention._blocks(x, blk)  # noqa: E731
    need = np.asarray(attention._needed_blocks(blocks(idx), blocks(seg), blocks(idx), blocks(seg)))
    np.testing.assert_array_equal(need, np.tril(np.ones((4, 4), bool)))


def test_needed_blocks_keep_a_frame_that_spans_blocks():
    # One frame covering indices 8..40: its first block must see later blocks of it.
    s, blk = 48, 16
    seg = np.full(s, CAUSAL, np.int32)
    seg[8:41] = 0
    idx = jnp.arange(s, dtype=jnp.int32)[None]
    seg = jnp.asarray(seg)[None]
    blocks = lambda x: attention._blocks(x, blk)  # noqa: E731
    need = np.asarray(attention._needed_blocks(blocks(idx), blocks(seg), blocks(idx), blocks(seg)))
    assert need[0].tolist() == [True, True, True]
