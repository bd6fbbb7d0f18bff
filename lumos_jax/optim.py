# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Optimizer and learning-rate schedule (reference section 7: AdamW (0.9, 0.95), weight
decay 0.1, global-norm clipping 4.0, short warmup, then constant LR)."""

from __future__ import annotations

import jax
import optax


def schedule(cfg) -> optax.Schedule:
    """Linear warmup from 0 to `cfg.lr`, then 'constant' or 'cosine' (to lr*end_ratio)."""
    warm = max(int(cfg.warmup_steps), 0)
    if cfg.schedule == "constant":
        after = optax.constant_schedule(cfg.lr)
    elif cfg.schedule == "cosine":
        decay = max(int(cfg.total_steps) - warm, 1)
        after = optax.cosine_decay_schedule(cfg.lr, decay, alpha=cfg.end_lr_ratio)
    else:
        raise ValueError(f"config optim.schedule={cfg.schedule!r}: expected constant or cosine")
    if not warm:
        return after
    ramp = optax.linear_schedule(0.0, cfg.lr, warm)
    return optax.join_schedules([ramp, after], [warm])


def decay_mask(axes):
    """From logical axes: decay matrices and embeddings, not norm scales/biases ('norm')."""
    return jax.tree.map(lambda a: "norm" not in a, axes, is_leaf=lambda x: isinstance(x, tuple))


def decay_mask_by_rank(params):
    """For params without logical axes (the visual tokenizer): decay tensors of rank >= 2,
    not biases and norm scales (1-D)."""
    return jax.tree.map(lambda v: v.ndim > 1, params)


def make_optimizer(cfg, axes=None, *, mask=None) -> optax.GradientTransformation:
    """`axes`: the parameters' logical axes (same tree as the params), for decay_mask;
    or `mask`: which parameters get weight decay (e.g. decay_mask_by_rank)."""
    if cfg.decay_norms:
        mask = None
    elif mask is None:
        mask = decay_mask(axes)
    return optax.chain(
        optax.clip_by_global_norm(cfg.clip),
        optax.adamw(
            schedule(cfg),
            b1=cfg.b1,
            b2=cfg.b2,
            eps=cfg.eps,
            weight_decay=cfg.weight_decay,
            mask=mask,
        ),
    )
