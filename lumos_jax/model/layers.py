# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Decoder building blocks (Flax NNX, modules used as plain pytrees).

Weights are stored in `param_dtype` (fp32 master copies) and cast to the compute dtype
at use. Every parameter carries logical axis names as `axes` metadata.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jax.ad_checkpoint import checkpoint_name

from lumos_jax import parallel
from lumos_jax.model import attention as attn_lib
from lumos_jax.model import attention_choice, context_parallel, kv_cache, mm_rope, splash
from lumos_jax.model.config import ModelConfig
from lumos_jax.parallel import constrain


def _param(rngs, shape, axes, cfg: ModelConfig, std=None):
    std = cfg.init_std if std is None else std
    value = std * jax.random.normal(rngs.params(), shape, jnp.dtype(cfg.param_dtype))
    return nnx.Param(value, axes=axes)


def _const(value, shape, axes, cfg: ModelConfig):
    return nnx.Param(jnp.full(shape, value, jnp.dtype(cfg.param_dtype)), axes=axes)


class RMSNorm(nnx.Module):
    """Pre-norm: x / rms(x) * scale, statistics in fp32 (eps 1e-5 as Chameleon)."""

    def __init__(self, dim: int, cfg: ModelConfig):
        self.scale = _const(1.0, (dim,), ("norm",), cfg)
        self.eps = cfg.norm_eps

    def __call__(self, x):
        x32 = x.astype(jnp.float32)
        y = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps)
        return (y * self.scale[...].astype(jnp.float32)).astype(x.dtype)


class HeadLayerNorm(nnx.Module):
    """QK-norm: LayerNorm over head_dim; gamma/beta shared by heads or one per head."""

    def __init__(self, heads: int, cfg: ModelConfig):
        shape = (heads, cfg.head_dim) if cfg.qk_norm_per_head else (cfg.head_dim,)
        # 'norm' marks parameters that are replicated and not weight-decayed.
        axes = ("norm", "norm") if cfg.qk_norm_per_head else ("norm",)
        self.scale = _const(1.0, shape, axes, cfg)
        self.bias = _const(0.0, shape, axes, cfg)

    def __call__(self, x):  # x [..., heads, head_dim]
        x32 = x.astype(jnp.float32)
        mean = x32.mean(-1, keepdims=True)
        var = jnp.square(x32 - mean).mean(-1, keepdims=True)
        y = (x32 - mean) * jax.lax.rsqrt(var + 1e-5)  # eps 1e-5 as Chameleon's q/k norm
        return (y * self.scale[...] + self.bias[...]).astype(x.dtype)


