# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""AR-DF loss: cross-entropy over the visual slice, chunked over the sequence.

Reference section 4: no shift (position i predicts its own masked token), logits only
over the visual slice (a `visual_size`-way softmax), fp32 log-sum-exp, mean over loss
tokens, optional z-loss. Chunks are rematerialised so the full [B, S, V] logits never
exist at once, in the forward or the backward pass.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def _chunk_nll(h, w, labels, visual_offset):
    """h [B, c, E], w [E, Nv], labels [B, c] (full-vocab ids, <0 = none) -> nll, lse."""
    logits = jnp.einsum("bce,ev->bcv", h, w.astype(h.dtype), preferred_element_type=jnp.float32)
    lse = jax.nn.logsumexp(logits, axis=-1)
    target = jnp.clip(labels - visual_offset, 0, w.shape[1] - 1)
    picked = jnp.take_along_axis(logits, target[..., None], axis=-1)[..., 0]
    return lse - picked, lse


def visual_cross_entropy(hidden, lm_head, labels, *, visual_offset: int, visual_size: int,
                         chunk: int | None = 1024, z_loss: float = 0.0):
    """hidden [B, S, E], lm_head [E, V], labels [B, S] -> (loss, aux).

    aux: 'nll' [B, S] per-token loss (0 where no label), 'count' number of loss tokens,
    'z' mean lse^2 over loss tokens, and the unnormalised 'nll_sum' / 'z_sum' (so
    gradient accumulation can form the exact mean over all micro-batches).
    """
    b, s, e = hidden.shape
    w = jax.lax.dynamic_slice_in_dim(lm_head, visual_offset, visual_size, axis=1)
    chunk = s if chunk is None else min(chunk, s)
    pad = (-s) % chunk
    if pad:
        hidden = jnp.pad(hidden, ((0, 0), (0, pad), (0, 0)))
        labels = jnp.pad(labels, ((0, 0), (0, pad)), constant_values=-1)
    n = hidden.shape[1] // chunk
    hs = jnp.moveaxis(hidden.reshape(b, n, chunk, e), 1, 0)
    ls = jnp.moveaxis(labels.reshape(b, n, chunk), 1, 0)

    @jax.checkpoint  # recompute each chunk's logits in the backward pass
    def body(_, xs):
        h, lab = xs
        return None, _chunk_nll(h, w, lab, visual_offset)

    _, (nll, lse) = jax.lax.scan(body, None, (hs, ls))
    nll = jnp.moveaxis(nll, 0, 1).reshape(b, -1)[:, :s]
    lse = jnp.moveaxis(lse, 0, 1).reshape(b, -1)[:, :s]
    labels = labels[:, :s]
    # Only ids inside the visual slice can be targets of the visual softmax; anything
    # else (-1, or e.g. a newline id) carries no loss instead of a clipped wrong target.
    mask = ((labels >= visual_offset) & (labels < visual_offset + visual_size)).astype(jnp.float32)
    count = mask.sum()
    denom = jnp.maximum(count, 1.0)
    nll = nll * mask
    z_sum = (jnp.square(lse) * mask).sum()
    loss = (nll.sum() + z_loss * z_sum) / denom
    return loss, {"nll": nll, "mask": mask, "count": count, "z": z_sum / denom,
                  "nll_sum": nll.sum(), "z_sum": z_sum}
