# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Lumos-1 frame-causal attention: mask rule, dense path, blockwise (flash-style) path.

Mask rule (reference section 2), from per-token sequence indices and segment ids:
  allowed(i, j) = j == i  or  (real_i and real_j and (j < i or (seg_i == seg_j >= 0)))
Text is causal, a frame (segment f >= 0) is bidirectional inside, frames are causal to
each other, padding (segment PAD) is seen by nothing and sees only itself. The mask is
derived inside the compiled step; no [seq, seq] array is ever built on the host.

Shapes: q [B, Sq, H, D]; k, v [B, Sk, Hk, D] with H a multiple of Hk (GQA, query head
h uses kv head h // (H // Hk)); indices and segments [B, Sq] / [B, Sk] int32.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from lumos_jax.layout import PAD

NEG = -1e30  # finite "minus infinity": keeps fully masked rows NaN-free


def lumos_mask(q_idx, q_seg, k_idx, k_seg):
    """Boolean [B, Sq, Sk] mask of the rule above."""
    qi, qs = q_idx[:, :, None], q_seg[:, :, None]
    ki, ks = k_idx[:, None, :], k_seg[:, None, :]
    real = (qs != PAD) & (ks != PAD)
    same_frame = (qs == ks) & (qs >= 0)
    return (ki == qi) | (real & ((ki < qi) | same_frame))


def dense_attention(q, k, v, q_idx, q_seg, k_idx, k_seg, *, implementation=None):
    """Reference path: jax.nn.dot_product_attention with the full mask ('xla' or 'cudnn')."""
    mask = lumos_mask(q_idx, q_seg, k_idx, k_seg)[:, None]
    return jax.nn.dot_product_attention(q, k, v, mask=mask, implementation=implementation)


# ----------------------------------------------------------------------------- blockwise
def _pad_seq(x, block, value):
    n = x.shape[1]
    extra = (-n) % block
    if not extra:
        return x
    widths = [(0, 0)] * x.ndim
    widths[1] = (0, extra)
    return jnp.pad(x, widths, constant_values=value)


def _blocks(x, block):
    """[B, S, ...] -> [S/block, B, block, ...] (leading axis is looped over)."""
    b, s = x.shape[:2]
    return jnp.moveaxis(x.reshape(b, s // block, block, *x.shape[2:]), 1, 0)


def _needed_blocks(qi, qs, ki, ks):
    """[nq, nk] bool: block pairs that may hold an allowed entry (conservative).

    Inputs are blocked indices/segments [n, B, block]. A pair is needed if some key
    index is <= some query index (causal part) or their frame ranges intersect.
    Reduced over the batch so the predicate is a scalar per pair (real skipping).
    """
    big = jnp.iinfo(jnp.int32).max
    q_max = qi.max(-1)  # [nq, B]
    k_min = ki.min(-1)
    causal = k_min[None, :, :] <= q_max[:, None, :]

    def frame_range(seg):
        lo = jnp.where(seg >= 0, seg, big).min(-1)
        hi = jnp.where(seg >= 0, seg, -1).max(-1)
        return lo, hi

    qlo, qhi = frame_range(qs)
    klo, khi = frame_range(ks)
    overlap = jnp.maximum(qlo[:, None], klo[None]) <= jnp.minimum(qhi[:, None], khi[None])
    return jnp.any(causal | overlap, axis=-1)


def _block_range(need_row):
    """[nk] bool -> (first, last + 1) needed key block: the loop bounds for one q block.

    The Lumos mask makes the needed blocks of a query block one contiguous run (causal
    prefix plus the rest of a frame that spans block boundaries), so looping over
    [first, last] skips every fully masked block. Dynamic bounds (a while loop) instead
    of a cond per block: a cond inside a differentiated scan over layers made XLA keep
    every block's probabilities alive (O(S^2) memory).
    """
    nk = need_row.shape[0]
    any_needed = need_row.any()
    lo = jnp.where(any_needed, jnp.argmax(need_row), 0)
    hi = jnp.where(any_needed, nk - jnp.argmax(need_row[::-1]), 0)
    return lo.astype(jnp.int32), hi.astype(jnp.int32)


def _scores(qb, kb, mask, scale):
    """qb [B, Hk, G, bq, D], kb [B, Hk, bk, D] -> masked fp32 scores [B, Hk, G, bq, bk]."""
    s = jnp.einsum("bhgqd,bhkd->bhgqk", qb, kb, preferred_element_type=jnp.float32) * scale
    return jnp.where(mask[:, None, None], s, NEG)


def _fwd(q, k, v, q_idx, q_seg, k_idx, k_seg, block_q, block_k, scale):
    """Returns out [nq, B, Hk, G, bq, D] and lse [nq, B, Hk, G, bq] (all blocked)."""
    qb, qi, qs = q, q_idx, q_seg
    kb, vb, ki, ks = k, v, k_idx, k_seg
    needed = _needed_blocks(qi, qs, ki, ks)
    bsz, hk, g, bq, d = qb.shape[1:]

    def per_q_block(args):
        q_i, qi_i, qs_i, need_i = args

        def body(j, carry):
            m, l, acc = carry
            mask = lumos_mask(qi_i, qs_i, ki[j], ks[j])
            s = _scores(q_i, kb[j], mask, scale)
            m_new = jnp.maximum(m, s.max(-1))
            p = jnp.where(mask[:, None, None], jnp.exp(s - m_new[..., None]), 0.0)
            corr = jnp.exp(m - m_new)
            l = l * corr + p.sum(-1)
            pv = jnp.einsum(
                "bhgqk,bhkd->bhgqd", p.astype(vb.dtype), vb[j], preferred_element_type=jnp.float32
            )
            return m_new, l, acc * corr[..., None] + pv

        init = (
            jnp.full((bsz, hk, g, bq), NEG, jnp.float32),
            jnp.zeros((bsz, hk, g, bq), jnp.float32),
            jnp.zeros((bsz, hk, g, bq, d), jnp.float32),
        )
        lo, hi = _block_range(need_i)
        m, l, acc = jax.lax.fori_loop(lo, hi, body, init)
        safe_l = jnp.where(l == 0, 1.0, l)
        out = (acc / safe_l[..., None]).astype(q.dtype)
        lse = m + jnp.log(safe_l)
        return out, lse

    return jax.lax.map(per_q_block, (qb, qi, qs, needed))


def _bwd(q, k, v, q_idx, q_seg, k_idx, k_seg, out, lse, dout, block_q, block_k, scale):
    """Flash-attention backward: recompute probabilities block by block."""
    needed = _needed_blocks(q_idx, q_seg, k_idx, k_seg)
    delta = jnp.einsum("nbhgqd,nbhgqd->nbhgq", dout.astype(jnp.float32), out.astype(jnp.float32))
    dk0 = jnp.zeros(k.shape, jnp.float32)
    dv0 = jnp.zeros(v.shape, jnp.float32)

    def per_q_block(carry, args):
        dk_all, dv_all = carry
        q_i, qi_i, qs_i, need_i, do_i, lse_i, delta_i = args

        def body(j, inner):
            dq_i, dk_all, dv_all = inner
            mask = lumos_mask(qi_i, qs_i, k_idx[j], k_seg[j])
            s = _scores(q_i, k[j], mask, scale)
            p = jnp.where(mask[:, None, None], jnp.exp(s - lse_i[..., None]), 0.0)
            dv_j = jnp.einsum("bhgqk,bhgqd->bhkd", p, do_i.astype(jnp.float32))
            dp = jnp.einsum("bhgqd,bhkd->bhgqk", do_i, v[j], preferred_element_type=jnp.float32)
            ds = p * (dp - delta_i[..., None]) * scale
            dq_i = dq_i + jnp.einsum("bhgqk,bhkd->bhgqd", ds, k[j].astype(jnp.float32))
            dk_j = jnp.einsum("bhgqk,bhgqd->bhkd", ds, q_i.astype(jnp.float32))
            return dq_i, dk_all.at[j].add(dk_j), dv_all.at[j].add(dv_j)

        dq_i = jnp.zeros(q_i.shape, jnp.float32)
        lo, hi = _block_range(need_i)
        dq_i, dk_all, dv_all = jax.lax.fori_loop(lo, hi, body, (dq_i, dk_all, dv_all))
        return (dk_all, dv_all), dq_i

    (dk, dv), dq = jax.lax.scan(
        per_q_block, (dk0, dv0), (q, q_idx, q_seg, needed, dout, lse, delta)
    )
    return dq.astype(q.dtype), dk.astype(k.dtype), dv.astype(v.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(7, 8, 9))
def _blockwise(q, k, v, q_idx, q_seg, k_idx, k_seg, block_q, block_k, scale):
    return _fwd(q, k, v, q_idx, q_seg, k_idx, k_seg, block_q, block_k, scale)[0]


def _blockwise_fwd(q, k, v, q_idx, q_seg, k_idx, k_seg, block_q, block_k, scale):
    out, lse = _fwd(q, k, v, q_idx, q_seg, k_idx, k_seg, block_q, block_k, scale)
    return out, (q, k, v, q_idx, q_seg, k_idx, k_seg, out, lse)


def _blockwise_bwd(block_q, block_k, scale, res, dout):
    q, k, v, q_idx, q_seg, k_idx, k_seg, out, lse = res
    dq, dk, dv = _bwd(q, k, v, q_idx, q_seg, k_idx, k_seg, out, lse, dout, block_q, block_k, scale)
    return dq, dk, dv, None, None, None, None


_blockwise.defvjp(_blockwise_fwd, _blockwise_bwd)


def blockwise_attention(q, k, v, q_idx, q_seg, k_idx, k_seg, *, block_q=512, block_k=512):
    """Flash-style attention that skips fully masked blocks; memory O(S x block).

    Same result as `dense_attention`; the backward pass recomputes probabilities.
    """
    b, sq, h, d = q.shape
    hk = k.shape[2]
    if h % hk:
        raise ValueError(f"query heads {h} must be a multiple of kv heads {hk}")
    block_q, block_k = min(block_q, sq), min(block_k, k.shape[1])
    # Padded queries get index -1 and padded keys a huge index: neither matches anything
    # real, and the huge key index keeps padded key blocks out of the causal test.
    qp = _pad_seq(q.reshape(b, sq, hk, h // hk, d), block_q, 0)
    qi = _pad_seq(q_idx, block_q, -1)
    qs = _pad_seq(q_seg, block_q, PAD)
    kp, vp = _pad_seq(k, block_k, 0), _pad_seq(v, block_k, 0)
    ki, ks = _pad_seq(k_idx, block_k, 2**30), _pad_seq(k_seg, block_k, PAD)
    # Head-major blocks ([n, B, heads, block, D]): every dot in the loops is then a plain
    # batched matmul over (B, heads) with no per-iteration transposes of q, k or v tiles;
    # on the CPU this made forward + backward ~1.4x faster at 5,499 tokens (issue 18).
    out = _blockwise(
        jnp.transpose(_blocks(qp, block_q), (0, 1, 3, 4, 2, 5)),
        jnp.transpose(_blocks(kp, block_k), (0, 1, 3, 2, 4)),
        jnp.transpose(_blocks(vp, block_k), (0, 1, 3, 2, 4)),
        _blocks(qi, block_q),
        _blocks(qs, block_q),
        _blocks(ki, block_k),
        _blocks(ks, block_k),
        block_q,
        block_k,
        1.0 / (d**0.5),
    )
    out = jnp.transpose(out, (1, 0, 4, 2, 3, 5)).reshape(b, -1, h, d)
    return out[:, :sq]
