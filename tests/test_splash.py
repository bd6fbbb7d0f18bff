"""Splash attention (Pallas interpret mode on CPU) against the dense reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from model_util import random_batch, tiny_config

from lumos_jax.layout import CAUSAL, PAD
from lumos_jax.model import attention, splash
from lumos_jax.model.decoder import Decoder


def _case(rng, s, h, hk, d, text, frame_lens, tail):
    """One row per entry of `text`: text tokens, frames of frame_lens, tail text, padding."""
    b = len(text)
    q = jnp.asarray(rng.normal(size=(b, s, h, d)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(b, s, hk, d)), jnp.float32)
    v = jnp.asarray(rng.normal(size=(b, s, hk, d)), jnp.float32)
    rows = []
    for n in text:
        seg = [CAUSAL] * n
        for f, length in enumerate(frame_lens):
            seg += [f] * length
        seg += [CAUSAL] * tail
        rows.append((seg + [PAD] * s)[:s])
    return q, k, v, jnp.asarray(np.array(rows, np.int32))


# (seq, heads, kv heads, text lengths per row, frame lengths, band): frames inside one
# 128-block, and frames spanning blocks with GQA and a row that ends without padding.
CASES = [(256, 4, 2, (5, 18), (40, 40, 40, 40), 40), (384, 4, 1, (3, 100), (150, 120), 150)]


@pytest.mark.parametrize("s,h,hk,text,frames,band", CASES)
def test_splash_equals_dense_values_and_grads(s, h, hk, text, frames, band):
    rng = np.random.default_rng(0)
    q, k, v, seg = _case(rng, s, h, hk, 32, text, frames, tail=2)
    idx = jnp.broadcast_to(jnp.arange(s, dtype=jnp.int32), seg.shape)
    w = jnp.asarray(rng.normal(size=q.shape), jnp.float32)

    def dense(q, k, v):
        return attention.dense_attention(q, k, v, idx, seg, idx, seg)

    def fast(q, k, v):
        return splash.splash_attention(q, k, v, seg, band=band, interpret=True)

    # Every row, padding included: both rules let a pad see only itself.
    np.testing.assert_allclose(np.asarray(fast(q, k, v)), np.asarray(dense(q, k, v)), atol=1e-5)
    loss = lambda fn: lambda *a: jnp.sum(fn(*a) * w)  # noqa: E731
    gd = jax.grad(loss(dense), argnums=(0, 1, 2))(q, k, v)
    gs = jax.grad(loss(fast), argnums=(0, 1, 2))(q, k, v)
    for name, a, b in zip("qkv", gd, gs):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=5e-5, err_msg=name)


def test_part_segment_ids():
    seg = jnp.asarray([[CAUSAL, CAUSAL, 0, 0, 1, CAUSAL, PAD, PAD]], jnp.int32)
    a, b = splash.part_segment_ids(seg)
    assert a.tolist() == [[0, 0, 0, 0, 0, 0, 7, 8]]  # real tokens 0, each pad its own
    assert b.tolist() == [[-1, -2, 0, 0, 1, -6, -7, -8]]  # frames f, others their own


def test_a_frame_longer_than_the_band_poisons_the_output(capfd):
    seg = jnp.asarray([[CAUSAL] * 2 + [0] * 5 + [1] * 3 + [PAD] * 2], jnp.int32)
    x = jnp.ones((1, 12, 4))
    np.testing.assert_array_equal(np.asarray(splash.poison_long_frames(x, seg, 5)), 1.0)
    assert capfd.readouterr().out == ""
    assert np.isnan(
        np.asarray(jax.jit(splash.poison_long_frames, static_argnums=2)(x, seg, 4))
    ).all()
    out = capfd.readouterr().out
    assert "a frame of 5 tokens" in out and "model.max_frame_tokens=4" in out


def test_unsupported_shapes_are_one_clear_error():
    q = jnp.zeros((1, 200, 2, 8))
    seg = jnp.zeros((1, 200), jnp.int32)
    with pytest.raises(ValueError, match="sequence length 200 is not a multiple of 128"):
        splash.splash_attention(q, q, q, seg, band=8, interpret=True)
    with pytest.raises(ValueError, match="max_frame_tokens >= 2"):
        splash.splash_attention(q, q, q, seg, band=0, interpret=True)


def test_decoder_with_splash_equals_dense():
    batch = random_batch(batch=2, frames=3, rows=2, cols=3, length=128)
    band = 3 + 2 * 4 + 1  # tokens_per_frame(2, 3)
    models = [
        Decoder(tiny_config(attention=a, max_frame_tokens=band, num_layers=2), rngs=nnx.Rngs(0))
        for a in ("dense", "splash")
    ]
    real = np.asarray(batch["segments"] != PAD)
    outs = [
        np.asarray(m(batch["tokens"], batch["positions"], batch["segments"])[0]) for m in models
    ]
    np.testing.assert_allclose(outs[1][real], outs[0][real], atol=1e-4)


def test_visited_blocks_match_the_kernels_mask_info():
    from jax.experimental.pallas.ops.tpu import splash_attention as sa

    for seq, band in [(512, 76), (1024, 300), (768, 2), (768, 257)]:
        block, a, b = splash.visited_blocks(seq, band)
        for mask, want in [
            (sa.CausalMask((seq, seq)), a),
            (sa.LocalMask((seq, seq), (-1, band - 1), 0), b),
        ]:
            n = seq // block
            dense = np.asarray(mask[0:seq, 0:seq]).reshape(n, block, n, block)
            assert int(dense.any(axis=(1, 3)).sum()) == want, (seq, band)
