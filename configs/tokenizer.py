# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Visual tokenizer training config. Presets: tiny (CPU, minutes), small, dv4x8x8 (the
Cosmos DV4x8x8 architecture); shapes: the `small` architecture trained on ShapesMotion
(the demo ships a fitted codebook instead: python -m lumos_jax.tokenizer.fit). The recipes: lumos_jax/config_lib.py (tokenizer).

  python -m lumos_jax.tokenizer.train --config=configs/tokenizer.py:tiny --workdir=DIR
Override anything on the command line, e.g. --config.steps=200 --config.data.source=npy:X.
"""

from lumos_jax import config_lib


def get_config(arg: str = "tiny"):
    return config_lib.tokenizer(arg)
