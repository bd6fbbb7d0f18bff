# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""`generate`: the one library entry point (token ids in, visual codes out)."""

from __future__ import annotations

import jax
import numpy as np
from flax import nnx

from lumos_jax import layout, parallel
from lumos_jax.model.config import ModelConfig
from lumos_jax.model.decoder import Decoder
from lumos_jax.sampling import plan as plan_lib
from lumos_jax.sampling.config import Settings
from lumos_jax.sampling.sampler import Sampler, get_sampler


def vocab_for_model(cfg: ModelConfig) -> layout.Vocab:
    """The vocabulary a model config was built with (release, else the compact layout)."""
    release = layout.release_vocab()
    if (cfg.visual_offset, cfg.visual_size, cfg.vocab_size) == (
        release.visual_offset,
        release.visual_size,
        release.size,
    ):
        return release
    return layout.compact_vocab(cfg.visual_offset - 64, cfg.visual_size)


def default_mesh() -> jax.sharding.Mesh | None:
    """All devices on the 'data' axis (rows split across them), or None on one device."""
    if jax.device_count() == 1:
        return None
    return parallel.make_mesh({"data": -1, "fsdp": 1, "tensor": 1})


def build_sampler(
    model, config, prompts, *, vocab: layout.Vocab | None = None, mesh="auto"
) -> Sampler:
    """The (cached) compiled sampler for these settings, batch and prompt bucket."""
    cfg = model if isinstance(model, ModelConfig) else model.cfg
    vocab = vocab or vocab_for_model(cfg)
    settings = (
        config
        if isinstance(config, Settings)
        else Settings.from_config(config, max_size_value=vocab.max_size_value)
    )
    mesh = default_mesh() if isinstance(mesh, str) and mesh == "auto" else mesh
    bucket = plan_lib.prompt_bucket(prompts, settings)
    return get_sampler(cfg, settings, vocab, len(prompts), bucket, mesh)


def generate(
    model,
    params,
    prompts,
    config,
    key,
    *,
    first_frames=None,
    vocab: layout.Vocab | None = None,
    mesh="auto",
    on_frame=None,
) -> np.ndarray:
    """Text (+ first frame) -> visual codes, AR-DF with CFG and KV cache (or a baseline).

    model: a `Decoder` (concrete or from jax.eval_shape) or its `ModelConfig`.
    params: the pure param dict (`Trainer` state["params"], `restore_params`), or None to
      use a concrete `model`'s own parameters.
    prompts: B int sequences of text ids in the unified vocabulary: the templated prompt
      (`layout.prompt_text`) tokenised and shifted by `vocab.first_text_id`, no bos or
      separator (as `TokenRecord.text_ids`). Rows are padded to one static bucket.
    config: `config.sampling` (a ConfigDict) or `Settings`.
    key: a jax PRNG key or an int seed; the codes are a pure function of it.
    first_frames: I2V, codes int32 [B, H/8, W/8] of frame 0 (kept in both CFG branches).
    mesh: 'auto' (all devices on 'data' when there are several), a Mesh, or None.
    Returns codes int32 [B, latent_frames, H/8, W/8] (numpy).
    """
    if not len(prompts):
        raise ValueError("generate needs at least one prompt")
    sampler = build_sampler(model, config, prompts, vocab=vocab, mesh=mesh)
    if params is None:
        if not isinstance(model, Decoder):
            raise ValueError("params=None needs a concrete Decoder to take parameters from")
        params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    shardings = sampler.param_shardings
    if shardings is not None:
        params = jax.device_put(params, shardings)
    if isinstance(key, (int, np.integer)):
        key = jax.random.key(int(key))
    return sampler.generate(params, prompts, key, first_frames=first_frames, on_frame=on_frame)
