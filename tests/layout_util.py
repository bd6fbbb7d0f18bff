# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Test helper: read codes back out of laid-out tokens (the inverse of the frame layout)."""

import numpy as np


def codes_from_tokens(tokens, frame_starts, rows: int, cols: int, vocab) -> np.ndarray:
    """tokens + frame starts -> codes int [T', rows, cols]: each frame's visual ids in order
    between its image_start and image_end (written without layout's offset grids, so a round
    trip checks the layout against an independent reading)."""
    tokens = np.asarray(tokens)
    frames = []
    for start in frame_starts:
        end = start + int(np.flatnonzero(tokens[start:] == vocab.image_end)[0])
        frame = tokens[start:end]
        visual = frame[
            (frame >= vocab.visual_offset) & (frame < vocab.visual_offset + vocab.visual_size)
        ]
        frames.append(visual.reshape(rows, cols) - vocab.visual_offset)
    return np.stack(frames)
