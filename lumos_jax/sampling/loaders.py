# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""What the sample CLI loads: decoder params, the visual tokenizer, the text tokenizer.

Each loader checks what it reads against the config before restoring, so a checkpoint
of another model size, or a tokenizer with another codebook, fails with the config key
and the mismatching shapes named instead of an Orbax traceback.
"""

from __future__ import annotations

import os

import jax
from flax import nnx

from lumos_jax import layout
from lumos_jax.checkpoint import item_metadata, latest_complete_step, restore_params
from lumos_jax.model import attention_choice, decoder
from lumos_jax.model import params as params_lib
from lumos_jax.model.config import ModelConfig
from lumos_jax.tokenizer import checkpoint_io, convert_cosmos, text
from lumos_jax.tokenizer import model as tok_model


# ----------------------------------------------------------------------- decoder params
def latest_step_dir(workdir: str) -> str:
    """A training workdir -> its latest complete checkpoint step directory."""
    root = os.path.join(os.path.abspath(os.path.expanduser(workdir)), "checkpoints")
    step = latest_complete_step(root, "state")
    if step is None:
        raise FileNotFoundError(
            f"--workdir={workdir!r}: no complete checkpoint under {root} "
            f"(train one with python -m lumos_jax.train, or pass "
            f"--checkpoint=PATH)"
        )
    return os.path.join(root, str(step))


def check_params_match(path: str, abstract_params) -> None:
    """Compares the param shapes stored at `path` with the config's; raises on mismatch."""
    state = os.path.join(path, "state")
    item = item_metadata(state if os.path.isdir(state) else path)
    stored = item["params"] if os.path.isdir(state) else item
    got = {
        jax.tree_util.keystr(k): tuple(v.shape)
        for k, v in jax.tree_util.tree_leaves_with_path(stored)
    }
    want = {
        jax.tree_util.keystr(k): tuple(v.shape)
        for k, v in jax.tree_util.tree_leaves_with_path(abstract_params)
    }
    bad = [
        f"{k}: checkpoint {got.get(k, 'missing')}, config {want[k]}"
        for k in sorted(want)
        if got.get(k) != want[k]
    ]
    bad += [f"{k}: in the checkpoint, not in the config" for k in sorted(set(got) - set(want))]
    if bad:
        raise ValueError(
            f"checkpoint {path} does not match the config's model (config.model.* "
            f"/ config.vocab.*): {len(bad)} parameter(s) differ, e.g. " + "; ".join(bad[:4])
        )


def model_config(config, mesh: jax.sharding.Mesh) -> ModelConfig:
    """The decoder config of an experiment config, model.attention='auto' resolved for
    the mesh's devices (as the trainer does)."""
    attention_choice.resolve(config, mesh.devices.flat)
    return ModelConfig.from_dict(config.model.to_dict())


def load_decoder_params(
    model_cfg: ModelConfig,
    mesh: jax.sharding.Mesh,
    vocab: layout.Vocab,
    *,
    workdir: str = "",
    checkpoint: str = "",
):
    """Params restored onto `mesh` (the trainer's shardings) from --checkpoint or
    --workdir's latest step. Returns (params, path)."""
    path = (
        os.path.abspath(os.path.expanduser(checkpoint))
        if checkpoint
        else (latest_step_dir(workdir))
    )
    if not os.path.isdir(path):
        raise FileNotFoundError(f"--checkpoint={checkpoint!r}: no such directory")
    abstract = params_lib.abstract_params(decoder.abstract_decoder(model_cfg), mesh)
    if os.path.exists(os.path.join(path, "config.json")):  # a Hugging Face Chameleon dir
        return params_lib.load(path, model_cfg, vocab, abstract), path
    check_params_match(path, abstract)
    return restore_params(path, abstract), path


# --------------------------------------------------------------------- visual tokenizer
def load_visual_tokenizer(path: str, preset_or_cfg, vocab: layout.Vocab):
    """-> CausalVideoTokenizer with restored weights (decode: codes -> [-1, 1] video).

    preset_or_cfg: a preset name, TokenizerConfig, or '' for the architecture the
    tokenizer trainer recorded in its workdir (a .safetensors file needs a name).
    """
    if not path:
        raise ValueError(
            "no visual tokenizer: pass --tokenizer_ckpt=DIR (or set config.sampling.tokenizer_ckpt)"
        )
    path = os.path.abspath(os.path.expanduser(path))

    def check_codes(cfg):
        if cfg.codebook_size != vocab.visual_size:
            raise ValueError(
                f"the visual tokenizer {path} has {cfg.codebook_size} codes but "
                f"the vocabulary has {vocab.visual_size} visual ids "
                f"(config.vocab)"
            )

    if not path.endswith(".safetensors"):
        model = checkpoint_io.load_visual_tokenizer(path, preset_or_cfg or None)[0]
        check_codes(model.cfg)
        return model
    if not preset_or_cfg:
        raise ValueError(
            f"{path}: a .safetensors tokenizer records no architecture; "
            f"set config.sampling.tokenizer_preset (e.g. dv4x8x8)"
        )
    cfg = checkpoint_io.tokenizer_config_from(preset_or_cfg)
    check_codes(cfg)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--tokenizer_ckpt={path!r}: no such file")
    graphdef, abstract = tok_model.abstract_model(cfg)
    model = nnx.merge(graphdef, jax.tree.map(lambda x: jax.numpy.zeros(x.shape, x.dtype), abstract))
    return convert_cosmos.load_params_file(model, path)


# ----------------------------------------------------------------------- text tokenizer
def load_text_tokenizer(path: str, vocab: layout.Vocab):
    """The project's text tokenizer (lumos_jax.tokenizer.text): a tokenizer.json, a
    sentencepiece .model, or a directory with one (e.g. the one `data.prepare` wrote)."""
    if not path:
        raise ValueError(
            "--prompt needs a text tokenizer: pass --text_tokenizer=PATH or set "
            "config.sampling.text_tokenizer (or give --prompt_ids)"
        )
    return text.load(path, vocab)
