# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Causal discrete video tokenizer (Cosmos-Tokenizer DV layout) in Flax NNX.

Structure and names follow Cosmos-Tokenizer's EncoderFactorized / DecoderFactorized /
CausalDiscreteVideoTokenizer (NVIDIA, Apache-2.0):
  encoder: patcher3d (Haar) -> conv_in -> down[i].block[j] (+ down[i].attn[j])
           -> down[i].downsample (i < last) -> mid.block_1, mid.attn_1 (spatial, temporal),
           mid.block_2 -> norm_out -> SiLU -> conv_out
  quant_conv (z -> FSQ dims) -> FSQ -> post_quant_conv (FSQ dims -> z)
  decoder: conv_in -> mid -> up[i].block[j] (num_res_blocks + 1, i from last to 0)
           -> up[i].upsample (i > 0) -> norm_out -> SiLU -> conv_out -> unpatcher3d (Haar^-1)
Videos are channels-last [B, F, H, W, C] in [-1, 1]; latent frames = 1 + (F - 1) / 4.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from lumos_jax.tokenizer import fsq, haar
from lumos_jax.tokenizer.config import TokenizerConfig
from lumos_jax.tokenizer.layers import (
    CausalConv3d,
    CausalNormalize,
    HybridDownsample,
    HybridUpsample,
    ResnetBlock,
    apply_seq,
    attention_pair,
    factorized_conv,
)


def _kw(cfg: TokenizerConfig, rngs: nnx.Rngs) -> dict:
    return dict(rngs=rngs, dtype=jnp.dtype(cfg.dtype), param_dtype=jnp.dtype(cfg.param_dtype))


class _Level(nnx.Module):
    """One resolution level: res blocks, optional attention pairs, optional resampler."""

    def __init__(self, blocks, attns, resample, resample_name: str):
        self.block = nnx.List(blocks)
        self.attn = nnx.List(attns)
        self.resample_name = resample_name
        setattr(self, resample_name, resample)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        for i, block in enumerate(self.block):
            x = block(x)
            if len(self.attn):
                x = apply_seq(self.attn[i], x)
        resample = getattr(self, self.resample_name)
        return x if resample is None else resample(x)


class _Mid(nnx.Module):
    def __init__(self, channels: int, **kw):
        self.block_1 = ResnetBlock(channels, channels, **kw)
        self.attn_1 = attention_pair(channels, **kw)
        self.block_2 = ResnetBlock(channels, channels, **kw)

    def __call__(self, x):
        return self.block_2(apply_seq(self.attn_1, self.block_1(x)))


class Encoder(nnx.Module):
    """[B, F, H, W, in_ch] -> [B, 1 + (F-1)/tc, H/sc, W/sc, z_channels * z_factor]."""

    def __init__(self, cfg: TokenizerConfig, *, rngs: nnx.Rngs):
        kw = _kw(cfg, rngs)
        self.patch_size = cfg.patch_size
        ch, mult, n_lv = cfg.channels, cfg.channels_mult, len(cfg.channels_mult)
        self.conv_in = factorized_conv(cfg.in_channels * cfg.patch_size**3, ch, **kw)
        in_mult = (1,) + tuple(mult)
        curr_res = cfg.resolution // cfg.patch_size
        levels = []
        for i in range(n_lv):
            block_in, block_out = ch * in_mult[i], ch * mult[i]
            blocks, attns = [], []
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResnetBlock(block_in, block_out, **kw))
                block_in = block_out
                if curr_res in cfg.attn_resolutions:
                    attns.append(attention_pair(block_in, **kw))
            down = None
            if i != n_lv - 1:
                down = HybridDownsample(
                    block_in,
                    spatial=i < cfg.num_spatial_downs,
                    temporal=i < cfg.num_temporal_downs,
                    **kw,
                )
                curr_res //= 2
            levels.append(_Level(blocks, attns, down, "downsample"))
        self.down = nnx.List(levels)
        self.mid = _Mid(block_in, **kw)
        self.norm_out = CausalNormalize(block_in, **kw)
        self.conv_out = factorized_conv(block_in, cfg.z_channels * cfg.z_factor, **kw)

    def __call__(self, video: jnp.ndarray) -> jnp.ndarray:
        x = haar.patch3d(video, self.patch_size)
        x = apply_seq(self.conv_in, x)
        for level in self.down:
            x = level(x)
        x = self.mid(x)
        return apply_seq(self.conv_out, jax.nn.silu(self.norm_out(x)))


