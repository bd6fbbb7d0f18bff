# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""AR-DF loss: cross-entropy over the visual slice, chunked over the sequence.

Reference section 4: no shift (position i predicts its own masked token), logits only
over the visual slice (a `visual_size`-way softmax), fp32 log-sum-exp, mean over loss
tokens, optional z-loss. Chunks are processed one at a time so the full [B, S, V] logits
never exist at once, in the forward or the backward pass.

Two implementations of the same objective (`fused` picks one):
- fused (default): a custom VJP that forms each chunk's logits once and, while they are
  in hand, also its gradient. The objective is a weighted sum over tokens whose weights
  (the loss mask) are known before the forward pass, so d objective / d logits =
  mask * ((1 + 2 z lse) softmax - onehot) needs no cotangent from later; the backward
  pass only scales the stored dh and dW by the incoming cotangent. That is 3 matmuls of
  the [E, Nv] head per chunk instead of autodiff's 4 (forward, recompute, two
  transposes) and one pass over each logits chunk instead of three: the head is ~80% of
  the step's FLOPs at the small configs (issue 18, benchmarks/step_vs_reference.py).
- autodiff: the plain rematerialised scan, kept as the independent reference the tests
  compare the fused gradients against.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from lumos_jax.parallel import constrain


def _chunk_nll(h, w, labels, visual_offset):
    """h [B, c, E], w [E, Nv], labels [B, c] (full-vocab ids, <0 = none) -> nll, lse, logits."""
    logits = jnp.einsum("bce,ev->bcv", h, w.astype(h.dtype), preferred_element_type=jnp.float32)
    lse = jax.nn.logsumexp(logits, axis=-1)
    target = jnp.clip(labels - visual_offset, 0, w.shape[1] - 1)
    picked = jnp.take_along_axis(logits, target[..., None], axis=-1)[..., 0]
    return lse - picked, lse, logits, target


def _chunked(hidden, labels, chunk):
    """[B, S, ...] -> [n, B, chunk, ...] with padding (labels padded with -1)."""
    b, s = labels.shape
    pad = (-s) % chunk
    if pad:
        hidden = jnp.pad(hidden, ((0, 0), (0, pad), (0, 0)))
        labels = jnp.pad(labels, ((0, 0), (0, pad)), constant_values=-1)
    n = hidden.shape[1] // chunk
    hs = jnp.moveaxis(hidden.reshape(b, n, chunk, -1), 1, 0)
    ls = jnp.moveaxis(labels.reshape(b, n, chunk), 1, 0)
    return hs, ls


def _unchunk(x, s):
    """[n, B, chunk, ...] -> [B, S, ...]."""
    x = jnp.moveaxis(x, 0, 1)
    return x.reshape(x.shape[0], -1, *x.shape[3:])[:, :s]


def _loss_mask(labels, visual_offset, visual_size):
    # Only ids inside the visual slice can be targets of the visual softmax; anything
    # else (-1, or e.g. a newline id) carries no loss instead of a clipped wrong target.
    return ((labels >= visual_offset) & (labels < visual_offset + visual_size)).astype(jnp.float32)


def _autodiff_sums(hidden, w, labels, visual_offset, visual_size, chunk, z_loss):
    s = labels.shape[1]
    hs, ls = _chunked(hidden, labels, chunk)

    @jax.checkpoint  # recompute each chunk's logits in the backward pass
    def body(_, xs):
        h, lab = xs
        return None, _chunk_nll(h, w, lab, visual_offset)[:2]

    _, (nll, lse) = jax.lax.scan(body, None, (hs, ls))
    nll, lse = _unchunk(nll, s), _unchunk(lse, s)
    mask = _loss_mask(labels, visual_offset, visual_size)
    objective = ((nll + z_loss * jnp.square(lse)) * mask).sum()
    return objective, (jax.lax.stop_gradient(nll), jax.lax.stop_gradient(lse))


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5, 6))
def _fused_sums(hidden, w, labels, visual_offset, visual_size, chunk, z_loss):
    # Not differentiated (eval, metrics): the forward alone, no gradient work.
    return _autodiff_sums(hidden, w, labels, visual_offset, visual_size, chunk, z_loss)


