# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Lumos frame-causal attention with the TPU splash kernel (Pallas), blocks skipped.

Splash (jax.experimental.pallas.ops.tpu.splash_attention) takes a STATIC mask (the same
for every sample, known at trace time; fully masked blocks are skipped from it) AND-ed
with per-sample segment ids (q_seg == kv_seg). The Lumos mask is "causal OR same frame"
with per-sample frame boundaries (the caption length moves them): an OR of a static and
a dynamic part, which one call cannot express. It is exactly the union of two disjoint
parts, one splash call each (self-attention, token i at sequence index i):
  A  j <= i, query and key real (padding: itself only)  CausalMask AND ids (real 0,
                                                          each pad its own id)
  B  i < j < i + W, same frame                            LocalMask band AND ids (frame
                                                          f, any other token its own id)
W = model.max_frame_tokens, the longest frame. Skipped: every block above the diagonal
in A, every block outside the band in B; B costs about 2W/S of A (27% at 256p).
The outputs merge through their log-sum-exps; the backward runs each part's splash
backward kernels with the MERGED output and log-sum-exp, which gives the union's softmax
restricted to that part, so the gradients are exact with no extra forward. That uses
the kernel module's `_splash_attention_bwd` (not public API; tests pin it).

Cannot express, and what happens instead:
  - a KV cache (queries at arbitrary indices over cache slots): layers use blockwise;
  - S not a multiple of 128, or W unknown (0): `attention_choice` picks another path,
    an explicit model.attention='splash' raises here;
  - a frame longer than W (e.g. a resolution the config did not plan for):
    `poison_long_frames` makes the step's output NaN (the trainer stops on the
    non-finite loss) and prints one line naming model.max_frame_tokens.
Off TPU the kernel runs in Pallas interpret mode (tests; slow).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.experimental.pallas.ops.tpu import splash_attention as sa
from jax.experimental.pallas.ops.tpu.splash_attention import splash_attention_kernel as sk
from jax.sharding import PartitionSpec as P

from lumos_jax import parallel
from lumos_jax.layout import PAD
from lumos_jax.model import attention_choice

BLOCKS = (512, 256, 128)  # largest dividing S is used; 128 is the kernel's lane width


def _block(seq: int) -> int:
    for b in BLOCKS:
        if seq % b == 0:
            return b
    raise ValueError(
        f"splash attention: sequence length {seq} is not a multiple of "
        f"{BLOCKS[-1]}; use model.attention='blockwise' (or 'auto')"
    )


def _kernels(heads: int, seq: int, band: int, interpret: bool):
    """(part A, part B) kernels over [heads, seq, D], saving their log-sum-exps.

    Built per trace, never cached here: their mask arrays become constants of the trace
    that makes them (splash caches the numpy mask processing itself)."""
    b = _block(seq)
    sizes = sa.BlockSizes(
        block_q=b,
        block_kv=b,
        block_kv_compute=b,
        block_q_dkv=b,
        block_kv_dkv=b,
        block_kv_dkv_compute=b,
        block_q_dq=b,
        block_kv_dq=b,
    )
    causal = sa.CausalMask((seq, seq))
    future = sa.LocalMask((seq, seq), window_size=(-1, band - 1), offset=0)
    make = functools.partial(
        sa.make_splash_mha,
        block_sizes=sizes,
        save_residuals=True,
        head_shards=1,
        q_seq_shards=1,
        interpret=interpret,
    )
    return (make(sa.MultiHeadMask([causal] * heads)), make(sa.MultiHeadMask([future] * heads)))


def _part_bwd(kernel, q, k, v, seg, out, lse, dout):
    """dq, dk, dv of one part given the merged out/lse (see the module docstring)."""
    kw = kernel.kwargs
    res = (
        q,
        k,
        v,
        sa.SegmentIds(seg, seg),
        None,
        out,
        lse,
        kernel.dq_mask_info,
        kernel.dkv_mask_info,
    )
    grads = sk._splash_attention_bwd(  # pylint: disable=protected-access
        False,
        kw["mask_value"],
        kw["is_mqa"],
        kw["block_sizes"],
        None,
        kw["mask_function"],
        kw["attn_logits_soft_cap"],
        kw["interpret"],
        res,
        dout,
    )
    return grads[3:6]


def _merged_fwd(q, k, v, seg_a, seg_b, band, interpret):
    """One sequence: q [H, S, D] (pre-scaled), k/v [Hk, S, D] -> (out, lse [H, S])."""
    kern_a, kern_b = _kernels(q.shape[0], q.shape[1], band, interpret)
    out_a, (lse_a,) = kern_a(q, k, v, segment_ids=sa.SegmentIds(seg_a, seg_a))
    out_b, (lse_b,) = kern_b(q, k, v, segment_ids=sa.SegmentIds(seg_b, seg_b))
    # A row of B with no allowed key has lse ~ -3e38: its weight is exactly 0.
    lse = jnp.logaddexp(lse_a, lse_b)
    out = jnp.exp(lse_a - lse)[..., None] * out_a.astype(jnp.float32) + jnp.exp(lse_b - lse)[
        ..., None
    ] * out_b.astype(jnp.float32)
    return out.astype(q.dtype), lse


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6))
def _two_part(q, k, v, seg_a, seg_b, band, interpret):
    return _merged_fwd(q, k, v, seg_a, seg_b, band, interpret)[0]


