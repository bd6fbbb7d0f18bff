# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Hugging Face Chameleon checkpoints (the released Lumos-1 format) <-> our parameters.

  python -m lumos_jax.model.convert_hf --hf_dir=DIR --out=PARAMS_DIR         # HF -> Orbax
  python -m lumos_jax.model.convert_hf --params=PARAMS_DIR --preset=1b --to_hf=DIR

Layout facts (transformers' Chameleon): torch Linear weights are [out, in]; q/k/v/o
projections are [heads*head_dim, embed]; q_norm/k_norm are LayerNorms whose gamma and
beta are stored per head [heads, head_dim]; the VQGAN (`model.vqmodel.*`) is not part of
the language model and is skipped. Reading needs neither torch nor transformers.
"""

from __future__ import annotations

import json
import os

import numpy as np
import orbax.checkpoint as ocp
from absl import app, flags, logging

from lumos_jax import layout
from lumos_jax.model import safetensors_io
from lumos_jax.model.config import ModelConfig, preset

_LAYER = "model.layers.{i}."


def config_from_hf(hf: dict, vocab: layout.Vocab | None = None, **overrides) -> ModelConfig:
    """ModelConfig from a Chameleon config.json dict (+ our vocabulary's visual slice)."""
    vocab = vocab or layout.release_vocab()
    if hf.get("vocab_size") != vocab.size:
        raise ValueError(
            f"config.json vocab_size={hf.get('vocab_size')} does not match the "
            f"vocabulary ({vocab.size} ids); pass the matching layout.Vocab"
        )
    if hf.get("swin_norm"):
        raise ValueError("config.json swin_norm=true (post-norm Chameleon) is not supported")
    rope = hf.get("rope_parameters") or {}
    d = dict(
        vocab_size=hf["vocab_size"],
        visual_offset=vocab.visual_offset,
        visual_size=vocab.visual_size,
        embed_dim=hf["hidden_size"],
        num_layers=hf["num_hidden_layers"],
        num_heads=hf["num_attention_heads"],
        num_kv_heads=hf.get("num_key_value_heads") or hf["num_attention_heads"],
        head_dim=hf.get("head_dim") or hf["hidden_size"] // hf["num_attention_heads"],
        mlp_dim=hf["intermediate_size"],
        norm_eps=hf.get("rms_norm_eps", 1e-5),
        rope_theta=float(hf.get("rope_theta", rope.get("rope_theta", 10000.0))),
    )
    d.update(overrides)
    return ModelConfig.from_dict(d)


def _norm_from_hf(w: np.ndarray, per_head: bool, name: str) -> np.ndarray:
    if per_head:
        return w
    if not np.allclose(w, w[:1]):
        raise ValueError(
            f"{name}: heads have different LayerNorm parameters; convert with qk_norm_per_head=True"
        )
    return w[0]


def hf_to_pure(tensors: dict[str, np.ndarray], cfg: ModelConfig) -> dict:
    """HF tensors -> the pure dict of `nnx.state(Decoder)` (layers stacked on axis 0)."""
    e, h, hk, d = cfg.embed_dim, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
    dt = np.dtype(cfg.param_dtype)
    f32 = lambda x: np.asarray(x, np.float32)  # noqa: E731  (bf16 -> fp32 first, exactly)

    def get(name):
        if name not in tensors:
            raise KeyError(f"checkpoint has no tensor {name!r}")
        return f32(tensors[name])

    def stack(fn):
        return np.stack([fn(_LAYER.format(i=i)) for i in range(cfg.num_layers)]).astype(dt)

    attn = {
        "wq": stack(lambda p: get(p + "self_attn.q_proj.weight").T.reshape(e, h, d)),
        "wk": stack(lambda p: get(p + "self_attn.k_proj.weight").T.reshape(e, hk, d)),
        "wv": stack(lambda p: get(p + "self_attn.v_proj.weight").T.reshape(e, hk, d)),
        "wo": stack(lambda p: get(p + "self_attn.o_proj.weight").T.reshape(h, d, e)),
    }
    if cfg.qk_norm:
        for ours, theirs in (("q_norm", "q_norm"), ("k_norm", "k_norm")):
            attn[ours] = {
                "scale": stack(
                    lambda p, t=theirs: _norm_from_hf(
                        get(p + f"self_attn.{t}.weight"), cfg.qk_norm_per_head, p + t
                    )
                ),
                "bias": stack(
                    lambda p, t=theirs: _norm_from_hf(
                        get(p + f"self_attn.{t}.bias"), cfg.qk_norm_per_head, p + t
                    )
                ),
            }
    return {
        "embed": get("model.embed_tokens.weight").astype(dt),
        "layers": {
            "attn_norm": {"scale": stack(lambda p: get(p + "input_layernorm.weight"))},
            "attn": attn,
            "mlp_norm": {"scale": stack(lambda p: get(p + "post_attention_layernorm.weight"))},
            "mlp": {
                "gate": stack(lambda p: get(p + "mlp.gate_proj.weight").T),
                "up": stack(lambda p: get(p + "mlp.up_proj.weight").T),
                "down": stack(lambda p: get(p + "mlp.down_proj.weight").T),
            },
        },
        "final_norm": {"scale": get("model.norm.weight").astype(dt)},
        "lm_head": get("lm_head.weight").T.astype(dt),
    }


def pure_to_hf(pure: dict, cfg: ModelConfig, dtype=np.float32) -> dict[str, np.ndarray]:
    """Inverse of `hf_to_pure` (shared QK-norm parameters are repeated per head)."""
    e, h, hk, d = cfg.embed_dim, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
    out = {
        "model.embed_tokens.weight": pure["embed"],
        "model.norm.weight": pure["final_norm"]["scale"],
        "lm_head.weight": np.asarray(pure["lm_head"]).T,
    }
    lay = pure["layers"]
    for i in range(cfg.num_layers):
        p = _LAYER.format(i=i)
        a = {k: np.asarray(v[i]) if not isinstance(v, dict) else v for k, v in lay["attn"].items()}
        out[p + "self_attn.q_proj.weight"] = a["wq"].reshape(e, h * d).T
        out[p + "self_attn.k_proj.weight"] = a["wk"].reshape(e, hk * d).T
        out[p + "self_attn.v_proj.weight"] = a["wv"].reshape(e, hk * d).T
        out[p + "self_attn.o_proj.weight"] = a["wo"].reshape(h * d, e).T
        if cfg.qk_norm:
            for name, heads in (("q_norm", h), ("k_norm", hk)):
                for ours, theirs in (("scale", "weight"), ("bias", "bias")):
                    w = np.asarray(lay["attn"][name][ours][i])
                    out[p + f"self_attn.{name}.{theirs}"] = np.broadcast_to(w, (heads, d))
        out[p + "input_layernorm.weight"] = np.asarray(lay["attn_norm"]["scale"][i])
        out[p + "post_attention_layernorm.weight"] = np.asarray(lay["mlp_norm"]["scale"][i])
        out[p + "mlp.gate_proj.weight"] = np.asarray(lay["mlp"]["gate"][i]).T
        out[p + "mlp.up_proj.weight"] = np.asarray(lay["mlp"]["up"][i]).T
        out[p + "mlp.down_proj.weight"] = np.asarray(lay["mlp"]["down"][i]).T
    return {
        k: np.ascontiguousarray(np.asarray(v, np.float32).astype(dtype)) for k, v in out.items()
    }


def hf_config_from(cfg: ModelConfig, base: dict | None = None, dtype: str = "float32") -> dict:
    """A Chameleon config.json for `cfg`; keys of `base` (e.g. vocabulary_map) are kept."""
    hf = dict(base or {})
    hf.update(
        architectures=["ChameleonForConditionalGeneration"],
        model_type="chameleon",
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.embed_dim,
        intermediate_size=cfg.mlp_dim,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads,
        rms_norm_eps=cfg.norm_eps,
        hidden_act="silu",
        attention_bias=False,
        mlp_bias=False,
        swin_norm=False,
        tie_word_embeddings=False,
        dtype=dtype,
        rope_theta=cfg.rope_theta,
        rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_theta},
    )
    hf.setdefault("vocabulary_map", {})
    hf.setdefault("max_position_embeddings", 32768)
    return hf


def load_hf(directory: str, vocab: layout.Vocab | None = None, **overrides):
    """Read config.json + safetensors -> (ModelConfig, pure params dict, hf config)."""
    with open(os.path.join(directory, "config.json")) as f:
        hf = json.load(f)
    tensors = safetensors_io.read_checkpoint(directory)
    if "qk_norm_per_head" not in overrides:
        q = np.asarray(tensors["model.layers.0.self_attn.q_norm.weight"], np.float32)
        overrides["qk_norm_per_head"] = not np.allclose(q, q[:1])
    cfg = config_from_hf(hf, vocab, **overrides)
    skipped = [k for k in tensors if k.startswith("model.vqmodel.")]
    if skipped:
        logging.info("skipped %d VQGAN tensors (model.vqmodel.*)", len(skipped))
    return cfg, hf_to_pure(tensors, cfg), hf


def save_hf(
    directory: str,
    pure: dict,
    cfg: ModelConfig,
    base_config: dict | None = None,
    dtype: str = "float32",
):
    tensors = pure_to_hf(pure, cfg, np.dtype(dtype) if dtype != "bfloat16" else safetensors_io.BF16)
    safetensors_io.write_checkpoint(directory, tensors)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(hf_config_from(cfg, base_config, dtype), f, indent=1)


def _define_flags():
    flags.DEFINE_string("hf_dir", None, "Hugging Face Chameleon checkpoint to import.")
    flags.DEFINE_string("out", None, "Where to write the imported params (Orbax).")
    flags.DEFINE_string("params", None, "Orbax params to export.")
    flags.DEFINE_string("preset", None, "Model preset of --params.")
    flags.DEFINE_string("to_hf", None, "Directory for the exported HF checkpoint.")


def main(argv):
    del argv
    if flags.FLAGS.hf_dir:
        cfg, pure, _ = load_hf(flags.FLAGS.hf_dir)
        ocp.StandardCheckpointer().save(os.path.abspath(flags.FLAGS.out), pure)
        print(f"wrote {flags.FLAGS.out}: {cfg}")
    elif flags.FLAGS.params:
        cfg = ModelConfig.from_dict(preset(flags.FLAGS.preset))
        pure = ocp.StandardCheckpointer().restore(os.path.abspath(flags.FLAGS.params))
        save_hf(flags.FLAGS.to_hf, pure, cfg)
        print(f"wrote {flags.FLAGS.to_hf}")
    else:
        raise app.UsageError("give --hf_dir and --out, or --params, --preset and --to_hf")


if __name__ == "__main__":
    _define_flags()
    app.run(main)
