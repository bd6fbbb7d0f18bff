# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""AR-DF sampling: text-to-image, text-to-video and image-to-video (reference section 4).

  config.py    config.sampling defaults (`default_config`) and the validated `Settings`
  schedule.py  masked-count schedule, history-mask positions, temperature annealing
  plan.py      the static token layout of prompts and frames (via lumos_jax.layout)
  decode.py    CFG, top-k/top-p, the draw, MaskGIT re-masking (pure jax)
  sampler.py   `Sampler`: KV-cached AR-DF and the no-cache / next-token baselines
  api.py       `generate(model, params, prompts, config, key, first_frames=...)`
  loaders.py   checkpoint, visual tokenizer and text tokenizer loading for the CLI

The jax-side names are imported on first use, so `config_lib` can import
`lumos_jax.sampling.config` without pulling in the model.
"""

import importlib

from lumos_jax.sampling.config import MODES, Settings, default_config

_LAZY = {
    "generate": "api",
    "build_sampler": "api",
    "default_mesh": "api",
    "vocab_for_model": "api",
    "Sampler": "sampler",
}

__all__ = ["MODES", "Settings", "default_config", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"lumos_jax.sampling.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'lumos_jax.sampling' has no attribute {name!r}")
