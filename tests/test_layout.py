"""Token layout: exact ids, segment ids and MM-RoPE positions against hand-derived values."""

import numpy as np
import pytest
from layout_util import codes_from_tokens

from lumos_jax import layout


def test_release_vocab_ids():
    v = layout.release_vocab()
    v.validate()
    assert v.size == 129536 and v.visual_offset == 65536 and v.visual_size == 64000
    assert (v.bos, v.separator, v.image_start, v.image_end) == (0, 8710, 8197, 8196)
    assert (v.newline, v.mask, v.video_start, v.video_end) == (8803, 9003, 9004, 9005)
    assert v.size_token(7) == 8811
    assert int(v.visual_token(5)) == 65541
    with pytest.raises(ValueError, match="size/number token"):
        v.size_token(v.max_size_value)


def test_compact_vocab_is_same_type_and_valid():
    v = layout.compact_vocab(text_tokens=448, visual_size=1000)
    v.validate()
    assert isinstance(v, layout.Vocab)
    assert v.size == 64 + 448 + 1000 and v.visual_offset == 512


def test_tokens_per_frame_matches_reference():
    assert layout.tokens_per_frame(384 // 8, 672 // 8) == 4084
    assert layout.tokens_per_frame(256 // 8, 448 // 8) == 1828


def test_two_frame_2x3_sample_by_hand():
    """2 latent frames of 2x3 codes (16x24 px) after 2 text ids, release vocabulary."""
    v = layout.release_vocab()
    codes = np.arange(12).reshape(2, 2, 3)
    seq = layout.build_sequence([100, 200], codes, fps=12, duration=2, height=16, width=24, vocab=v)
    c = lambda k: 65536 + k  # noqa: E731
    nl, ims, ime = 8803, 8197, 8196
    frame = lambda f: [
        ims,
        8804 + 0,
        8804 + 0,  # noqa: E731  (16//32 = 24//32 = 0)
        c(6 * f),
        c(6 * f + 1),
        c(6 * f + 2),
        nl,
        c(6 * f + 3),
        c(6 * f + 4),
        c(6 * f + 5),
        nl,
        ime,
    ]
    expected = [0, 100, 200, 8710, 9004, 8804 + 2, 8804 + 12] + frame(0) + frame(1) + [9005, 8710]
    np.testing.assert_array_equal(seq.tokens, expected)
    assert len(seq) == 7 + 2 * 12 + 2
    # Segments: text/special causal (-1); frame f for image_start..image_end.
    np.testing.assert_array_equal(seq.segments, [-1] * 7 + [0] * 12 + [1] * 12 + [-1] * 2)
    np.testing.assert_array_equal(seq.frame_starts, [7, 19])
    # Visual content: codes and newlines only.
    vis = [0] * 3 + [1] * 8 + [0]
    np.testing.assert_array_equal(seq.visual, [0] * 7 + vis + vis + [0, 0])
    # Positions: s0 = index of first content token = 10; t = s0 + 4f, h = s0 + 8r,
    # w = s0 + 8c (c = 3 is the newline); everything else t = h = w = index.
    s0 = 10
    assert seq.content_start == s0
    pos = seq.positions
    for i in list(range(10)) + [18, 19, 20, 21, 30, 31, 32]:
        np.testing.assert_array_equal(pos[i], [i, i, i], err_msg=f"token {i}")
    for f, start in ((0, 10), (1, 22)):
        for r in range(2):
            for col in range(4):
                i = start + r * 4 + col
                np.testing.assert_array_equal(
                    pos[i], [s0 + 4 * f, s0 + 8 * r, s0 + 8 * col], err_msg=f"f{f} r{r} c{col}"
                )
    # Round trip tokens -> codes.
    back = codes_from_tokens(seq.tokens, seq.frame_starts, 2, 3, v)
    np.testing.assert_array_equal(back, codes)


def test_unscaled_and_1d_variants():
    v = layout.compact_vocab()
    codes = np.zeros((2, 2, 2), int)
    seq = layout.build_sequence(
        [70], codes, fps=1, duration=1, height=16, width=16, vocab=v, strides=(1, 1, 1)
    )
    s0 = seq.content_start
    i = seq.frame_starts[1] + 3 + 1 * 3 + 2  # frame 1, row 1, newline column 2
    np.testing.assert_array_equal(seq.positions[i], [s0 + 1, s0 + 1, s0 + 2])
    one_d = layout.build_sequence(
        [70], codes, fps=1, duration=1, height=16, width=16, vocab=v, rope_1d=True
    )
    idx = np.arange(len(one_d))
    np.testing.assert_array_equal(one_d.positions, np.stack([idx] * 3, 1))


def test_without_text_starts_at_video_start():
    v = layout.compact_vocab()
    codes = np.zeros((1, 1, 1), int)
    seq = layout.build_sequence(
        [70, 71], codes, fps=1, duration=1, height=8, width=8, vocab=v, with_text=False
    )
    assert seq.tokens[0] == v.video_start
    assert seq.content_start == 3 + 3
    np.testing.assert_array_equal(seq.positions[seq.content_start], [6, 6, 6])


def test_frame_block_appends_like_build_sequence():
    """The sampler's one-frame-at-a-time path gives the same arrays as the full build."""
    v = layout.compact_vocab()
    rng = np.random.default_rng(0)
    codes = rng.integers(0, v.visual_size, (3, 2, 4))
    full = layout.build_sequence(
        [70, 80, 90], codes, fps=4, duration=2, height=16, width=32, vocab=v
    )
    per = layout.tokens_per_frame(2, 4)
    for f in range(3):
        start = full.frame_starts[f]
        tok, seg, pos, vis = layout.frame_block(
            codes[f : f + 1],
            height=16,
            width=32,
            first_frame=f,
            start=start,
            s0=full.content_start,
            vocab=v,
        )
        sl = slice(start, start + per)
        np.testing.assert_array_equal(tok, full.tokens[sl])
        np.testing.assert_array_equal(seg, full.segments[sl])
        np.testing.assert_array_equal(pos, full.positions[sl])
        np.testing.assert_array_equal(vis, full.visual[sl])


def test_pad_to_and_errors():
    v = layout.compact_vocab()
    codes = np.zeros((1, 1, 1), int)
    seq = layout.build_sequence([70], codes, fps=1, duration=1, height=8, width=8, vocab=v)
    padded = layout.pad_to(seq, len(seq) + 3, v)
    np.testing.assert_array_equal(padded["segments"][-3:], [layout.PAD] * 3)
    assert padded["positions"].shape == (len(seq) + 3, 3)
    with pytest.raises(ValueError, match="does not fit the bucket"):
        layout.pad_to(seq, len(seq) - 1, v)
    with pytest.raises(ValueError, match="does not match the stated size"):
        layout.build_sequence([70], codes, fps=1, duration=1, height=16, width=8, vocab=v)
    with pytest.raises(ValueError, match="visual code outside"):
        layout.build_sequence([70], codes + 5000, fps=1, duration=1, height=8, width=8, vocab=v)
    with pytest.raises(ValueError, match="text id outside"):
        layout.build_sequence([10**6], codes, fps=1, duration=1, height=8, width=8, vocab=v)
