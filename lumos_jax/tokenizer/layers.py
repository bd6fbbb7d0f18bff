# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Causal 3-D building blocks of the video tokenizer (Flax NNX, channels-last).

Layer semantics and attribute names follow Cosmos-Tokenizer's `layers3d.py` (NVIDIA,
Apache-2.0) so that checkpoints map one to one: a `CausalConv3d` holds `conv3d`
(torch `conv3d.weight` -> our `conv3d.kernel`), a `CausalNormalize` holds `norm`
(torch `norm.weight` -> our `norm.scale`), factorised convs are 2-element lists
(torch `nn.Sequential` indices 0, 1). All activations are [B, T, H, W, C].
Causality in time: convs pad time on the left by repeating frame 0, norms and spatial
attention act per frame, temporal attention is masked causal.
"""

from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

# Logical axis names (custom metadata, resolved by the project's sharding rules).
CONV_KERNEL_AXES = (None, None, None, "conv_in", "conv_out")
CONV_BIAS_AXES = ("conv_out",)
NORM_AXES = ("norm",)
# torch's Conv3d default init, which Cosmos trains from: kernel and bias both
# U(+-1/sqrt(fan_in)). Non-zero biases matter: with zero biases and the all-zero FSQ codes
# of an untrained encoder, every per-frame norm sees a constant frame and the backward
# pass multiplies by 1/sqrt(eps) = 1e3 per norm (gradients ~1e30 at init).
CONV_INIT = nnx.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def _bias_init(fan_in: int):
    bound = fan_in**-0.5

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def pad_time_first(x: jnp.ndarray, n: int) -> jnp.ndarray:
    """Prepends n copies of frame 0: [B, T, ...] -> [B, T + n, ...]."""
    if n <= 0:
        return x
    return jnp.concatenate([jnp.repeat(x[:, :1], n, axis=1), x], axis=1)


class CausalConv3d(nnx.Module):
    """Conv3d with causal (replicate frame 0) time padding and zero spatial padding.

    Time padding = (kt - 1) + (1 - time_stride), as in Cosmos's CausalConv3d.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int | Sequence[int] = 1,
        *,
        stride: int = 1,
        time_stride: int = 1,
        padding: int = 0,
        rngs: nnx.Rngs,
        dtype=jnp.float32,
        param_dtype=jnp.float32,
    ):
        kernel = (kernel,) * 3 if isinstance(kernel, int) else tuple(kernel)
        self.time_pad = (kernel[0] - 1) + (1 - time_stride)
        self.padding = padding
        self.conv3d = nnx.Conv(
            in_ch,
            out_ch,
            kernel,
            strides=(time_stride, stride, stride),
            padding="VALID",
            dtype=dtype,
            param_dtype=param_dtype,
            kernel_init=CONV_INIT,
            bias_init=_bias_init(in_ch * kernel[0] * kernel[1] * kernel[2]),
            rngs=rngs,
            kernel_metadata={"axes": CONV_KERNEL_AXES},
            bias_metadata={"axes": CONV_BIAS_AXES},
        )

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        x = pad_time_first(x, self.time_pad)
        p = self.padding
        if p:
            x = jnp.pad(x, ((0, 0), (0, 0), (p, p), (p, p), (0, 0)))
        return self.conv3d(x)


def factorized_conv(in_ch: int, out_ch: int, **kw) -> nnx.List:
    """(1,3,3) spatial conv then (3,1,1) causal temporal conv."""
    return nnx.List(
        [
            CausalConv3d(in_ch, out_ch, (1, 3, 3), padding=1, **kw),
            CausalConv3d(out_ch, out_ch, (3, 1, 1), padding=0, **kw),
        ]
    )


def apply_seq(layers: nnx.List, x: jnp.ndarray) -> jnp.ndarray:
    for layer in layers:
        x = layer(x)
    return x


class CausalNormalize(nnx.Module):
    """GroupNorm(1 group, eps 1e-6) applied to each frame separately (keeps causality)."""

    def __init__(
        self, channels: int, *, rngs: nnx.Rngs, dtype=jnp.float32, param_dtype=jnp.float32
    ):
        self.norm = nnx.GroupNorm(
            channels,
            num_groups=1,
            epsilon=1e-6,
            use_fast_variance=False,
            dtype=dtype,
            param_dtype=param_dtype,
            rngs=rngs,
            scale_metadata={"axes": NORM_AXES},
            bias_metadata={"axes": NORM_AXES},
        )

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        b, t = x.shape[:2]
        y = self.norm(x.reshape(b * t, *x.shape[2:]))  # statistics over (H, W, C) per frame
        return y.reshape(x.shape)


class ResnetBlock(nnx.Module):
    """Cosmos CausalResnetBlockFactorized3d: norm-SiLU-conv twice plus a (1x1x1) shortcut."""

    def __init__(self, in_ch: int, out_ch: int, **kw):
        self.norm1 = CausalNormalize(in_ch, **kw)
        self.conv1 = factorized_conv(in_ch, out_ch, **kw)
        self.norm2 = CausalNormalize(out_ch, **kw)
        self.conv2 = factorized_conv(out_ch, out_ch, **kw)
        self.nin_shortcut = CausalConv3d(in_ch, out_ch, 1, **kw) if in_ch != out_ch else None

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        h = apply_seq(self.conv1, jax.nn.silu(self.norm1(x)))
        h = apply_seq(self.conv2, jax.nn.silu(self.norm2(h)))  # dropout 0 in all Cosmos configs
        if self.nin_shortcut is not None:
            x = self.nin_shortcut(x)
        return x + h


