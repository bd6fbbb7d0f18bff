# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""t2i experiment. Presets: tiny (CPU, built-in data), 0.5b, 1b, 3.6b; add -384p for 384p.
The recipe: lumos_jax/config_lib.py (experiment).

  python -m lumos_jax.train --config=configs/t2i.py:tiny --workdir=/tmp/t2i
  python -m lumos_jax.train --config=configs/t2i.py:1b-384p --workdir=DIR --config.init_from=...
"""

from lumos_jax import config_lib


def get_config(arg: str = "tiny"):
    return config_lib.experiment("t2i", arg)
