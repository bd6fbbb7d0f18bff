# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Experiment configs: cheap to load, linked fields, every key that is read declared."""
import os
import subprocess
import sys

import pytest

from lumos_jax import cli, config_lib, layout

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_config_lib_does_not_import_the_pipeline():
    """Loading a config must not pull in Grain (the data pipeline) or the model code."""
    code = ("import sys, lumos_jax.config_lib; "
            "print(sorted(m for m in ('grain', 'lumos_jax.data.pipeline', "
            "'lumos_jax.model.decoder') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


PRESETS = [(task, arg) for task in config_lib.TASKS
           for arg in ("tiny", "0.5b", "1b-256p", "3.6b-384p")]
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
    assert t2i.sampling.frames == 1 and t2i.model.vocab_size == layout.compact_vocab().size
    shapes = config_lib.tokenizer("shapes")
    assert shapes.model == config_lib.tokenizer("small").model
    assert (shapes.steps, shapes.lr, shapes.data.num_frames) == (3000, 2e-3, 5)
    with pytest.raises(ValueError, match="configs/tokenizer.py:huge: choose one of"):
        config_lib.tokenizer("huge")
