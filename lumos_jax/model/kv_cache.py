# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""KV cache for AR-DF sampling: per-row write offsets, append a frame, crop back.

The cache holds every layer's rotated keys and values in fixed buffers [L, B, Smax, Hk, D]
(static shapes: one compiled step per sequence length). `end[b]` is the number of valid
slots of row b. A model call writes its S new tokens at slots end..end+S-1 and attends
over slots < end + S; the caller then either keeps them (`advance`, e.g. a finished frame)
or drops them (leave `end` unchanged: the "crop back to the frame start" of AR-DF).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from lumos_jax.layout import PAD


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class KVCache:
    k: jax.Array  # [L, B, Smax, Hk, D]
    v: jax.Array  # [L, B, Smax, Hk, D]
    segments: jax.Array  # [B, Smax] segment id per slot (PAD where unwritten)
    end: jax.Array  # [B] int32 valid slots per row

    @property
    def max_len(self) -> int:
        return self.k.shape[2]

    @classmethod
    def create(cls, num_layers, batch, max_len, kv_heads, head_dim, dtype=jnp.bfloat16):
        shape = (num_layers, batch, max_len, kv_heads, head_dim)
        return cls(
            jnp.zeros(shape, dtype),
            jnp.zeros(shape, dtype),
            jnp.full((batch, max_len), PAD, jnp.int32),
            jnp.zeros((batch,), jnp.int32),
        )

    def advance(self, n) -> "KVCache":
        """Keep the last written tokens: end += n (n scalar or [B])."""
        return dataclasses.replace(self, end=self.end + jnp.asarray(n, jnp.int32))


def write_rows(buf, new, end):
    """buf [B, Smax, ...], new [B, S, ...], end [B] -> buf with new at rows end[b]...

    Callers size the cache so that end + S <= Smax (dynamic_update_slice would clamp).
    """

    def one(b, n, e):
        start = (e,) + (0,) * (b.ndim - 1)
        return jax.lax.dynamic_update_slice(b, n, start)

    return jax.vmap(one)(buf, new, end)


def query_view(cache: KVCache, segments):
    """Indices and segments for S new tokens written at `cache.end`.

    Returns q_idx [B, S], k_idx [B, Smax], k_seg [B, Smax] (slots past end + S are PAD,
    so stale entries left by a crop are never attended) and the written segment buffer.
    """
    b, s = segments.shape
    q_idx = cache.end[:, None] + jnp.arange(s, dtype=jnp.int32)[None]
    seg_buf = write_rows(cache.segments, segments, cache.end)
    k_idx = jnp.broadcast_to(jnp.arange(cache.max_len, dtype=jnp.int32), (b, cache.max_len))
    k_seg = jnp.where(k_idx < (cache.end + s)[:, None], seg_buf, PAD)
    return q_idx, k_idx, k_seg, seg_buf
