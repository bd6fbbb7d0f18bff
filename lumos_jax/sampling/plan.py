# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The sampler's static token layout, built with `lumos_jax.layout` (numpy, host side).

Rows: every prompt b gets `branches` rows, row b * branches + 0 conditional (bos, text,
separator, video header) and row b * branches + 1 unconditional (video header only),
interleaved so a data-sharded batch keeps both branches of a prompt on one device.

Prefixes are LEFT-padded to a common length P (padding has the PAD segment, which no
real token sees), so frame f of every row occupies the same slots P + f * per ... and
the cached, uncached and next-token samplers share one layout. Positions do not see the
padding: a row whose prefix has n real tokens numbers them 0..n-1 and its frames exactly
as `layout.build_sequence` would (frame positions = a template + n).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lumos_jax import layout
from lumos_jax.sampling import schedule
from lumos_jax.sampling.config import Settings


@dataclasses.dataclass(frozen=True)
class FramePlan:
    """Layout of one latent frame (per = tokens_per_frame tokens, N = rows x cols codes)."""

    rows: int
    cols: int
    per: int
    code_offsets: np.ndarray  # int32 [N]: offsets of the code tokens inside a frame
    masked_frame: np.ndarray  # int32 [per]: a frame with every code set to the mask id
    positions: np.ndarray  # int32 [F, per, 3]: frame f's positions minus the prefix length
    history: np.ndarray  # int32 [n]: frame offsets set to the mask id in history copies

    @property
    def num_codes(self) -> int:
        return int(self.code_offsets.shape[0])


def frame_plan(settings: Settings, vocab: layout.Vocab, *, rope_1d: bool) -> FramePlan:
    rows, cols, frames = settings.rows, settings.cols, settings.latent_frames
    per = layout.tokens_per_frame(rows, cols)
    grid = layout.frame_content_grid(rows, cols)  # [rows, cols + 1] offsets, newline last
    code_offsets = grid[:, :cols].reshape(-1)
    zeros = np.zeros((1, rows, cols), np.int32)
    positions = []
    for f in range(frames):
        # As if the prefix had 0 tokens: frame f starts at f * per, s0 = 3 (its first content
        # token of frame 0); a row with an n-token prefix adds n to every coordinate.
        tok, _, pos, _ = layout.frame_block(
            zeros,
            height=settings.height,
            width=settings.width,
            first_frame=f,
            start=f * per,
            s0=3,
            vocab=vocab,
            strides=settings.strides,
            rope_1d=rope_1d,
        )
        positions.append(pos)
    masked = tok.copy()
    masked[code_offsets] = vocab.mask
    content = rows * (cols + 1)
    history = 3 + schedule.history_mask_positions(content, settings.history_mask_ratio)
    return FramePlan(
        rows,
        cols,
        per,
        code_offsets.astype(np.int32),
        masked.astype(np.int32),
        np.stack(positions).astype(np.int32),
        history.astype(np.int32),
    )


def prompt_bucket(prompts, settings: Settings) -> int:
    """Static prefix length P: sampling.prompt_len, or the longest prefix rounded up to 16."""
    longest = max(len(p) for p in prompts) + 5  # bos + text + separator + 3-token header
    if settings.prompt_len:
        if longest > settings.prompt_len:
            raise ValueError(
                f"a prompt needs {longest} tokens (text + 5 specials) but "
                f"sampling.prompt_len={settings.prompt_len}; raise it or set 0"
            )
        return settings.prompt_len
    return -(-longest // 16) * 16


def prefix_rows(prompts, settings: Settings, vocab: layout.Vocab, branches: int) -> dict:
    """Left-padded prefixes of all rows: tokens/segments [R, P], positions [R, P, 3] and
    lengths [R] (real prefix tokens per row, the offset of that row's frame positions).

    prompts: list of B int arrays of text ids in the unified vocabulary (the templated
    prompt, as `records.TokenRecord.text_ids`: no bos or separator).
    """
    p = prompt_bucket(prompts, settings)
    header = [
        vocab.video_start,
        vocab.size_token(settings.duration),
        vocab.size_token(settings.fps),
    ]
    rows = []
    for ids in prompts:
        ids = _check_text_ids(ids, vocab)
        rows.append([vocab.bos, *ids.tolist(), vocab.separator, *header])
        if branches == 2:
            rows.append(list(header))  # CFG: the same sequence from video_start on
    r = len(rows)
    tokens = np.full((r, p), vocab.pad, np.int32)
    segments = np.full((r, p), layout.PAD, np.int32)
    positions = np.zeros((r, p, 3), np.int32)
    lengths = np.zeros((r,), np.int32)
    for i, row in enumerate(rows):
        n = len(row)
        tokens[i, p - n :] = row
        segments[i, p - n :] = layout.CAUSAL
        positions[i, p - n :] = np.arange(n)[:, None]
        lengths[i] = n
    return dict(tokens=tokens, segments=segments, positions=positions, lengths=lengths)


def _check_text_ids(ids, vocab: layout.Vocab) -> np.ndarray:
    ids = np.asarray(ids, np.int64).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab.text_size):
        raise ValueError(
            f"prompt token id outside the text range [0, {vocab.text_size}): "
            f"min {ids.min()}, max {ids.max()} (text tokenizer ids must be "
            f"shifted by vocab.first_text_id={vocab.first_text_id})"
        )
    return ids.astype(np.int32)


def frame_rows(plan: FramePlan, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions [R, F, per, 3] and segments [F, per] of every generated frame slot."""
    positions = plan.positions[None] + lengths[:, None, None, None]
    segments = np.repeat(
        np.arange(plan.positions.shape[0], dtype=np.int32)[:, None], plan.per, axis=1
    )
    return positions.astype(np.int32), segments
