# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The decoder's parameters without a Trainer: logical axes, shardings, loading.

The trainer (train_step.Trainer), the sampler and the loaders of sample / evaluate all
take the parameter tree, its shardings and the checkpoint reader from here, so sampling
needs a model config and a mesh, never the training stack.
"""

from __future__ import annotations

import os

import jax
from flax import nnx

from lumos_jax import layout, parallel
from lumos_jax.checkpoint import restore_params
from lumos_jax.model import convert_hf
from lumos_jax.model.config import ModelConfig
from lumos_jax.model.decoder import Decoder, to_pure


def logical_axes(model: Decoder) -> dict:
    """Pure dict (same tree as the params) of each parameter's logical axis names."""
    out: dict = {}
    for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = tuple(var.get_metadata()["axes"])
    return out


def param_shardings(model: Decoder, mesh: jax.sharding.Mesh) -> dict:
    """NamedShardings of the params of `model` (concrete or abstract) on `mesh`."""
    return parallel.shardings_from_axes(logical_axes(model), to_pure(model), mesh)


def abstract_params(model: Decoder, mesh: jax.sharding.Mesh) -> dict:
    """ShapeDtypeStructs of the params with their shardings: Orbax restore targets."""
    return jax.tree.map(
        lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
        to_pure(model),
        param_shardings(model, mesh),
    )


def is_hf_checkpoint(path: str) -> bool:
    """A Hugging Face Chameleon directory: config.json next to .safetensors files."""
    return os.path.exists(os.path.join(path, "config.json")) and any(
        p.endswith(".safetensors") for p in os.listdir(path)
    )


def load(path: str, model_cfg: ModelConfig, vocab: layout.Vocab, abstract: dict) -> dict:
    """Params from a train checkpoint step, a params export or a Hugging Face Chameleon
    directory, placed on the shardings of `abstract` (see abstract_params)."""
    path = os.path.abspath(os.path.expanduser(path))
    if is_hf_checkpoint(path):
        cfg, pure, _ = convert_hf.load_hf(path, vocab)
        for key in ("embed_dim", "num_layers", "num_heads", "num_kv_heads", "mlp_dim"):
            if getattr(cfg, key) != model_cfg.__dict__[key]:
                raise ValueError(
                    f"init_from={path}: checkpoint {key}={getattr(cfg, key)} but "
                    f"config model.{key}={model_cfg.__dict__[key]}"
                )
        return jax.device_put(pure, jax.tree.map(lambda x: x.sharding, abstract))
    return restore_params(path, abstract)
