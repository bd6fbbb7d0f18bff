# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Experiment configs: cheap to load, linked fields, every key that is read declared."""

import json
import os
import subprocess
import sys

import pytest
from absl import flags
from ml_collections import config_flags

from lumos_jax import cli, config_lib, layout, train_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_config_lib_does_not_import_the_pipeline():
    """Loading a config must not pull in Grain (the data pipeline) or the model code."""
    code = (
        "import sys, lumos_jax.config_lib; "
        "print(sorted(m for m in ('grain', 'lumos_jax.data.pipeline', "
        "'lumos_jax.model.decoder') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


PRESETS = [
    (task, arg) for task in config_lib.TASKS for arg in ("tiny", "0.5b", "1b-256p", "3.6b-384p")
]
TOKENIZER_PRESETS = ("tiny", "small", "dv4x8x8", "shapes")


@pytest.mark.parametrize("task,arg", PRESETS)
def test_config_files_are_config_lib(task, arg):
    """One style: configs/TASK.py:ARG is config_lib.experiment(TASK, ARG)."""
    from_file = cli.load_config_file(f"{ROOT}/configs/{task}.py:{arg}")
    assert from_file.to_json() == config_lib.experiment(task, arg).to_json()


@pytest.mark.parametrize("arg", TOKENIZER_PRESETS)
def test_tokenizer_config_file_is_config_lib(arg):
    from_file = cli.load_config_file(f"{ROOT}/configs/tokenizer.py:{arg}")
    assert from_file.to_json() == config_lib.tokenizer(arg).to_json()


def test_preset_values():
    """A few resolved values, from the reference's buckets and learning rates."""
    c = config_lib.experiment("t2v", "3.6b-384p")
    assert (c.data.streams.video.seq_len, c.data.streams.image.seq_len) == (29184, 4608)
    assert c.optim.lr == 1e-4 and c.optim.total_steps == c.train.steps == 100_000
    assert (c.sampling.height, c.sampling.width, c.sampling.frames) == (384, 672, 25)
    t2i = config_lib.experiment("t2i", "tiny")
    assert (t2i.data.streams.image.weight, t2i.data.streams.video.weight) == (1.0, 0.0)
    tiny_vocab = layout.compact_vocab(visual_size=config_lib.TINY_VISUAL_SIZE)
    assert t2i.sampling.frames == 1 and t2i.model.vocab_size == tiny_vocab.size
    shapes = config_lib.tokenizer("shapes")
    assert shapes.model == config_lib.tokenizer("small").model
    assert (shapes.steps, shapes.lr, shapes.data.num_frames) == (3000, 2e-3, 5)
    with pytest.raises(ValueError, match="configs/tokenizer.py:huge: choose one of"):
        config_lib.tokenizer("huge")


def test_linked_fields_follow_their_source():
    c = config_lib.experiment("t2v", "tiny")
    assert c.data.vocab.to_dict() == c.vocab.to_dict()
    assert c.data.rope_variant == c.model.rope_variant == "mmrope"
    assert tuple(c.sampling.position_strides) == tuple(c.data.position_strides) == (4, 8, 8)
    c.vocab.visual_size = 2000
    c.model.rope_variant = "1d"
    c.data.position_strides = (2, 8, 8)
    assert c.data.vocab.visual_size == 2000
    assert c.data.rope_variant == "1d"
    assert tuple(c.sampling.position_strides) == (2, 8, 8)
    # to_dict / to_json (what config.json records) hold the values, not references.
    d = json.loads(c.to_json())
    assert d["data"]["vocab"]["visual_size"] == 2000 and d["data"]["rope_variant"] == "1d"
    assert d["sampling"]["position_strides"] == [2, 8, 8]


def _parse(*overrides):
    """The config as a CLI sees it: config_flags with lock_config=True, then overrides."""
    argv = ["prog", f"--config={ROOT}/configs/t2v.py:tiny", *overrides]
    fv = flags.FlagValues()
    config_flags.DEFINE_config_file(
        "config", None, "", flag_values=fv, lock_config=True, sys_argv=argv
    )  # the overrides are read from sys_argv
    fv(argv)
    return fv.config


def test_command_line_override_of_a_source_propagates():
    c = _parse(
        "--config.vocab.kind=release",
        "--config.vocab.text_tokens=0",
        "--config.model.rope_variant=1d",
        "--config.data.position_strides=(2,8,8)",
    )
    assert c.data.vocab.to_dict() == dict(
        kind="release", text_tokens=0, visual_size=config_lib.TINY_VISUAL_SIZE
    )
    assert c.data.rope_variant == "1d"
    assert tuple(c.sampling.position_strides) == (2, 8, 8)


def test_command_line_override_of_a_linked_copy_sets_both():
    """A link is one shared value: overriding the copy sets the source too."""
    c = _parse("--config.sampling.position_strides=(1,8,8)", "--config.data.vocab.kind=release")
    assert tuple(c.data.position_strides) == tuple(c.sampling.position_strides) == (1, 8, 8)
    assert c.vocab.kind == "release"


def test_every_read_train_key_is_declared():
    """train.peak_tflops (read by train_lib) is a key; the never-read train.batch_size is not."""
    cli.check_config_overrides(
        [f"--config={ROOT}/configs/t2v.py:1b", "--config.train.peak_tflops=989"]
    )
    for arg in ("tiny", "1b"):
        c = config_lib.experiment("t2v", arg)
        assert c.train.peak_tflops == 0.0 and "batch_size" not in c.train
    with pytest.raises(cli.UsageError, match="no such config key"):
        cli.check_config_overrides(
            [f"--config={ROOT}/configs/t2v.py:1b", "--config.train.batch_size=48"]
        )
    c = _parse("--config.train.peak_tflops=100")
    assert train_lib.peak_flops_per_device(c) == 100e12