def _single_head_attention(q, k, v, causal: bool):
    """q, k, v [N, L, C] -> [N, L, C]; one head, scale C**-0.5, softmax in float32."""
    logits = jnp.einsum("nqc,nkc->nqk", q, k, preferred_element_type=jnp.float32)
    logits = logits * (q.shape[-1] ** -0.5)
    if causal:
        length = q.shape[1]
        mask = jnp.tril(jnp.ones((length, length), bool))
        logits = jnp.where(mask, logits, jnp.finfo(jnp.float32).min)
    weights = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
    return jnp.einsum("nqk,nkc->nqc", weights, v)


class _AttnBase(nnx.Module):
    """Shared parameters of Cosmos's CausalAttnBlock / CausalTemporalAttnBlock."""

    def __init__(self, channels: int, **kw):
        self.norm = CausalNormalize(channels, **kw)
        self.q = CausalConv3d(channels, channels, 1, **kw)
        self.k = CausalConv3d(channels, channels, 1, **kw)
        self.v = CausalConv3d(channels, channels, 1, **kw)
        self.proj_out = CausalConv3d(channels, channels, 1, **kw)

    def _qkv(self, x):
        h = self.norm(x)
        return self.q(h), self.k(h), self.v(h)


class SpatialAttention(_AttnBase):
    """Full attention over the H*W positions of each frame."""

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        b, t, hh, ww, c = x.shape
        q, k, v = (a.reshape(b * t, hh * ww, c) for a in self._qkv(x))
        h = _single_head_attention(q, k, v, causal=False).reshape(x.shape)
        return x + self.proj_out(h)


class TemporalAttention(_AttnBase):
    """Causal attention over the T frames at each pixel position."""

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        b, t, hh, ww, c = x.shape
        q, k, v = (a.transpose(0, 2, 3, 1, 4).reshape(b * hh * ww, t, c) for a in self._qkv(x))
        h = _single_head_attention(q, k, v, causal=True)
        h = h.reshape(b, hh, ww, t, c).transpose(0, 3, 1, 2, 4)
        return x + self.proj_out(h)


def attention_pair(channels: int, **kw) -> nnx.List:
    """Cosmos's nn.Sequential(CausalAttnBlock, CausalTemporalAttnBlock)."""
    return nnx.List([SpatialAttention(channels, **kw), TemporalAttention(channels, **kw)])


def _avg_pool_pairs(x: jnp.ndarray, axis: int) -> jnp.ndarray:
    """Mean of consecutive pairs along `axis` (stride 2, trailing odd element dropped)."""
    n = x.shape[axis] // 2
    x = jax.lax.slice_in_dim(x, 0, 2 * n, axis=axis)
    shape = x.shape[:axis] + (n, 2) + x.shape[axis + 1 :]
    return x.reshape(shape).mean(axis=axis + 1)


class HybridDownsample(nnx.Module):
    """Cosmos CausalHybridDownsample3d: strided conv + average pool, then a 1x1x1 conv.

    Only the convs of enabled directions are built (Cosmos builds all three always;
    the converter skips the dead ones).
    """

    def __init__(self, channels: int, spatial: bool, temporal: bool, **kw):
        self.spatial, self.temporal = spatial, temporal
        self.conv1 = (
            CausalConv3d(channels, channels, (1, 3, 3), stride=2, **kw) if spatial else None
        )
        self.conv2 = (
            CausalConv3d(channels, channels, (3, 1, 1), time_stride=2, **kw) if temporal else None
        )
        self.conv3 = CausalConv3d(channels, channels, 1, **kw) if spatial or temporal else None

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        if self.conv3 is None:
            return x
        if self.conv1 is not None:  # [B,T,H,W,C] -> [B,T,H/2,W/2,C]
            x = jnp.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1), (0, 0)))
            x = self.conv1(x) + _avg_pool_pairs(_avg_pool_pairs(x, 2), 3)
        if self.conv2 is not None:  # T = 1 + 2k -> 1 + k
            x = pad_time_first(x, 1)
            x = self.conv2(x) + _avg_pool_pairs(x, 1)
        return self.conv3(x)


class HybridUpsample(nnx.Module):
    """Cosmos CausalHybridUpsample3d: nearest repeat + residual conv, then a 1x1x1 conv."""

    def __init__(self, channels: int, spatial: bool, temporal: bool, **kw):
        self.conv1 = CausalConv3d(channels, channels, (3, 1, 1), **kw) if temporal else None
        self.conv2 = (
            CausalConv3d(channels, channels, (1, 3, 3), padding=1, **kw) if spatial else None
        )
        self.conv3 = CausalConv3d(channels, channels, 1, **kw) if spatial or temporal else None

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        if self.conv3 is None:
            return x
        if self.conv1 is not None:
            if x.shape[1] > 1:  # T -> 2T - 1: repeat every frame, drop the extra copy of frame 0
                x = jnp.repeat(x, 2, axis=1)[:, 1:]
            x = self.conv1(x) + x
        if self.conv2 is not None:
            x = jnp.repeat(jnp.repeat(x, 2, axis=2), 2, axis=3)
            x = self.conv2(x) + x
        return self.conv3(x)
