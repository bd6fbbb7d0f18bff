# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Print parameter counts of the model presets (or of a config's model), no allocation.

python -m lumos_jax.model.summary                      # all presets
python -m lumos_jax.model.summary --preset=3.6b --detail
"""

from __future__ import annotations

import collections

import jax
from absl import app, flags
from flax import nnx

from lumos_jax.model.config import PRESETS, ModelConfig, preset
from lumos_jax.model.decoder import Decoder


def _define_flags():
    flags.DEFINE_list("preset", list(PRESETS), "Presets to summarise.")
    flags.DEFINE_bool("detail", False, "Also print parameters per top-level group.")


def abstract_model(cfg: ModelConfig) -> Decoder:
    """The model with ShapeDtypeStruct leaves (jax.eval_shape: nothing is allocated)."""
    return jax.eval_shape(lambda: Decoder(cfg, rngs=nnx.Rngs(0)))


def count_params(cfg: ModelConfig) -> tuple[int, dict[str, int]]:
    model = abstract_model(cfg)
    groups: dict[str, int] = collections.defaultdict(int)
    for path, leaf in jax.tree_util.tree_leaves_with_path(nnx.state(model, nnx.Param)):
        groups[str(path[0].key if hasattr(path[0], "key") else path[0])] += leaf.size
    return sum(groups.values()), dict(groups)


def describe(cfg: ModelConfig) -> str:
    return (
        f"E={cfg.embed_dim} L={cfg.num_layers} H={cfg.num_heads} Hkv={cfg.num_kv_heads} "
        f"D={cfg.head_dim} F={cfg.mlp_dim} V={cfg.vocab_size}"
    )


def main(argv):
    del argv
    print(f"{'preset':<8} {'params':>14} {'non-embed':>14}  shape")
    for name in flags.FLAGS.preset:
        cfg = ModelConfig.from_dict(preset(name))
        total, groups = count_params(cfg)
        non_embed = total - groups.get("embed", 0) - groups.get("lm_head", 0)
        print(f"{name:<8} {total:>14,} {non_embed:>14,}  {describe(cfg)}")
        if flags.FLAGS.detail:
            for g, n in sorted(groups.items()):
                print(f"{'':<8} {g:>14} {n:>14,}")


if __name__ == "__main__":
    _define_flags()
    app.run(main)
