# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Decoder hyper-parameters and the model presets (tiny, 0.5b, 1b, 3.6b)."""

from __future__ import annotations

import dataclasses

from lumos_jax import layout
from lumos_jax.model import mm_rope

# "auto": the fastest path that handles the run's shapes on its platform, picked by
# `attention_choice.choose` before the model is built (the presets' default).
ATTENTION_IMPLS = ("auto", "dense", "cudnn", "blockwise", "splash")
REMAT_POLICIES = ("none", "full", "dots", "dots_no_batch", "save_qkv", "save_out_proj")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """A Chameleon/Llama decoder (reference section 5) with MM-RoPE."""

    vocab_size: int
    visual_offset: int  # first visual id: the loss and sampler use [offset, offset + size)
    visual_size: int
    embed_dim: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    mlp_dim: int
    norm_eps: float = 1e-5
    qk_norm: bool = True
    qk_norm_per_head: bool = False  # False: one gamma/beta shared by all heads (release)
    rope_variant: str = "mmrope"  # mmrope | mrope | 1d
    rope_theta: float = 10000.0
    param_dtype: str = "float32"  # master weights
    dtype: str = "bfloat16"  # compute
    attention: str = "auto"  # auto | dense (xla) | cudnn | blockwise | splash (TPU)
    block_q: int = 512
    block_k: int = 512
    # Longest frame segment (image_start..image_end, tokens) the model sees without a KV
    # cache: the width of splash attention's intra-frame band; 0 = unknown (no splash).
    max_frame_tokens: int = 0
    scan_layers: bool = True
    remat: str = "full"
    init_std: float = 0.02

    def __post_init__(self):
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"model.num_heads={self.num_heads} is not a multiple of "
                f"model.num_kv_heads={self.num_kv_heads}"
            )
        if self.attention not in ATTENTION_IMPLS:
            raise ValueError(f"model.attention={self.attention!r}; expected {ATTENTION_IMPLS}")
        if self.remat not in REMAT_POLICIES:
            raise ValueError(f"model.remat={self.remat!r}; expected {REMAT_POLICIES}")
        if self.visual_offset + self.visual_size > self.vocab_size:
            raise ValueError("model.visual_offset + visual_size exceeds model.vocab_size")
        # Validated here so a bad head_dim / rope_variant fails when the config is read.
        mm_rope.axis_allocation(self.head_dim, self.rope_variant)

    @classmethod
    def from_dict(cls, d) -> "ModelConfig":
        d = dict(d)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown model config keys {unknown}; known: {sorted(names)}")
        return cls(**d)


def _llama(vocab: layout.Vocab, embed, layers, heads, kv_heads, mlp, head_dim=None, **kw):
    """Every ModelConfig field (so configs expose each knob), defaults filled in."""
    cfg = ModelConfig(
        vocab_size=vocab.size,
        visual_offset=vocab.visual_offset,
        visual_size=vocab.visual_size,
        embed_dim=embed,
        num_layers=layers,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim or embed // heads,
        mlp_dim=mlp,
        **kw,
    )
    return dataclasses.asdict(cfg)


def preset(name: str, vocab: layout.Vocab | None = None) -> dict:
    """Model preset as a plain dict (goes into the ml_collections config).

    Widths are Llama-like and land on the paper's sizes with the release vocabulary
    (129,536 ids, untied embeddings): see `python -m lumos_jax.model.summary`.
    """
    if name == "tiny":
        vocab = vocab or layout.compact_vocab()
        return _llama(
            vocab, 128, 4, 4, 2, 384, head_dim=32, max_frame_tokens=layout.tokens_per_frame(12, 12)
        )  # 96x96 px frames
    vocab = vocab or layout.release_vocab()
    if name == "0.5b":
        return _llama(vocab, 1024, 20, 16, 8, 2816, head_dim=64)
    if name == "1b":
        return _llama(vocab, 2048, 12, 16, 8, 5632)
    if name == "3.6b":
        return _llama(vocab, 3072, 28, 24, 8, 8192)
    raise ValueError(f"unknown model preset {name!r}; expected tiny, 0.5b, 1b or 3.6b")


PRESETS = ("tiny", "0.5b", "1b", "3.6b")
