# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""AR-DF inference schedules as pure numpy functions (reference section 4, inference).

All three are static: they depend only on shapes and settings, so they are computed once
on the host and enter the compiled sampler as constants.
"""

from __future__ import annotations

import math

import numpy as np


def masked_counts(n: int, steps: int) -> np.ndarray:
    """Codes still masked after each step s = 0..T-1: int32 [T].

    m_s = max(1, min(m_{s-1} - 1, floor(N cos(pi/2 (s+1)/T)))) with m_{-1} = N, so every
    step reveals at least one code and one stays masked until the last step, which
    unmasks all (m_{T-1} = 0). With T > N the count rests at 1 until the last step.
    """
    if n < 1 or steps < 1:
        raise ValueError(f"masked_counts needs n >= 1 and steps >= 1, got {n}, {steps}")
    out, prev = [], n
    for s in range(steps - 1):
        cos_count = math.floor(n * math.cos(math.pi / 2 * (s + 1) / steps))
        prev = max(1, min(prev - 1, cos_count))
        out.append(prev)
    out.append(0)
    return np.asarray(out, np.int32)


def history_mask_positions(length: int, ratio: float) -> np.ndarray:
    """Evenly spaced content positions masked in re-encoded history frames: int32 [n'].

    length L = rows x (cols + 1) content tokens of a frame (newlines included).
    n = max(1, round(ratio L)); positions = unique(clip(round(arange(n) L / n), 0, L-1)).
    `np.round` rounds halves to even, as torch.round does. ratio 0 -> no positions.
    """
    if ratio <= 0:
        return np.zeros((0,), np.int32)
    n = max(1, int(np.round(ratio * length)))
    pos = np.round(np.arange(n) * length / n)
    return np.unique(np.clip(pos, 0, length - 1)).astype(np.int32)


def choice_temperatures(tau0: float, steps: int, frames: int, anneal: str) -> np.ndarray:
    """Re-masking noise scale tau for every (frame, step): float32 [frames, T].

    linear:   tau0 (1 - (s+1)/T), the same ramp for every frame.
    constant: tau0.
    release:  the release's compounding: tau is multiplied by (1 - (s+1)/T) at every step
              and never reset, so the product runs across frames; the factor of the last
              step is 0, which leaves tau = 0 for every frame after the first.
    """
    ratio = (np.arange(steps) + 1) / steps
    if anneal == "linear":
        per_frame = tau0 * (1 - ratio)
        return np.tile(per_frame, (frames, 1)).astype(np.float32)
    if anneal == "constant":
        return np.full((frames, steps), tau0, np.float32)
    if anneal == "release":
        factors = np.tile(1 - ratio, frames)
        return (tau0 * np.cumprod(factors)).reshape(frames, steps).astype(np.float32)
    raise ValueError(f"sampling.anneal={anneal!r}: expected linear, constant or release")