class Decoder(nnx.Module):
    """[B, T, h, w, z_channels] -> [B, 1 + tc*(T-1), h*sc, w*sc, out_ch]."""

    def __init__(self, cfg: TokenizerConfig, *, rngs: nnx.Rngs):
        kw = _kw(cfg, rngs)
        self.patch_size = cfg.patch_size
        ch, mult, n_lv = cfg.channels, cfg.channels_mult, len(cfg.channels_mult)
        block_in = ch * mult[-1]
        curr_res = cfg.resolution // cfg.patch_size // 2 ** (n_lv - 1)
        self.conv_in = factorized_conv(cfg.z_channels, block_in, **kw)
        self.mid = _Mid(block_in, **kw)
        levels = [None] * n_lv
        for i in reversed(range(n_lv)):
            block_out = ch * mult[i]
            blocks, attns = [], []
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(ResnetBlock(block_in, block_out, **kw))
                block_in = block_out
                if curr_res in cfg.attn_resolutions:
                    attns.append(attention_pair(block_in, **kw))
            up = None
            if i != 0:
                spatial, temporal = cfg.decoder_up_flags(i)
                up = HybridUpsample(block_in, spatial=spatial, temporal=temporal, **kw)
                curr_res *= 2
            levels[i] = _Level(blocks, attns, up, "upsample")
        self.up = nnx.List(levels)
        out_ch = cfg.out_channels * cfg.patch_size**3
        self.norm_out = CausalNormalize(block_in, **kw)
        self.conv_out = factorized_conv(block_in, out_ch, **kw)

    def __call__(self, z: jnp.ndarray) -> jnp.ndarray:
        x = self.mid(apply_seq(self.conv_in, z))
        for level in reversed(list(self.up)):
            x = level(x)
        x = apply_seq(self.conv_out, jax.nn.silu(self.norm_out(x)))
        return haar.unpatch3d(x, self.patch_size)


