# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""AR-DF training masks (reference section 4), vectorised numpy, no hidden state.

Release settings: mode `tube`, cosine schedule, min ratio 0.7. One ratio per sample,
rho = max(cos(pi/2 u), min_ratio), u ~ U(0, 1); per frame n = max(1, round(L rho))
positions are masked, L = a frame's content length (rows x (cols + 1): the row newlines
are part of it, as in the release). `tube` draws ONE permutation of the L positions and
masks the same spatial pattern in every frame (first frame and 1-frame images included).
Ablations: `random` masks every content token independently with probability rho;
`diffusion_forcing` draws an independent ratio (and pattern) per frame.
`round` is numpy's half-to-even rounding (the same as torch.round).

Newlines: the release masks them like codes (its L counts them), but a newline id is not a
visual code, so it has no class in the visual-slice softmax of the loss. By default
(`newline_labels=False`) a masked newline keeps the mask id as input but gets NO label
(-1): the loss only sees visual codes. `newline_labels=True` labels it with the newline
id; only use that with a loss over the full vocabulary. `mask_newlines=False` keeps
newlines out of the masking altogether (then L = rows x cols).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lumos_jax import layout

MODES = ("tube", "random", "diffusion_forcing")
SCHEDULES = ("cosine", "linear")


@dataclasses.dataclass(frozen=True)
class MaskSpec:
    """How AR-DF masks are drawn; fields mirror `config.data.masking`."""

    mode: str = "tube"
    schedule: str = "cosine"
    min_ratio: float = 0.7
    mask_newlines: bool = True
    newline_labels: bool = False

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"config data.masking.mode={self.mode!r}: expected one of {MODES}")
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"config data.masking.schedule={self.schedule!r}: expected one of {SCHEDULES}"
            )
        if not 0.0 <= self.min_ratio <= 1.0:
            raise ValueError(f"config data.masking.min_ratio={self.min_ratio}: expected [0, 1]")


def mask_ratio(u, min_ratio: float = 0.7, schedule: str = "cosine"):
    """u ~ U(0,1) (any shape) -> masking ratio rho (same shape), floored at min_ratio."""
    u = np.asarray(u, np.float64)
    rho = np.cos(0.5 * np.pi * u) if schedule == "cosine" else 1.0 - u
    return np.maximum(rho, min_ratio)


def masked_count(length: int, rho):
    """Masked positions per frame: max(1, round(L * rho)) (int array, shape of rho)."""
    return np.maximum(1, np.round(length * np.asarray(rho))).astype(np.int64)


def content_index(frame_starts, rows: int, cols: int, *, with_newlines: bool = True):
    """Sequence indices of each frame's maskable content: int32 [T', L].

    L = rows * (cols + 1) with newlines (row-major, newline last in each row), else
    rows * cols.
    """
    grid = layout.frame_content_grid(rows, cols)  # [rows, cols + 1], offsets from image_start
    if not with_newlines:
        grid = grid[:, :cols]
    return np.asarray(frame_starts, np.int32)[:, None] + grid.reshape(1, -1)


def _first_n(keys, n):
    """keys [..., L] random, n [...] -> bool [..., L]: True at the n smallest keys per row.

    argsort of uniform keys is a uniform random permutation per row.
    """
    order = np.argsort(keys, axis=-1)
    first = np.arange(keys.shape[-1]) < np.asarray(n)[..., None]
    out = np.zeros(keys.shape, bool)
    np.put_along_axis(out, order, np.broadcast_to(first, keys.shape), axis=-1)
    return out


def frame_masks(rng: np.random.Generator, num_frames: int, length: int, spec: MaskSpec):
    """Draws the masks of one sample: (bool [T', L], ratios float [T']).

    Draw order is fixed (u, then the permutation keys) so a seed gives one answer.
    """
    if spec.mode == "diffusion_forcing":
        rho = mask_ratio(rng.random(num_frames), spec.min_ratio, spec.schedule)
        return _first_n(rng.random((num_frames, length)), masked_count(length, rho)), rho
    rho = np.full(num_frames, mask_ratio(rng.random(), spec.min_ratio, spec.schedule))
    if spec.mode == "random":
        return rng.random((num_frames, length)) < rho[:, None], rho
    pattern = _first_n(rng.random(length), masked_count(length, rho[0]))  # one permutation
    return np.broadcast_to(pattern, (num_frames, length)), rho


def apply_masks(tokens, index, masks, *, vocab: layout.Vocab, newline_labels: bool = False):
    """Masks a laid-out sequence.

    tokens int32 [S], index int32 [T', L] (content_index), masks bool [T', L].
    Returns (inputs int32 [S]: mask id where masked, labels int32 [S]: the original token
    where masked, -1 elsewhere; masked newlines get -1 unless newline_labels).
    """
    tokens = np.asarray(tokens, np.int32)
    where = index[masks]
    inputs = tokens.copy()
    inputs[where] = vocab.mask
    labels = np.full_like(tokens, -1)
    labels[where] = tokens[where]
    if not newline_labels:
        labels[labels == vocab.newline] = -1  # no visual-slice class for a newline
    return inputs, labels


def ardf_mask(
    seq: layout.Sequence,
    rows: int,
    cols: int,
    rng: np.random.Generator,
    spec: MaskSpec,
    vocab: layout.Vocab,
):
    """AR-DF masks for one laid-out sample -> (inputs [S], labels [S], ratios [T'])."""
    index = content_index(seq.frame_starts, rows, cols, with_newlines=spec.mask_newlines)
    masks, rho = frame_masks(rng, len(seq.frame_starts), index.shape[1], spec)
    inputs, labels = apply_masks(
        seq.tokens, index, masks, vocab=vocab, newline_labels=spec.newline_labels
    )
    return inputs, labels, rho