class Attention(nnx.Module):
    """GQA self-attention with QK-norm, MM-RoPE and the Lumos frame-causal mask."""

    def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
        e, h, hk, d = cfg.embed_dim, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.cfg = cfg
        self.wq = _param(rngs, (e, h, d), ("embed", "heads", "head_dim"), cfg)
        self.wk = _param(rngs, (e, hk, d), ("embed", "kv_heads", "head_dim"), cfg)
        self.wv = _param(rngs, (e, hk, d), ("embed", "kv_heads", "head_dim"), cfg)
        self.wo = _param(rngs, (h, d, e), ("heads", "head_dim", "embed"), cfg)
        if cfg.qk_norm:
            self.q_norm = HeadLayerNorm(h, cfg)
            self.k_norm = HeadLayerNorm(hk, cfg)

    def project_kv(self, x, angles):
        """x [B, S, E] -> rotated k, v [B, S, Hk, D] (what a KV cache stores)."""
        dt = x.dtype
        k = jnp.einsum("bse,ehd->bshd", x, self.wk[...].astype(dt))
        v = jnp.einsum("bse,ehd->bshd", x, self.wv[...].astype(dt))
        if self.cfg.qk_norm:
            k = self.k_norm(k)
        k = mm_rope.apply_rope(k, angles)
        k = checkpoint_name(k, "qkv")
        v = checkpoint_name(v, "qkv")
        return k, v

    def __call__(self, x, angles, q_idx, q_seg, cache=None):
        """x [B, S, E]. Without a cache: self-attention over these S tokens and returns
        (out [B, S, E], (k, v) [B, S, Hk, D]). With cache = (k_buf, v_buf, k_idx, k_seg,
        end): writes k/v at rows end[b]..end[b]+S of the buffers [B, Smax, Hk, D],
        attends over the buffer slots (k_idx/k_seg describe them) and returns
        (out, (k_buf, v_buf)) with the written buffers.
        """
        cfg, dt = self.cfg, x.dtype
        q = jnp.einsum("bse,ehd->bshd", x, self.wq[...].astype(dt))
        if cfg.qk_norm:
            q = self.q_norm(q)
        q = mm_rope.apply_rope(q, angles)
        q = checkpoint_name(q, "qkv")
        q = constrain(q, ("act_batch", "act_length", "act_heads", None))
        k, v = self.project_kv(x, angles)
        k_idx, k_seg = q_idx, q_seg
        new_kv = (k, v)
        if cache is not None:
            k_buf, v_buf, k_idx, k_seg, end = cache
            new_kv = (
                kv_cache.write_rows(k_buf, k.astype(k_buf.dtype), end),
                kv_cache.write_rows(v_buf, v.astype(v_buf.dtype), end),
            )
            k, v = new_kv[0].astype(dt), new_kv[1].astype(dt)
        path = attention_choice.layer_path(cfg, k.shape[1], cached=cache is not None)
        if cache is None and parallel.axis_size("context") > 1:  # sequence split
            o = context_parallel.attention(
                q, k, v, q_idx, q_seg, path=path, block_q=cfg.block_q, block_k=cfg.block_k
            )
        elif path == "splash":  # self-attention only (layer_path): indices are 0..S-1
            o = splash.splash_attention(q, k, v, q_seg, band=cfg.max_frame_tokens)
        elif path == "blockwise":  # also over a KV cache: O(S x block) at 384p
            o = attn_lib.blockwise_attention(
                q, k, v, q_idx, q_seg, k_idx, k_seg, block_q=cfg.block_q, block_k=cfg.block_k
            )
        else:
            impl = "cudnn" if path == "cudnn" else "xla"
            o = attn_lib.dense_attention(q, k, v, q_idx, q_seg, k_idx, k_seg, implementation=impl)
        o = constrain(o, ("act_batch", "act_length", "act_heads", None))
        out = jnp.einsum("bshd,hde->bse", o, self.wo[...].astype(dt))
        out = checkpoint_name(out, "out_proj")
        return out, new_kv


class MLP(nnx.Module):
    """SwiGLU: down(silu(gate(x)) * up(x)), no biases."""

    def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
        e, f = cfg.embed_dim, cfg.mlp_dim
        self.gate = _param(rngs, (e, f), ("embed", "mlp"), cfg)
        self.up = _param(rngs, (e, f), ("embed", "mlp"), cfg)
        self.down = _param(rngs, (f, e), ("mlp", "embed"), cfg)

    def __call__(self, x):
        dt = x.dtype
        g = jnp.einsum("bse,ef->bsf", x, self.gate[...].astype(dt))
        u = jnp.einsum("bse,ef->bsf", x, self.up[...].astype(dt))
        h = constrain(jax.nn.silu(g) * u, ("act_batch", "act_length", "act_mlp"))
        out = jnp.einsum("bsf,fe->bse", h, self.down[...].astype(dt))
        return checkpoint_name(out, "out_proj")


class Block(nnx.Module):
    """Pre-norm transformer layer: x + attn(norm(x)); x + mlp(norm(x))."""

    def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
        self.attn_norm = RMSNorm(cfg.embed_dim, cfg)
        self.attn = Attention(cfg, rngs)
        self.mlp_norm = RMSNorm(cfg.embed_dim, cfg)
        self.mlp = MLP(cfg, rngs)

    def __call__(self, x, angles, q_idx, q_seg, cache=None):
        h, new_kv = self.attn(self.attn_norm(x), angles, q_idx, q_seg, cache)
        x = x + h
        x = x + self.mlp(self.mlp_norm(x))
        return constrain(x, ("act_batch", "act_length", "act_embed")), new_kv
