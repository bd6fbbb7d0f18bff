# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Pure jax pieces of one decoding step: CFG, logit filters, the draw, MaskGIT re-masking.

Logits here are over the visual slice only (`Decoder.logits(visual_only=True)`): ids
outside it never get probability, which is the reference's "-inf outside the slice".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from lumos_jax.sampling.config import Settings

NEG_INF = -jnp.inf


def guide(logits, scale: float, branches: int):
    """logits [B * branches, ...] (rows interleaved cond, uncond) -> guided [B, ...].

    g * (cond - uncond) + uncond; with one branch (no CFG) the logits pass through.
    """
    if branches == 1:
        return logits
    pair = logits.reshape(logits.shape[0] // 2, 2, *logits.shape[1:])
    cond, uncond = pair[:, 0], pair[:, 1]
    return scale * (cond - uncond) + uncond


def filter_logits(logits, *, top_k: int = 0, top_p: float = 1.0):
    """Keep the top_k largest and/or the smallest set with probability >= top_p: [..., V].

    The most likely id is always kept, so no row is ever left without a candidate.
    """
    if top_k and top_k < logits.shape[-1]:
        kth = jax.lax.top_k(logits, top_k)[0][..., -1:]
        logits = jnp.where(logits < kth, NEG_INF, logits)
    if top_p < 1.0:
        order = jnp.argsort(-logits, axis=-1)
        sorted_logits = jnp.take_along_axis(logits, order, axis=-1)
        probs = jax.nn.softmax(sorted_logits, axis=-1)
        before = jnp.cumsum(probs, axis=-1) - probs  # mass of strictly more likely ids
        drop = jnp.take_along_axis(before >= top_p, jnp.argsort(order, axis=-1), axis=-1)
        logits = jnp.where(drop, NEG_INF, logits)
    return logits


def draw(key, logits, settings: Settings):
    """Sample ids from guided logits [..., V] -> (ids int32 [...], log p(id) fp32 [...]).

    temperature 0 is greedy; top-k / top-p filter before the draw; log p is taken under
    the distribution actually sampled from (what the confidence ranks by).
    """
    logits = logits.astype(jnp.float32)
    if settings.temperature > 0:
        logits = logits / settings.temperature
    logits = filter_logits(logits, top_k=settings.top_k, top_p=settings.top_p)
    logp = jax.nn.log_softmax(logits, axis=-1)
    if settings.temperature > 0:
        ids = jax.random.categorical(key, logits, axis=-1)
    else:
        ids = jnp.argmax(logits, axis=-1)
    ids = ids.astype(jnp.int32)
    return ids, jnp.take_along_axis(logp, ids[..., None], axis=-1)[..., 0]


def remask(key, codes, masked, ids, logp, keep_masked, tau):
    """One MaskGIT update of a frame's codes [B, N] (masked: bool [B, N]).

    Masked codes take the drawn ids; then the `keep_masked` (a scalar count) least
    confident are masked again, confidence = log p + tau * Gumbel for newly drawn codes
    and +inf for codes fixed at earlier steps (so they are never re-masked). Exactly
    `keep_masked` codes are masked afterwards (ranks break ties by position).
    """
    codes = jnp.where(masked, ids, codes)
    noise = jax.random.gumbel(key, logp.shape, jnp.float32)
    confidence = jnp.where(masked, logp + tau * noise, jnp.inf)
    rank = jnp.argsort(jnp.argsort(confidence, axis=-1), axis=-1)  # 0 = least confident
    return codes, rank < keep_masked
