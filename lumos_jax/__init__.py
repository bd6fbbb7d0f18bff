# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Lumos-1-style autoregressive video generation in JAX/Flax."""

__version__ = "0.1.0"