def _two_part_fwd(q, k, v, seg_a, seg_b, band, interpret):
    out, lse = _merged_fwd(q, k, v, seg_a, seg_b, band, interpret)
    return out, (q, k, v, seg_a, seg_b, out, lse)


def _two_part_bwd(band, interpret, res, dout):
    q, k, v, seg_a, seg_b, out, lse = res
    kern_a, kern_b = _kernels(q.shape[0], q.shape[1], band, interpret)
    ga = _part_bwd(kern_a, q, k, v, seg_a, out, lse, dout)
    gb = _part_bwd(kern_b, q, k, v, seg_b, out, lse, dout)
    return tuple((x + y).astype(p.dtype) for x, y, p in zip(ga, gb, (q, k, v))) + (None, None)


_two_part.defvjp(_two_part_fwd, _two_part_bwd)


def part_segment_ids(seg):
    """Lumos segments [B, S] -> the segment ids of parts A and B (module docstring)."""
    own = jnp.arange(seg.shape[-1], dtype=jnp.int32)
    seg_a = jnp.where(seg == PAD, 1 + own, 0)
    seg_b = jnp.where(seg >= 0, seg, -1 - own)
    return seg_a.astype(jnp.int32), seg_b.astype(jnp.int32)


def _local(q, k, v, seg, *, band, interpret):
    d = q.shape[-1]
    seg_a, seg_b = part_segment_ids(seg)
    heads_first = lambda x: jnp.swapaxes(x, 1, 2)  # [B, S, H, D] <-> [B, H, S, D]
    fn = functools.partial(_two_part, band=band, interpret=interpret)
    out = jax.vmap(fn)(
        heads_first(q * (d**-0.5)).astype(q.dtype), heads_first(k), heads_first(v), seg_a, seg_b
    )
    return heads_first(out)


def _specs(q_shape, k_shape, mesh):
    """Batch over the batch mesh axes; heads over 'tensor' only when both the query and
    the kv heads divide it (a query head must meet its own kv head in its shard)."""
    shape = dict(mesh.shape)
    qs = parallel.logical_to_spec(("act_batch", None, "act_heads", None), q_shape, shape)
    ks = parallel.logical_to_spec(("act_batch", None, "act_kv_heads", None), k_shape, shape)
    if qs[2] != ks[2]:
        qs, ks = P(qs[0], None, None, None), P(ks[0], None, None, None)
    return qs, ks, P(qs[0], None)


def splash_attention(q, k, v, seg, *, band: int, interpret: bool | None = None):
    """Self-attention with the Lumos mask. q [B, S, H, D]; k, v [B, S, Hk, D]; seg [B, S]
    (the token at sequence index i is row i). Same result as `attention.dense_attention`
    with indices 0..S-1 on every row that is not padding."""
    if band < 2:  # an empty band would leave part B rows without a block (0/0)
        raise ValueError(
            f"model.attention='splash' needs model.max_frame_tokens >= 2 (the "
            f"longest frame, in tokens), not {band}"
        )
    _block(q.shape[1])
    mesh = jax.sharding.get_abstract_mesh()
    if interpret is None:
        interpret = attention_choice.context_platform() != "tpu"
    fn = functools.partial(_local, band=band, interpret=interpret)
    if mesh.empty:
        return fn(q, k, v, seg)
    # A Pallas call has no sharding rule: run it per shard, batch (and heads) split.
    qs, ks, ss = _specs(q.shape, k.shape, mesh)
    return jax.shard_map(fn, mesh=mesh, in_specs=(qs, ks, ks, ss), out_specs=qs, check_vma=False)(
        q, k, v, seg
    )


def poison_long_frames(x, seg, band: int):
    """x [B, S, ...] unchanged, or NaN with one printed line when a frame of `seg` is longer
    than `band` (splash's part B would silently drop its far keys)."""
    ids = jnp.where(seg >= 0, seg, seg.shape[-1])
    counts = jax.vmap(lambda i: jnp.bincount(i, length=seg.shape[-1] + 1)[:-1])(ids)
    longest = counts.max()
    bad = longest > band

    def report():
        jax.debug.print(
            "splash attention: a frame of {n} tokens is longer than "
            "model.max_frame_tokens={b}; raise it (or use another "
            "model.attention)",
            n=longest,
            b=band,
        )

    jax.lax.cond(bad, report, lambda: None)
    return jnp.where(bad, jnp.nan, x).astype(x.dtype)


def visited_blocks(seq: int, band: int) -> tuple[int, int, int]:
    """(block, blocks run by part A, by part B) for one head of one sequence: what the
    kernels compute (XLA's cost analysis cannot see inside a Pallas call)."""
    b = _block(seq)
    n = seq // b
    part_a = n * (n + 1) // 2
    # q block i meets kv block j of the band i < k - q < i + band when i <= j and
    # j * b <= (i + 1) * b - 1 + band - 1.
    part_b = sum(min(n - 1, ((i + 1) * b + band - 2) // b) - i + 1 for i in range(n))
    return b, part_a, part_b
