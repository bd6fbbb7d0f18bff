# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Where the repository's assets/ and configs/ are.

They are checkout-only, as in MaxText: the wheel holds the `lumos_jax` package and
nothing else. assets/ is ~10 MB of trained checkpoints; configs/*.py are one-line
wrappers of `lumos_jax.config_lib` (in the wheel) passed by path, as
`--config=configs/t2v.py:tiny`. Code that needs assets/ looks it up here, next to the
package in a clone installed with `pip install -e .`; after a plain `pip install` it is
missing, and `require` says so in one line instead of a deep traceback later.
"""

from __future__ import annotations

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.path.join(ROOT, "assets")


def require(path: str, instead: str = "") -> str:
    """`path` when it exists, else one FileNotFoundError line naming it and the way out.

    instead: what the user can pass in its place (e.g. a flag), added to the message.
    """
    if os.path.exists(path):
        return path
    alternative = f", or {instead}" if instead else ""
    raise FileNotFoundError(
        f"{path} is missing: assets/ and configs/ ship with the lumos_jax repository "
        f"checkout, not with the pip package; clone the repository and run "
        f"`pip install -e .` in it{alternative}"
    )
