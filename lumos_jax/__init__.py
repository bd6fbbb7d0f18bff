# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Lumos-1-style autoregressive video generation in JAX/Flax."""

from lumos_jax import cli as _cli

# First, before any submodule imports jax or TensorFlow: on a machine without an
# accelerator, JAX_PLATFORMS=cpu (unless set) so libtpu's TPU probe stays silent.
_cli.process_defaults()

__version__ = "0.1.0"
