# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The Lumos-1 token layout: vocabulary, sequence builder, segment ids, 3-D positions.

This is the ONE module that knows how a sample is laid out as tokens; the data
pipeline and the sampler both call it. Source of the layout: Lumos-1 paper and its
release (see ../shared/lumos1-reference.md, sections 1-3).

Per-token arrays produced here (all int32 numpy, shape [seq]):
  tokens     token ids in the unified vocabulary
  segments   CAUSAL (-1) for text/special tokens outside frames, f >= 0 for every token
             of latent frame f (image_start .. image_end inclusive), PAD (-2) for padding
  positions  [seq, 3] (t, h, w) MM-RoPE positions; non-visual tokens use t = h = w = index
  visual     1 for visual content tokens (codes and the row newlines), else 0
"""

from __future__ import annotations

import dataclasses

import numpy as np

CAUSAL = -1  # segment id of text / special tokens: ordinary causal attention
PAD = -2  # segment id of right padding: seen by nothing, sees only itself

PROMPT_TEMPLATE = (
    "Generate a video with a resolution of {width}x{height}, consisting of {frames} "
    "frames at {fps} frames per second, according to the following prompt:\n {caption}"
)


@dataclasses.dataclass(frozen=True)
class Vocab:
    """Ids of the unified text + visual vocabulary.

    Visual code k (0 <= k < visual_size) is token `visual_offset + k`. Size token for
    value n is `size_base + n` (n < max_size_value).
    """

    text_size: int
    visual_size: int
    visual_offset: int
    bos: int
    separator: int
    image_start: int
    image_end: int
    newline: int
    size_base: int
    max_size_value: int
    mask: int
    video_start: int
    video_end: int
    pad: int
    first_text_id: int = 0  # where a text tokenizer's own ids start (compact vocab shifts them)

    @property
    def size(self) -> int:
        return self.visual_offset + self.visual_size

    def size_token(self, n: int) -> int:
        if not 0 <= n < self.max_size_value:
            raise ValueError(f"size/number token value {n} outside [0, {self.max_size_value})")
        return self.size_base + int(n)

    def visual_token(self, codes):
        return np.asarray(codes, np.int32) + self.visual_offset

    def validate(self) -> None:
        specials = dict(
            bos=self.bos,
            separator=self.separator,
            image_start=self.image_start,
            image_end=self.image_end,
            newline=self.newline,
            mask=self.mask,
            video_start=self.video_start,
            video_end=self.video_end,
        )
        for name, i in specials.items():
            if not 0 <= i < self.text_size:
                raise ValueError(
                    f"vocab.{name}={i} is not inside the text range [0, {self.text_size})"
                )
        size_ids = range(self.size_base, self.size_base + self.max_size_value)
        clash = [n for n, i in specials.items() if i in size_ids and n != "bos"]
        if clash:
            raise ValueError(f"vocab size tokens {size_ids} overlap special ids {clash}")
        if self.visual_offset < self.text_size:
            raise ValueError("vocab.visual_offset must not overlap the text ids")


def release_vocab() -> Vocab:
    """The released Lumos-1 vocabulary: 65,536 Chameleon text ids + 64,000 Cosmos codes."""
    return Vocab(
        text_size=65536,
        visual_size=64000,
        visual_offset=65536,
        bos=0,
        separator=8710,
        image_start=8197,
        image_end=8196,
        newline=8803,
        size_base=8804,
        max_size_value=9003 - 8804,
        mask=9003,
        video_start=9004,
        video_end=9005,
        pad=0,
    )


def compact_vocab(text_tokens: int = 448, visual_size: int = 1000) -> Vocab:
    """A small vocabulary for CPU configs: 64 reserved ids, then text, then codes.

    Ids 0..7 are the specials, 8..63 the size tokens; a text tokenizer's id i maps to
    64 + i (`first_text_id`). Same type and code paths as the release vocabulary.
    """
    text_size = 64 + text_tokens
    return Vocab(
        text_size=text_size,
        visual_size=visual_size,
        visual_offset=text_size,
        bos=0,
        separator=1,
        image_start=2,
        image_end=3,
        newline=4,
        size_base=8,
        max_size_value=56,
        mask=5,
        video_start=6,
        video_end=7,
        pad=0,
        first_text_id=64,
    )


def vocab_from_config(cfg) -> Vocab:
    """`cfg` has `kind` ('release' | 'compact') and, for compact, text_tokens/visual_size."""
    if cfg.kind == "release":
        return release_vocab()
    if cfg.kind == "compact":
        return compact_vocab(cfg.text_tokens, cfg.visual_size)
    raise ValueError(f"config vocab.kind={cfg.kind!r}: expected 'release' or 'compact'")


def prompt_text(caption: str, *, width: int, height: int, frames: int, fps: int) -> str:
    """The release's text prompt (an image is a 1-frame video at 1 fps)."""
    return PROMPT_TEMPLATE.format(
        width=width, height=height, frames=frames, fps=fps, caption=caption
    )


