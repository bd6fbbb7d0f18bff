# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Context parallelism: every sequence split over the 'context' mesh axis (c devices).

Layout (load-balanced): the sequence, right-padded to a multiple of 2c, is cut into 2c
equal chunks and device d holds chunks d and 2c-1-d, an early and a late one. Under a
causal mask the work of a query grows with its index, so a contiguous split hands the
last device ~2c-1 times the first one's work; an early + late pair makes every device's
share about equal (MaxText's load-balanced causal reordering). `balance` puts a batch in
this order inside the step and gives each token its global sequence index: everything
but attention is per token (embeddings, MLP, norms, MM-RoPE, the loss and its sums), so
the order changes nothing else.

Attention (MaxText's all-gather scheme): each device keeps its queries, all-gathers the
keys, values and segment ids over 'context' and puts them back in sequence order (a
static chunk permutation), then runs the usual path on (local queries x all keys) with
the frame-causal mask from global indices. The gather's transpose, a reduce-scatter,
sums dk and dv back onto their shards. Paths: blockwise (once per local chunk, each
contiguous, so fully masked key blocks stay skipped), xla / cudnn (jax's
dot_product_attention with the [S/c, S] mask). Splash needs a static mask over indices
0..S-1 and is replaced by blockwise (attention_choice.layer_path).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from lumos_jax import parallel
from lumos_jax.layout import PAD
from lumos_jax.model import attention as attn_lib

AXIS = "context"
# Value a padded position of each batch key gets (other keys: 0).
PAD_VALUES = {"labels": -1, "segments": PAD}


def chunk_order(c: int) -> np.ndarray:
    """Sequence chunk held at each layout slot: device d holds slots 2d, 2d+1 =
    chunks d, 2c-1-d. c=2 -> [0, 3, 1, 2]."""
    return np.stack([np.arange(c), 2 * c - 1 - np.arange(c)], axis=1).reshape(-1)


def padded_length(seq: int, c: int) -> int:
    return -(-seq // (2 * c)) * (2 * c)


def layout_indices(seq: int, c: int) -> np.ndarray:
    """int32 [padded_length]: the global sequence index of each layout position."""
    n = padded_length(seq, c)
    return np.arange(n, dtype=np.int32).reshape(2 * c, -1)[chunk_order(c)].reshape(-1)


def balance(batch: dict, c: int) -> dict:
    """Batch arrays [B, S, ...] -> the same in the load-balanced layout ([B, S'] with S'
    the next multiple of 2c; padded positions are padding), plus 'indices' [B, S'] int32
    (each token's global sequence index, what the mask and MM-RoPE-free parts need)."""
    b, s = batch["segments"].shape
    order = layout_indices(s, c)
    out = {}
    for key, x in batch.items():
        widths = [(0, 0)] * x.ndim
        widths[1] = (0, len(order) - s)
        x = jnp.pad(x, widths, constant_values=PAD_VALUES.get(key, 0))
        out[key] = jnp.take(x, jnp.asarray(order), axis=1)
    out["indices"] = jnp.broadcast_to(jnp.asarray(order), (b, len(order)))
    return out


def natural_order(x, c: int):
    """[B, S, ...] gathered in layout order -> sequence order (static chunk permutation)."""
    b, s = x.shape[:2]
    chunks = x.reshape(b, 2 * c, s // (2 * c), *x.shape[2:])
    inverse = np.argsort(chunk_order(c))
    return jnp.take(chunks, jnp.asarray(inverse), axis=1).reshape(x.shape)


def _local(q, k, v, q_idx, q_seg, *, c, path, block_q, block_k):
    """One device: its queries [B, 2 chunks, H, D] against every key of its rows."""
    gather = lambda x: natural_order(jax.lax.all_gather(x, AXIS, axis=1, tiled=True), c)  # noqa: E731
    k, v, k_seg = gather(k), gather(v), gather(q_seg)
    b, s = k_seg.shape
    k_idx = jnp.broadcast_to(jnp.arange(s, dtype=jnp.int32), (b, s))
    if path == "blockwise":
        half = q.shape[1] // 2  # two contiguous chunks: block skipping works on each
        outs = [
            attn_lib.blockwise_attention(
                q[:, sl], k, v, q_idx[:, sl], q_seg[:, sl], k_idx, k_seg,
                block_q=block_q, block_k=block_k,
            )
            for sl in (slice(0, half), slice(half, None))
        ]  # fmt: skip
        return jnp.concatenate(outs, axis=1)
    impl = "cudnn" if path == "cudnn" else "xla"
    return attn_lib.dense_attention(q, k, v, q_idx, q_seg, k_idx, k_seg, implementation=impl)


def _specs(q_shape, k_shape, mesh_shape):
    """Rows over the batch axes, sequence over 'context', heads over 'tensor' only when
    both the query and kv heads divide it (a query head must meet its own kv head)."""
    qs = parallel.logical_to_spec(
        ("act_batch", "act_length", "act_heads", None), q_shape, mesh_shape
    )
    ks = parallel.logical_to_spec(
        ("act_batch", "act_length", "act_kv_heads", None), k_shape, mesh_shape
    )
    if qs[1] != AXIS:
        raise ValueError(
            f"context attention: sequence length {q_shape[1]} does not split over "
            f"mesh.context={mesh_shape[AXIS]} (use context_parallel.balance)"
        )
    if qs[2] != ks[2]:
        qs, ks = P(qs[0], AXIS, None, None), P(ks[0], AXIS, None, None)
    return qs, ks, P(qs[0], AXIS)


def attention(q, k, v, q_idx, q_seg, *, path: str, block_q: int = 512, block_k: int = 512):
    """Self-attention of a sequence in the balanced layout, split over 'context'.

    q [B, S, H, D], k, v [B, S, Hk, D], q_idx / q_seg [B, S] (global indices and segment
    ids, from `balance`); S a multiple of 2 x mesh.context. Same result as
    attention.dense_attention over the sequence in its natural order."""
    mesh = jax.sharding.get_abstract_mesh()
    c = dict(mesh.shape)[AXIS]
    qs, ks, ss = _specs(q.shape, k.shape, dict(mesh.shape))
    fn = functools.partial(_local, c=c, path=path, block_q=block_q, block_k=block_k)
    return jax.shard_map(
        fn, mesh=mesh, in_specs=(qs, ks, ks, ss, ss), out_specs=qs, check_vma=False
    )(q, k, v, q_idx, q_seg)


# ------------------------------------------------------------------- work per device
def allowed_keys(seg: np.ndarray) -> np.ndarray:
    """int64 [S]: keys each query of one row may see under the Lumos mask (reference
    section 2): real keys up to itself plus the rest of its frame; padding only itself."""
    seg = np.asarray(seg)
    real = seg != PAD
    before = np.cumsum(real)  # real keys at index <= i
    out = np.where(real, before, 1).astype(np.int64)
    for f in np.unique(seg[seg >= 0]):
        where = np.flatnonzero(seg == f)
        out[where] += where[-1] - where  # later tokens of the same frame
    return out


def device_work(seg: np.ndarray, c: int, balanced: bool) -> np.ndarray:
    """Allowed (query, key) pairs each of the c devices computes for one row."""
    n = padded_length(len(seg), c)
    seg = np.concatenate([seg, np.full(n - len(seg), PAD, seg.dtype)])
    per_query = allowed_keys(seg)
    order = layout_indices(n, c) if balanced else np.arange(n)
    return per_query[order].reshape(c, -1).sum(axis=1)


def blockwise_work(seg: np.ndarray, c: int, balanced: bool, block: int) -> np.ndarray:
    """(Query, key) pairs in the blocks the blockwise path visits on each device for one
    row (its rule: key blocks from the first to the last one that may be needed)."""
    n = padded_length(len(seg), c)
    seg = np.concatenate([seg, np.full(n - len(seg), PAD, seg.dtype)])
    k_min, k_lo, k_hi = _block_stats(np.arange(n), seg, block)
    pieces = np.split(layout_indices(n, c) if balanced else np.arange(n), 2 * c)
    work = np.zeros(c, np.int64)
    for d in range(c):
        for chunk in (pieces[2 * d], pieces[2 * d + 1]):  # one blockwise call each
            lengths = [len(chunk[j : j + block]) for j in range(0, len(chunk), block)]
            q_max, q_lo, q_hi = _block_stats(chunk, seg[chunk], block, reduce_max=True)
            need = (k_min[None] <= q_max[:, None]) | (
                np.maximum(q_lo[:, None], k_lo[None]) <= np.minimum(q_hi[:, None], k_hi[None])
            )
            first = need.argmax(1)
            last = need.shape[1] - need[:, ::-1].argmax(1)
            visited = np.where(need.any(1), last - first, 0)
            work[d] += int((visited * np.asarray(lengths)).sum()) * block
    return work


def _block_stats(idx, seg, block, reduce_max=False):
    """Per block of `block` tokens: min (or max) index and the frame range [lo, hi]."""
    starts = np.arange(0, len(idx), block)
    big = np.iinfo(np.int32).max
    ext = (np.maximum if reduce_max else np.minimum).reduceat(idx, starts)
    lo = np.minimum.reduceat(np.where(seg >= 0, seg, big), starts)
    hi = np.maximum.reduceat(np.where(seg >= 0, seg, -1), starts)
    return ext, lo, hi