class CausalVideoTokenizer(nnx.Module):
    """Encoder + FSQ + decoder. Public API: `encode`, `decode`, `__call__`.

    encode(video [B, F, H, W, 3] in [-1, 1]) -> codes int32 [B, T', H/8, W/8]
    decode(codes int32 [B, T', h, w]) -> video [B, 1 + 4(T'-1), 8h, 8w, 3]
    with T' = 1 + (F - 1) / 4 for DV4x8x8.
    """

    def __init__(self, cfg: TokenizerConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        kw = _kw(cfg, rngs)
        self.encoder = Encoder(cfg, rngs=rngs)
        self.quant_conv = CausalConv3d(cfg.z_channels * cfg.z_factor, cfg.embedding_dim, 1, **kw)
        self.post_quant_conv = CausalConv3d(cfg.embedding_dim, cfg.z_channels, 1, **kw)
        self.decoder = Decoder(cfg, rngs=rngs)

    def _check_video(self, video: jnp.ndarray) -> None:
        if video.ndim != 5 or not jnp.issubdtype(video.dtype, jnp.floating):
            raise ValueError(
                f"expected a float video [B, F, H, W, C] in [-1, 1], got "
                f"{video.dtype} {video.shape} (uint8 frames: x / 127.5 - 1)"
            )
        _, f, h, w, c = video.shape
        self.cfg.latent_frames(f)  # raises on a bad frame count
        sc = self.cfg.spatial_compression
        if h % sc or w % sc or c != self.cfg.in_channels:
            raise ValueError(
                f"video shape {video.shape}: H and W must be multiples of {sc} and "
                f"channels must be {self.cfg.in_channels}"
            )

    def encode_latent(self, video: jnp.ndarray) -> jnp.ndarray:
        """Pre-quantisation latent [B, T', h, w, embedding_dim], float32."""
        self._check_video(video)
        z = self.quant_conv(self.encoder(video.astype(self.cfg.dtype)))
        return z.astype(jnp.float32)

    def encode(self, video: jnp.ndarray) -> jnp.ndarray:
        """video [B, F, H, W, C] float in [-1, 1] -> codes int32 [B, T', H/sc, W/sc]."""
        codes = fsq.quantize(self.encode_latent(video), self.cfg.levels)
        return fsq.codes_to_indices(codes, self.cfg.levels)

    def decode_codes(self, codes: jnp.ndarray) -> jnp.ndarray:
        """Normalised FSQ codes [B, T', h, w, d] -> video [B, F, H, W, C] (float32)."""
        x = self.post_quant_conv(codes.astype(self.cfg.dtype))
        return self.decoder(x).astype(jnp.float32)

    def decode(self, indices: jnp.ndarray) -> jnp.ndarray:
        """codes int32 [B, T', h, w] -> video [B, 1 + tc(T'-1), h*sc, w*sc, C] (float32)."""
        return self.decode_codes(fsq.indices_to_codes(indices, self.cfg.levels))

    def __call__(self, video: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Training forward with straight-through FSQ: -> (reconstruction, codes int32)."""
        q = fsq.quantize(self.encode_latent(video), self.cfg.levels)
        return self.decode_codes(q), fsq.codes_to_indices(jax.lax.stop_gradient(q), self.cfg.levels)


def param_count(model_or_state) -> int:
    """Number of parameter scalars of a module, state or abstract (eval_shape) state."""
    state = (
        nnx.state(model_or_state, nnx.Param)
        if isinstance(model_or_state, nnx.Module)
        else model_or_state
    )
    return sum(int(x.size) for x in jax.tree.leaves(state))


def host_init_params(abstract: nnx.State, seed: int) -> nnx.State:
    """Fills an abstract Param state on the host with numpy, same distributions as the
    `rngs` path (conv kernel and bias U(+-1/sqrt(fan_in)), norm scale 1, norm bias 0).

    Why: eager NNX init compiles one XLA program per parameter shape (~10 s on a loaded
    CPU even for the tiny config); numpy needs none and is deterministic per seed.
    """
    rng = np.random.default_rng(seed)
    flat = dict(nnx.to_flat_state(abstract))
    out = []
    for path, var in flat.items():
        parent, leaf = path[-2], path[-1]
        if parent == "conv3d":
            fan_in = int(np.prod(flat[path[:-1] + ("kernel",)].shape[:-1]))
            bound = np.float32(fan_in**-0.5)
            value = (rng.random(var.shape, dtype=np.float32) * 2 - 1) * bound
        elif parent == "norm" and leaf in ("scale", "bias"):
            value = np.full(var.shape, 1.0 if leaf == "scale" else 0.0)
        else:
            raise ValueError(f"host_init_params: no rule for parameter {'/'.join(map(str, path))}")
        out.append((path, var.replace(value=jax.device_put(np.asarray(value, var.dtype)))))
    return nnx.from_flat_state(out)


@functools.lru_cache(maxsize=8)
def abstract_model(cfg: TokenizerConfig) -> tuple[nnx.GraphDef, nnx.State]:
    """(graphdef, state with ShapeDtypeStruct leaves); cached, as tracing the constructor
    takes seconds at dv4x8x8 size. Treat the returned state as read-only."""
    return nnx.split(nnx.eval_shape(lambda: CausalVideoTokenizer(cfg, rngs=nnx.Rngs(0))))


def create(cfg: TokenizerConfig, seed: int = 0) -> CausalVideoTokenizer:
    """Builds a tokenizer with host-side (numpy) initialisation; see `host_init_params`."""
    graphdef, abstract = abstract_model(cfg)
    return nnx.merge(graphdef, host_init_params(abstract, seed))