def _fused_fwd(hidden, w, labels, visual_offset, visual_size, chunk, z_loss):
    s = labels.shape[1]
    hs, ls = _chunked(hidden, labels, chunk)
    wc = w.astype(hidden.dtype)

    def body(dw, xs):
        h, lab = xs
        nll, lse, logits, target = _chunk_nll(h, wc, lab, visual_offset)  # cast once
        weight = _loss_mask(lab, visual_offset, visual_size)
        # d/dlogits of weight * (lse - logit[target] + z lse^2), all in fp32.
        p = jnp.exp(logits - lse[..., None])
        dlogits = p * (weight * (1.0 + 2.0 * z_loss * lse))[..., None]
        dlogits = (
            dlogits - jax.nn.one_hot(target, w.shape[1], dtype=jnp.float32) * weight[..., None]
        )
        dlogits = dlogits.astype(h.dtype)
        dh = jnp.einsum("bcv,ev->bce", dlogits, wc, preferred_element_type=jnp.float32).astype(
            h.dtype
        )
        dw = dw + jnp.einsum("bce,bcv->ev", h, dlogits, preferred_element_type=jnp.float32)
        return dw, (nll, lse, dh)

    dw0 = jnp.zeros(w.shape, jnp.float32)
    dw, (nll, lse, dh) = jax.lax.scan(body, dw0, (hs, ls))
    nll, lse, dh = _unchunk(nll, s), _unchunk(lse, s), _unchunk(dh, s)
    mask = _loss_mask(labels, visual_offset, visual_size)
    objective = ((nll + z_loss * jnp.square(lse)) * mask).sum()
    return (objective, (nll, lse)), (dh, dw.astype(w.dtype), labels)


def _fused_bwd(visual_offset, visual_size, chunk, z_loss, res, cotangents):
    # nll and lse are metrics outputs: their cotangents are ignored (no gradient flows
    # through them, as in the autodiff path's stop_gradient).
    dh, dw, labels = res
    g = cotangents[0]
    return (g * dh).astype(dh.dtype), (g * dw).astype(dw.dtype), None  # labels: integers


_fused_sums.defvjp(_fused_fwd, _fused_bwd)


def visual_cross_entropy(
    hidden,
    lm_head,
    labels,
    *,
    visual_offset: int,
    visual_size: int,
    chunk: int | None = 1024,
    z_loss: float = 0.0,
    fused: bool = True,
    seq_shards: int = 1,
):
    """hidden [B, S, E], lm_head [E, V], labels [B, S] -> (loss, aux).

    seq_shards > 1: the sequence is split over that many devices (mesh.context); each
    row is cut into seq_shards rows of S / seq_shards first, so every device chunks only
    its own tokens (a sum over tokens, the same objective).

    aux: 'nll' [B, S] per-token loss (0 where no label), 'count' number of loss tokens,
    'z' mean lse^2 over loss tokens, the unnormalised 'nll_sum' / 'z_sum', and
    'objective' = nll_sum + z_loss * z_sum, the sum gradients flow through (so gradient
    accumulation can form the exact mean over all micro-batches). Only `loss` and
    'objective' carry gradients; the other aux entries are metrics.
    """
    if seq_shards > 1:
        return _split_rows(
            hidden, lm_head, labels, seq_shards,
            visual_offset=visual_offset, visual_size=visual_size, chunk=chunk,
            z_loss=z_loss, fused=fused,
        )  # fmt: skip
    s = hidden.shape[1]
    w = jax.lax.dynamic_slice_in_dim(lm_head, visual_offset, visual_size, axis=1)
    chunk = s if chunk is None else min(chunk, s)
    sums = _fused_sums if fused else _autodiff_sums
    objective, (nll, lse) = sums(
        hidden, w, labels, visual_offset, visual_size, chunk, float(z_loss)
    )
    mask = _loss_mask(labels, visual_offset, visual_size)
    count = mask.sum()
    denom = jnp.maximum(count, 1.0)
    nll = nll * mask
    z_sum = (jnp.square(lse) * mask).sum()
    loss = objective / denom
    return loss, {
        "nll": nll,
        "mask": mask,
        "count": count,
        "z": z_sum / denom,
        "nll_sum": nll.sum(),
        "z_sum": z_sum,
        "objective": objective,
    }


def _split_rows(hidden, lm_head, labels, shards, **kw):
    """visual_cross_entropy with each row folded into `shards` rows [B * shards, S /
    shards] ('act_rows': batch and context devices), per-token aux back as [B, S]."""
    b, s, e = hidden.shape
    if s % shards:
        raise ValueError(f"sequence length {s} does not split over mesh.context={shards}")
    hidden = constrain(hidden.reshape(b * shards, s // shards, e), ("act_rows", None, None))
    labels = constrain(labels.reshape(b * shards, s // shards), ("act_rows", None))
    loss, aux = visual_cross_entropy(hidden, lm_head, labels, **kw)
    for key in ("nll", "mask"):
        aux[key] = aux[key].reshape(b, s)
    return loss, aux
