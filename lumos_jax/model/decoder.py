# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The Lumos-1 decoder: an unmodified Chameleon/Llama LM over text + visual tokens.

`Decoder(tokens, positions, segments, cache=None) -> (hidden, cache)` is pure and
jit-able (the module is a pytree). Layers are stacked on a leading 'layers' axis and run
with `jax.lax.scan` (or a Python loop) under a named remat policy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from lumos_jax import parallel
from lumos_jax.model import attention_choice, mm_rope, splash
from lumos_jax.model import kv_cache as kvc
from lumos_jax.model.config import ModelConfig
from lumos_jax.model.layers import Block, RMSNorm, _param
from lumos_jax.parallel import constrain

_POLICIES = {
    "full": jax.checkpoint_policies.nothing_saveable,
    "dots": jax.checkpoint_policies.checkpoint_dots,
    "dots_no_batch": jax.checkpoint_policies.dots_with_no_batch_dims_saveable,
    "save_qkv": jax.checkpoint_policies.save_only_these_names("qkv"),
    "save_out_proj": jax.checkpoint_policies.save_only_these_names("qkv", "out_proj"),
}


def _prepend_axis(tree, name):
    """Give every Variable of a vmapped (stacked) module the leading logical axis `name`."""

    def fix(v):
        meta = v.get_metadata()
        return type(v)(v[...], axes=(name,) + tuple(meta.get("axes", ())))

    return jax.tree.map(fix, tree, is_leaf=lambda x: isinstance(x, nnx.Variable))


class Decoder(nnx.Module):
    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        self.embed = _param(rngs, (cfg.vocab_size, cfg.embed_dim), ("vocab", "embed"), cfg)
        keys = jax.random.split(rngs.params(), cfg.num_layers)
        stacked = jax.vmap(lambda k: Block(cfg, nnx.Rngs(params=k)))(keys)
        self.layers = _prepend_axis(stacked, "layers")
        self.final_norm = RMSNorm(cfg.embed_dim, cfg)
        self.lm_head = _param(rngs, (cfg.embed_dim, cfg.vocab_size), ("embed", "vocab"), cfg)

    def init_cache(self, batch: int, max_len: int, dtype=None) -> kvc.KVCache:
        cfg = self.cfg
        return kvc.KVCache.create(
            cfg.num_layers,
            batch,
            max_len,
            cfg.num_kv_heads,
            cfg.head_dim,
            dtype or jnp.dtype(cfg.dtype),
        )

    def __call__(self, tokens, positions, segments, cache: kvc.KVCache | None = None, indices=None):
        """tokens/segments [B, S] int32, positions [B, S, 3] -> (hidden [B, S, E], cache).

        hidden is final-normed, in the compute dtype. With a cache the S tokens are
        written at `cache.end` (returned cache has them written; `end` unchanged).
        indices [B, S]: each token's sequence index (default 0..S-1); on a mesh with
        'context' > 1 the sequence must be in context_parallel.balance's order and
        `indices` are the ones it returns.
        """
        cfg = self.cfg
        _check_context(cache, indices)
        x = jnp.take(self.embed[...], tokens, axis=0).astype(cfg.dtype)
        x = constrain(x, ("act_batch", "act_length", "act_embed"))
        angles = mm_rope.rope_angles(
            positions, cfg.head_dim, variant=cfg.rope_variant, theta=cfg.rope_theta
        )
        angles = constrain(angles, ("act_batch", "act_length", None))
        b, s = tokens.shape
        if cache is None and attention_choice.layer_path(cfg, s, cached=False) == "splash":
            x = splash.poison_long_frames(x, segments, cfg.max_frame_tokens)  # once, here
        if cache is None:
            q_idx = jnp.broadcast_to(jnp.arange(s, dtype=jnp.int32), (b, s))
            q_idx = q_idx if indices is None else indices.astype(jnp.int32)
            xs = (self.layers, None, None)
        else:
            q_idx, k_idx, k_seg, seg_buf = kvc.query_view(cache, segments)
            xs = (self.layers, cache.k, cache.v)

        def body(x, layer):
            block, k_buf, v_buf = layer
            c = None if cache is None else (k_buf, v_buf, k_idx, k_seg, cache.end)
            x, new_kv = block(x, angles, q_idx, segments, c)
            return x, (new_kv if cache is not None else None)

        if cache is None and cfg.remat != "none":
            body = jax.checkpoint(body, policy=_POLICIES[cfg.remat])
        if cfg.scan_layers:
            x, kvs = jax.lax.scan(body, x, xs)
        else:
            outs = []
            for i in range(cfg.num_layers):
                x, kv = body(x, jax.tree.map(lambda a, i=i: a[i], xs))
                outs.append(kv)
            kvs = jax.tree.map(lambda *a: jnp.stack(a), *outs) if cache is not None else None
        x = self.final_norm(x)
        if cache is not None:
            cache = kvc.KVCache(kvs[0], kvs[1], seg_buf, cache.end)
        return x, cache

    def logits(self, hidden, visual_only: bool = False):
        """hidden [B, S, E] -> fp32 logits over the vocabulary (or its visual slice)."""
        w = self.lm_head[...]
        if visual_only:
            w = jax.lax.dynamic_slice_in_dim(w, self.cfg.visual_offset, self.cfg.visual_size, 1)
        out = jnp.einsum(
            "bse,ev->bsv", hidden, w.astype(hidden.dtype), preferred_element_type=jnp.float32
        )
        return constrain(out, ("act_batch", "act_length", "act_vocab"))


