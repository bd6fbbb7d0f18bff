# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""AR-DF training masks: ratio distribution, tube pattern, labels, newline handling."""

import numpy as np
import pytest

from lumos_jax import layout
from lumos_jax.data import ardf


def test_ratio_distribution_matches_cosine_floor():
    u = np.random.default_rng(0).random(200_000)
    rho = ardf.mask_ratio(u, 0.7)
    assert rho.min() == pytest.approx(0.7) and rho.max() <= 1.0
    u0 = 2 / np.pi * np.arccos(0.7)  # cos(pi/2 u) < 0.7 for u > u0
    assert np.mean(rho == 0.7) == pytest.approx(1 - u0, abs=0.005)
    mean = 2 / np.pi * np.sin(np.arccos(0.7)) + 0.7 * (1 - u0)
    assert rho.mean() == pytest.approx(mean, abs=0.003)
    np.testing.assert_allclose(ardf.mask_ratio([0.0, 1.0], 0.0), [1.0, 0.0], atol=1e-12)


def test_masked_count_rounds_and_floors_at_one():
    np.testing.assert_array_equal(
        ardf.masked_count(10, [0.0, 0.04, 0.25, 0.35, 0.7, 1.0]), [1, 1, 2, 4, 7, 10]
    )  # round half to even: 2.5 -> 2


def test_tube_same_pattern_every_frame_with_exact_count():
    spec = ardf.MaskSpec()
    for seed in range(50):
        rng = np.random.default_rng(seed)
        masks, rho = ardf.frame_masks(rng, 5, 36, spec)
        assert masks.shape == (5, 36) and np.all(rho == rho[0]) and rho[0] >= 0.7
        assert (masks == masks[0]).all()
        assert masks[0].sum() == max(1, round(36 * rho[0]))


def test_tube_positions_are_uniform():
    hits = np.zeros(12)
    for seed in range(3000):
        m, _ = ardf.frame_masks(np.random.default_rng(seed), 1, 12, ardf.MaskSpec(min_ratio=0.0))
        hits += m[0]
    freq = hits / hits.sum()
    np.testing.assert_allclose(freq, 1 / 12, atol=0.01)


def test_random_and_diffusion_forcing_modes():
    rng = np.random.default_rng(1)
    m, rho = ardf.frame_masks(rng, 8, 400, ardf.MaskSpec(mode="random"))
    assert not (m == m[0]).all()  # independent per token
    assert abs(m.mean() - rho[0]) < 0.05
    m, rho = ardf.frame_masks(rng, 8, 400, ardf.MaskSpec(mode="diffusion_forcing", min_ratio=0))
    assert len(set(np.round(rho, 6))) == 8  # one ratio per frame
    np.testing.assert_array_equal(m.sum(1), ardf.masked_count(400, rho))
    with pytest.raises(ValueError, match="data.masking.mode"):
        ardf.MaskSpec(mode="checkerboard")


def _sample(vocab, frames=3, rows=2, cols=3, text=(70, 71)):
    codes = np.random.default_rng(0).integers(0, vocab.visual_size, (frames, rows, cols))
    return layout.build_sequence(
        list(text), codes, fps=4, duration=1, height=rows * 8, width=cols * 8, vocab=vocab
    ), codes


@pytest.mark.parametrize("frames", [1, 3])  # 1-frame images are masked the same way
def test_labels_only_at_masked_positions(frames):
    v = layout.compact_vocab()
    seq, _ = _sample(v, frames=frames)
    for seed in range(20):
        inputs, labels, rho = ardf.ardf_mask(
            seq, 2, 3, np.random.default_rng(seed), ardf.MaskSpec(), v
        )
        masked = inputs != seq.tokens
        assert np.all(inputs[masked] == v.mask)
        assert np.all(seq.visual[masked] == 1)  # only visual content is ever masked
        has_label = labels >= 0
        assert np.all(masked[has_label]) and np.all(labels[has_label] == seq.tokens[has_label])
        # Every masked code has its label; masked newlines have none (no visual class).
        nl = seq.tokens == v.newline
        np.testing.assert_array_equal(has_label, masked & ~nl)
        assert np.all(labels[has_label] >= v.visual_offset)
        per_frame = masked[seq.frame_starts[:, None] + 3 + np.arange(8)[None]].sum(1)
        np.testing.assert_array_equal(per_frame, max(1, round(8 * rho[0])))  # L = 2 x (3 + 1)


def test_tube_pattern_identical_across_frames_in_sequence():
    v = layout.release_vocab()
    seq, _ = _sample(v, frames=4, rows=3, cols=4)
    inputs, _, _ = ardf.ardf_mask(seq, 3, 4, np.random.default_rng(3), ardf.MaskSpec(), v)
    idx = ardf.content_index(seq.frame_starts, 3, 4)
    pattern = inputs[idx] == v.mask
    assert (pattern == pattern[0]).all() and pattern[0].any()


def test_newline_switches():
    v = layout.compact_vocab()
    seq, _ = _sample(v, frames=2)
    nl = seq.tokens == v.newline
    spec = ardf.MaskSpec(min_ratio=1.0, newline_labels=True)  # everything masked
    inputs, labels, _ = ardf.ardf_mask(seq, 2, 3, np.random.default_rng(0), spec, v)
    assert np.all(inputs[nl] == v.mask) and np.all(labels[nl] == v.newline)
    spec = ardf.MaskSpec(min_ratio=1.0, mask_newlines=False)
    inputs, labels, _ = ardf.ardf_mask(seq, 2, 3, np.random.default_rng(0), spec, v)
    assert np.all(inputs[nl] == v.newline) and np.all(labels[nl] == -1)
    assert np.all(inputs[(seq.visual == 1) & ~nl] == v.mask)
