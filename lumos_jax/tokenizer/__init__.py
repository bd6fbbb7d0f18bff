# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Visual tokenizer: Cosmos-DV4x8x8-compatible causal video tokenizer with FSQ.

Modules: haar (patcher), fsq (quantiser), layers and model (Flax NNX), config (presets
`dv4x8x8`, `tiny`), convert_cosmos (Cosmos checkpoint import/export), clips and train
(reconstruction trainer). Entry point: `model.create(config.get("tiny"))`, then
`encode(video) -> codes` and `decode(codes) -> video`.
"""