def tokens_per_frame(rows: int, cols: int) -> int:
    """image_start + 2 size tokens + rows x (cols + newline) + image_end."""
    return 3 + rows * (cols + 1) + 1


@dataclasses.dataclass(frozen=True)
class Sequence:
    """One laid-out sample (numpy, unpadded). See module docstring for the fields."""

    tokens: np.ndarray
    segments: np.ndarray
    positions: np.ndarray
    visual: np.ndarray
    frame_starts: np.ndarray  # [T'] index of each frame's image_start
    content_start: int  # s0: index of the first visual content token of frame 0

    def __len__(self) -> int:
        return int(self.tokens.shape[0])


def _frame_tokens(codes: np.ndarray, height: int, width: int, vocab: Vocab) -> np.ndarray:
    """codes [T', H', W'] -> tokens [T', tokens_per_frame] (newlines explicit)."""
    t, rows, cols = codes.shape
    grid = np.full((t, rows, cols + 1), vocab.newline, np.int32)
    grid[:, :, :cols] = vocab.visual_token(codes)
    head = np.array(
        [vocab.image_start, vocab.size_token(height // 32), vocab.size_token(width // 32)], np.int32
    )
    head = np.broadcast_to(head, (t, 3))
    tail = np.full((t, 1), vocab.image_end, np.int32)
    return np.concatenate([head, grid.reshape(t, -1), tail], axis=1)


def frame_positions(
    num_frames: int, rows: int, cols: int, *, first_frame: int, s0: int, strides=(4, 8, 8)
) -> np.ndarray:
    """Scaled MM-RoPE positions of frames' content tokens.

    Returns [num_frames, rows, cols + 1, 3] with t = s0 + st*f, h = s0 + sh*r,
    w = s0 + sw*c (c = cols is the row's newline). `first_frame` is f of the first one.
    """
    st, sh, sw = strides
    f = np.arange(first_frame, first_frame + num_frames)[:, None, None]
    r = np.arange(rows)[None, :, None]
    c = np.arange(cols + 1)[None, None, :]
    shape = (num_frames, rows, cols + 1)
    return np.stack(
        [
            np.broadcast_to(s0 + st * f, shape),
            np.broadcast_to(s0 + sh * r, shape),
            np.broadcast_to(s0 + sw * c, shape),
        ],
        axis=-1,
    ).astype(np.int32)


def frame_block(
    codes: np.ndarray,
    *,
    height: int,
    width: int,
    first_frame: int,
    start: int,
    s0: int | None,
    vocab: Vocab,
    strides=(4, 8, 8),
    rope_1d: bool = False,
):
    """Lay out frames `first_frame..` beginning at sequence index `start`.

    Used by `build_sequence` and by the sampler, which appends one frame at a time.
    codes: [T', H', W'] visual codes (not ids). s0 defaults to this block's own first
    content index (right for frame 0). Returns (tokens, segments, positions, visual).
    """
    codes = np.asarray(codes)
    if codes.ndim != 3:
        raise ValueError(f"codes must be [frames, rows, cols], got shape {codes.shape}")
    t, rows, cols = codes.shape
    if (rows * 8, cols * 8) != (height, width):
        raise ValueError(
            f"code grid {rows}x{cols} does not match the stated size "
            f"{height}x{width} (expected {height // 8}x{width // 8} at 8 px/code)"
        )
    if codes.size and (codes.min() < 0 or codes.max() >= vocab.visual_size):
        raise ValueError(
            f"visual code outside [0, {vocab.visual_size}): min {codes.min()}, max {codes.max()}"
        )
    per = tokens_per_frame(rows, cols)
    tokens = _frame_tokens(codes, height, width, vocab).reshape(-1)
    index = start + np.arange(t * per, dtype=np.int32)
    if s0 is None:
        s0 = start + 3
    segments = np.repeat(np.arange(first_frame, first_frame + t, dtype=np.int32), per)
    visual = np.zeros((t, per), np.int32)
    visual[:, 3 : per - 1] = 1
    visual = visual.reshape(-1)
    positions = np.repeat(index[:, None], 3, axis=1)
    if not rope_1d:
        content = frame_positions(
            t, rows, cols, first_frame=first_frame, s0=s0, strides=strides
        ).reshape(-1, 3)
        positions[visual.astype(bool)] = content
    return tokens, segments, positions, visual


def build_sequence(
    text_ids,
    codes,
    *,
    fps: int,
    duration: int,
    height: int,
    width: int,
    vocab: Vocab,
    with_text: bool = True,
    strides=(4, 8, 8),
    rope_1d: bool = False,
) -> Sequence:
    """Text ids + codes [T', H', W'] -> the release's token layout.

    with_text=False drops the text prefix (bos, prompt, separator): the sequence starts
    at video_start, as for classifier-free guidance dropout and the unconditional branch.
    `text_ids` are already in the unified vocabulary (prompt template included).
    """
    text_ids = np.asarray(text_ids, np.int32).reshape(-1)
    if text_ids.size and (text_ids.min() < 0 or text_ids.max() >= vocab.text_size):
        raise ValueError(
            f"text id outside [0, {vocab.text_size}): min {text_ids.min()}, max {text_ids.max()}"
        )
    prefix = [vocab.bos, *text_ids.tolist(), vocab.separator] if with_text else []
    prefix += [vocab.video_start, vocab.size_token(duration), vocab.size_token(fps)]
    prefix = np.asarray(prefix, np.int32)
    start = len(prefix)
    s0 = start + 3
    f_tok, f_seg, f_pos, f_vis = frame_block(
        codes,
        height=height,
        width=width,
        first_frame=0,
        start=start,
        s0=s0,
        vocab=vocab,
        strides=strides,
        rope_1d=rope_1d,
    )
    suffix = np.asarray([vocab.video_end, vocab.separator], np.int32)
    tokens = np.concatenate([prefix, f_tok, suffix])
    n = len(tokens)
    idx = np.arange(n, dtype=np.int32)
    segments = np.full(n, CAUSAL, np.int32)
    segments[start : start + len(f_tok)] = f_seg
    positions = np.repeat(idx[:, None], 3, axis=1)
    positions[start : start + len(f_tok)] = f_pos
    visual = np.zeros(n, np.int32)
    visual[start : start + len(f_tok)] = f_vis
    per = tokens_per_frame(*np.asarray(codes).shape[1:])
    frame_starts = start + per * np.arange(np.asarray(codes).shape[0], dtype=np.int32)
    return Sequence(tokens, segments, positions, visual, frame_starts, s0)


def pad_to(seq: Sequence, length: int, vocab: Vocab) -> dict[str, np.ndarray]:
    """Right-pad a sequence to `length` (a fixed bucket). Padding: PAD segment, pad id."""
    n = len(seq)
    if n > length:
        raise ValueError(f"sequence of {n} tokens does not fit the bucket length {length}")
    extra = length - n
    idx = np.arange(n, length, dtype=np.int32)
    return dict(
        tokens=np.concatenate([seq.tokens, np.full(extra, vocab.pad, np.int32)]),
        segments=np.concatenate([seq.segments, np.full(extra, PAD, np.int32)]),
        positions=np.concatenate([seq.positions, np.repeat(idx[:, None], 3, axis=1)]),
        visual=np.concatenate([seq.visual, np.zeros(extra, np.int32)]),
    )


def frame_content_grid(rows: int, cols: int) -> np.ndarray:
    """Offsets of a frame's content tokens relative to its image_start: [rows, cols + 1]."""
    return 3 + np.arange(rows * (cols + 1), dtype=np.int32).reshape(rows, cols + 1)
