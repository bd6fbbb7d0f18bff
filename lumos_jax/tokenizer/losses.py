# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Reconstruction losses of the visual tokenizer trainer (videos [B, F, H, W, C] in
[-1, 1]): plain or foreground-weighted L1 + L2, and the gradient difference (edge) loss."""

import jax.numpy as jnp


def foreground_mask(video: jnp.ndarray, threshold: float) -> jnp.ndarray:
    """[B, F, H, W, C] in [-1, 1] -> float [B, F, H, W, 1]: 1 where a pixel differs from
    its frame's dominant colour (per-channel median over H, W) by more than `threshold` in
    some channel. With small objects on a (textured) background, the median is the
    background and the mask marks the objects."""
    background = jnp.median(video, axis=(2, 3), keepdims=True)
    return (jnp.max(jnp.abs(video - background), axis=-1, keepdims=True) > threshold).astype(
        video.dtype
    )


def reconstruction_losses(recon, video, fg_weight: float = 0.0, fg_threshold: float = 0.3):
    """(L1, L2) means; with fg_weight > 0 each pixel's error is weighted by
    1 + fg_weight * foreground_mask(video) (so the plain means are fg_weight = 0)."""
    err = recon - video
    if not fg_weight:
        return jnp.mean(jnp.abs(err)), jnp.mean(jnp.square(err))
    w = 1.0 + fg_weight * foreground_mask(video, fg_threshold)
    return jnp.mean(w * jnp.abs(err)), jnp.mean(w * jnp.square(err))


def edge_loss(recon, video):
    """Mean L1 distance between the spatial finite differences of recon and video
    ([B, F, H, W, C]): the gradient difference loss of Mathieu et al. (2016, "Deep
    multi-scale video prediction beyond mean square error"), alpha = 1. Pixel losses
    are minimised by blurring an edge whose exact position the codes leave uncertain;
    this term is not, so it pushes corners and edges to stay sharp."""

    def diffs(x):
        return x[:, :, 1:, :, :] - x[:, :, :-1, :, :], x[:, :, :, 1:, :] - x[:, :, :, :-1, :]

    (ry, rx), (vy, vx) = diffs(recon), diffs(video)
    return jnp.mean(jnp.abs(ry - vy)) + jnp.mean(jnp.abs(rx - vx))