def _check_context(cache, indices) -> None:
    """One line for a call the context-parallel layout cannot serve."""
    c = parallel.axis_size("context")
    if c == 1:
        return
    if cache is not None:
        raise ValueError(
            f"the KV-cached decoder (sampling) does not split sequences: run it on a mesh "
            f"with mesh.context=1, not {c}"
        )
    if indices is None:
        raise ValueError(
            f"on a mesh with mesh.context={c} the decoder needs the sequence in "
            f"context_parallel.balance order and its `indices`"
        )


def param_count(model: Decoder) -> int:
    return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def to_pure(model: Decoder) -> dict:
    """Parameters as a plain nested dict of arrays (checkpoints, converters)."""
    return nnx.to_pure_dict(nnx.state(model, nnx.Param))


def abstract_decoder(cfg: ModelConfig) -> Decoder:
    """The Decoder of `cfg` with ShapeDtypeStructs for parameters (nothing allocated)."""
    return jax.eval_shape(lambda: Decoder(cfg, rngs=nnx.Rngs(0)))


def with_params(abstract_model: Decoder, params: dict) -> Decoder:
    """The decoder `abstract_model` describes, with parameters `params` (a pure dict as
    `to_pure` gives; works on tracers inside jit: the trainer and sampler steps use it)."""
    graphdef, state = nnx.split(abstract_model)
    nnx.replace_by_pure_dict(state, params)
    return nnx.merge(graphdef, state)


def from_pure(cfg: ModelConfig, pure: dict) -> Decoder:
    """A Decoder whose parameters are `pure` (shapes are checked against `cfg`)."""
    abstract = abstract_decoder(cfg)
    want = jax.tree_util.tree_leaves_with_path(nnx.to_pure_dict(nnx.state(abstract)))
    got = dict(jax.tree_util.tree_leaves_with_path(pure))
    for path, leaf in want:
        if path not in got:
            raise KeyError(f"parameters lack {jax.tree_util.keystr(path)}")
        if tuple(got[path].shape) != tuple(leaf.shape):
            raise ValueError(
                f"parameter {jax.tree_util.keystr(path)} has shape "
                f"{tuple(got[path].shape)}, the config needs {tuple(leaf.shape)}"
            )
    return with_params(abstract, jax.tree.map(jnp.asarray, pure))
