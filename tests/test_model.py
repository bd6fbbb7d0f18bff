"""Decoder: loss chunking, frame-causality, remat/scan equivalence, KV cache, sharding."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from model_util import VOCAB, random_batch, tiny_model

from lumos_jax import layout, parallel
from lumos_jax.model.loss import visual_cross_entropy


def _loss(model, batch, chunk=16):
    h, _ = model(batch["tokens"], batch["positions"], batch["segments"])
    cfg = model.cfg
    return visual_cross_entropy(
        h,
        model.lm_head[...],
        batch["labels"],
        chunk=chunk,
        visual_offset=cfg.visual_offset,
        visual_size=cfg.visual_size,
    )[0]


def test_chunked_loss_equals_unchunked_and_numpy():
    rng = np.random.default_rng(0)
    b, s, e, v_off, v_size = 2, 37, 8, 10, 20
    h = jnp.asarray(rng.normal(size=(b, s, e)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(e, v_off + v_size + 5)), jnp.float32)
    labels = np.where(rng.random((b, s)) < 0.4, rng.integers(v_off, v_off + v_size, (b, s)), -1)
    labels = jnp.asarray(labels)
    kw = dict(visual_offset=v_off, visual_size=v_size, z_loss=1e-3)
    f = lambda hh, ww, c: visual_cross_entropy(hh, ww, labels, chunk=c, **kw)[0]  # noqa
    full, chunked = f(h, w, None), f(h, w, 8)
    # Independent numpy reference over the visual slice only.
    logits = np.einsum("bse,ev->bsv", np.asarray(h), np.asarray(w)[:, v_off : v_off + v_size])
    lse = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
    m = np.asarray(labels) >= 0
    tgt = np.take_along_axis(logits, np.clip(np.asarray(labels) - v_off, 0, None)[..., None], -1)[
        ..., 0
    ]
    want = (lse - tgt)[m].mean() + 1e-3 * (lse[m] ** 2).mean()
    assert float(full) == pytest.approx(want, rel=1e-5)
    assert float(chunked) == pytest.approx(want, rel=1e-5)
    g_full = jax.grad(f, argnums=(0, 1))(h, w, None)
    g_chunk = jax.grad(f, argnums=(0, 1))(h, w, 8)
    for a, b_ in zip(g_full, g_chunk):
        np.testing.assert_allclose(np.asarray(b_), np.asarray(a), atol=1e-6)


@pytest.mark.parametrize("z_loss", [0.0, 1e-3])
def test_fused_loss_head_equals_autodiff_and_scales_with_the_cotangent(z_loss):
    """The fused custom VJP (gradient formed in the forward pass) against plain autodiff
    of the same objective: values, aux and gradients, with padding (37 = 4 x 8 + 5),
    labels outside the visual slice, and an outer factor the backward pass must apply."""
    rng = np.random.default_rng(1)
    b, s, e, v_off, v_size = 2, 37, 8, 10, 20
    h = jnp.asarray(rng.normal(size=(b, s, e)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(e, v_off + v_size + 5)), jnp.float32)
    labels = rng.integers(0, v_off + v_size + 5, (b, s))
    labels[rng.random((b, s)) < 0.3] = -1
    labels = jnp.asarray(labels)
    kw = dict(visual_offset=v_off, visual_size=v_size, z_loss=z_loss, chunk=8)

    def f(hh, ww, fused):
        loss, aux = visual_cross_entropy(hh, ww, labels, fused=fused, **kw)
        return 3.0 * loss + 0.5 * aux["objective"], aux

    (v_ref, aux_ref), g_ref = jax.value_and_grad(f, argnums=(0, 1), has_aux=True)(h, w, False)
    (v_fus, aux_fus), g_fus = jax.value_and_grad(f, argnums=(0, 1), has_aux=True)(h, w, True)
    assert float(v_fus) == pytest.approx(float(v_ref), rel=1e-6)
    assert float(f(h, w, True)[0]) == pytest.approx(float(v_ref), rel=1e-6)  # undifferentiated
    for k in aux_ref:
        np.testing.assert_allclose(
            np.asarray(aux_fus[k]), np.asarray(aux_ref[k]), rtol=1e-6, atol=1e-6, err_msg=k
        )
    assert float(np.abs(np.asarray(g_ref[1])[:, :v_off]).max()) == 0  # text ids: no grad
    for a, b_ in zip(g_ref, g_fus):
        np.testing.assert_allclose(np.asarray(b_), np.asarray(a), rtol=1e-5, atol=1e-6)


def test_frame_causality_through_the_whole_model():
    model = tiny_model()
    batch = random_batch(batch=1, frames=3)
    seg = np.asarray(batch["segments"][0])
    hid = lambda toks: np.asarray(model(toks, batch["positions"], batch["segments"])[0][0])  # noqa
    base = hid(batch["tokens"])
    f1 = np.flatnonzero(seg == 1)
    changed = batch["tokens"].at[0, f1[-2]].set(VOCAB.visual_offset + 7)
    diff = np.abs(hid(changed) - base).max(-1)
    assert diff[seg == 0].max() == 0 and diff[: f1[0]].max() == 0, "earlier tokens saw frame 1"
    assert diff[f1[0]] > 0, "frame 1's first token must see its whole frame"
    assert diff[seg == 2].min() > 0, "frame 2 must see frame 1"


@pytest.mark.parametrize(
    "overrides",
    [
        dict(remat="none"),
        dict(remat="dots"),
        dict(scan_layers=False),
        dict(attention="blockwise", block_q=16, block_k=16),
    ],
)
def test_model_variants_give_same_loss_and_grads(overrides):
    batch = random_batch()
    ref_model = tiny_model()
    model = tiny_model(**overrides)
    l0, g0 = jax.jit(jax.value_and_grad(_loss))(ref_model, batch)
    l1, g1 = jax.jit(jax.value_and_grad(_loss))(model, batch)
    assert float(l1) == pytest.approx(float(l0), rel=1e-5)
    for a, b in zip(jax.tree.leaves(g0), jax.tree.leaves(g1)):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=2e-6)


def _rows(batch, starts, n):
    """Per-row slices [start_b, start_b + n) of every [B, S, ...] field."""
    return {
        k: jnp.stack([batch[k][b, s : s + n] for b, s in enumerate(starts)])
        for k in ("tokens", "positions", "segments")
    }


def _call(model, part, cache):
    return model(part["tokens"], part["positions"], part["segments"], cache=cache)


@pytest.mark.parametrize("attention", ["dense", "blockwise"])
def test_kv_cache_incremental_equals_full_forward_and_crop(attention):
    """Rows with different prompt lengths: prefill, then frame by frame, with a crop."""
    model = tiny_model(attention=attention, block_q=8, block_k=16)
    full = random_batch(batch=2, frames=3, length=64, seed=3)
    seg = np.asarray(full["segments"])
    starts = [[int(np.flatnonzero(seg[b] == f)[0]) for f in range(3)] for b in range(2)]
    assert starts[0][0] != starts[1][0], "test needs rows with different prompt lengths"
    per = starts[0][1] - starts[0][0]
    h_full, _ = model(full["tokens"], full["positions"], full["segments"])
    cache = model.init_cache(batch=2, max_len=64, dtype=jnp.float32)
    # Prefill the prompts right-padded to a common length (pads carry PAD segments).
    p = max(s[0] for s in starts)
    prefix = {k: full[k][:, :p] for k in ("tokens", "positions", "segments")}
    prefix["segments"] = jnp.where(
        jnp.arange(p)[None] < jnp.asarray([s[0] for s in starts])[:, None],
        prefix["segments"],
        layout.PAD,
    )
    h_prefix, cache = _call(model, prefix, cache)
    cache = cache.advance(jnp.asarray([s[0] for s in starts]))
    outs = []
    for f in range(3):
        part = _rows(full, [s[f] for s in starts], per)
        if f == 1:  # a wrong guess written then cropped back (end not advanced) must not leak
            junk = dict(part, tokens=part["tokens"].at[:, 4].set(VOCAB.visual_offset + 3))
            _, cache = _call(model, junk, cache)
        h, cache = _call(model, part, cache)
        cache = cache.advance(per)
        outs.append(h)
    for b in range(2):
        s0 = starts[b][0]
        np.testing.assert_allclose(
            np.asarray(h_prefix[b, :s0]), np.asarray(h_full[b, :s0]), atol=2e-5
        )
        got = np.concatenate([np.asarray(o[b]) for o in outs])
        np.testing.assert_allclose(got, np.asarray(h_full[b, s0 : s0 + 3 * per]), atol=2e-5)


@pytest.mark.parametrize("mesh_shape", [(2, 1, 4), (1, 2, 4), (2, 2, 2)])
def test_sharded_forward_and_grad_equal_single_device(mesh_shape):
    batch = random_batch(batch=4)
    model = tiny_model()
    l0, g0 = jax.jit(jax.value_and_grad(_loss))(model, batch)
    mesh = parallel.make_mesh(mesh_shape)
    shardings = parallel.tree_shardings(model, mesh)
    data_sh = NamedSharding(mesh, P(("data", "fsdp")))
    with jax.set_mesh(mesh):
        sm = jax.device_put(model, shardings)
        sb = jax.device_put(batch, data_sh)
        step = jax.jit(
            jax.value_and_grad(_loss),
            in_shardings=(shardings, data_sh),
            out_shardings=(None, shardings),
        )
        l1, g1 = step(sm, sb)
    assert float(l1) == pytest.approx(float(l0), rel=1e-5)
    for a, b in zip(jax.tree.leaves(g0), jax.tree.leaves(g1)):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=2e-6)
    # Weights really are split: the MLP's hidden dim lives on the tensor axis.
    assert g1.layers.mlp.gate[...].sharding.spec[-1] == "tensor"


def test_param_axes_are_complete():
    model = tiny_model()
    axes = parallel.param_axes(model)
    for path, (a, leaf) in zip(
        jax.tree_util.tree_leaves_with_path(axes),
        zip(jax.tree.leaves(axes, is_leaf=lambda x: isinstance(x, tuple)), jax.tree.leaves(model)),
    ):
        assert len(a) == leaf.ndim and None not in a, (path, a, leaf.shape)
