"""Sampling pieces by hand: schedules, history masking, CFG, filters, re-masking, layout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from model_util import VOCAB

from lumos_jax import layout
from lumos_jax.sampling import config as sconfig
from lumos_jax.sampling import decode, plan, schedule


def _settings(**kw):
    c = sconfig.default_config("t2v")
    c.update({"height": 32, "width": 64, "frames": 9, **kw})
    return sconfig.Settings.from_config(c, max_size_value=VOCAB.max_size_value)


@pytest.mark.parametrize(
    "n,steps,want",
    [
        (6, 4, [5, 4, 2, 0]),  # floor(6 cos(pi/8 k)) = 5, 4, 2; last step unmasks all
        (3, 5, [2, 1, 1, 1, 0]),  # min(m-1, .) forces a reveal, max(1, .) keeps one masked
        (1, 3, [1, 1, 0]),
        (10, 1, [0]),
    ],
)
def test_masked_counts_by_hand(n, steps, want):
    np.testing.assert_array_equal(schedule.masked_counts(n, steps), want)


def test_masked_counts_reveal_every_step_at_release_settings():
    m = schedule.masked_counts(8 * 8, 50)
    assert m[-1] == 0 and m[:-1].min() >= 1 and m[:-1].max() <= 63
    assert np.all(np.diff(np.concatenate([[64], m])) < 0)  # N=64 > T: strictly decreasing


def test_history_mask_positions_by_hand():
    # L = 2 x (3 + 1) = 8: n = round(5.6) = 6; round(k * 8/6) = 0, 1, 3, 4, 5, 7.
    np.testing.assert_array_equal(schedule.history_mask_positions(8, 0.7), [0, 1, 3, 4, 5, 7])
    # L = 4 x 5 = 20: n = 14, round(k * 20/14).
    np.testing.assert_array_equal(
        schedule.history_mask_positions(20, 0.7), [0, 1, 3, 4, 6, 7, 9, 10, 11, 13, 14, 16, 17, 19]
    )
    np.testing.assert_array_equal(schedule.history_mask_positions(3, 0.7), [0, 2])  # 1.5 -> 2
    assert schedule.history_mask_positions(8, 0.0).size == 0


def test_plan_history_offsets_cover_newlines_and_skip_the_header():
    s = _settings()  # 4 rows x 8 cols: L = 36 content tokens
    p = plan.frame_plan(s, VOCAB, rope_1d=False)
    np.testing.assert_array_equal(p.history, 3 + schedule.history_mask_positions(36, 0.7))
    assert p.history.min() >= 3 and p.history.max() < p.per - 1
    assert (p.masked_frame[p.history] != VOCAB.mask).any()  # newlines are masked in history


def test_choice_temperatures_by_hand():
    lin = schedule.choice_temperatures(2.0, 4, 2, "linear")
    np.testing.assert_allclose(lin, [[1.5, 1.0, 0.5, 0.0]] * 2)
    np.testing.assert_allclose(schedule.choice_temperatures(2.0, 4, 2, "constant"), 2.0)
    rel = schedule.choice_temperatures(2.0, 4, 2, "release")
    # tau *= (1 - (s+1)/T) every step, never reset: 2*.75, *.5, *.25, *0, then 0 forever.
    np.testing.assert_allclose(rel, [[1.5, 0.75, 0.1875, 0.0], [0, 0, 0, 0]])


def test_cfg_combination():
    cond = np.array([[1.0, 2.0]])
    uncond = np.array([[0.5, 1.0]])
    rows = jnp.asarray(np.stack([cond, uncond], 1).reshape(2, 2))  # rows: cond, uncond
    np.testing.assert_allclose(decode.guide(rows, 3.0, 2), [[2.0, 4.0]])  # 3(c-u)+u
    np.testing.assert_allclose(decode.guide(rows, 1.0, 2), cond)
    np.testing.assert_allclose(decode.guide(rows, 7.0, 1), rows)  # one branch: no CFG


def test_top_k_and_top_p_filters():
    logits = jnp.log(jnp.asarray([[0.1, 0.4, 0.2, 0.3]]))
    k2 = decode.filter_logits(logits, top_k=2)
    np.testing.assert_array_equal(np.isfinite(k2), [[False, True, False, True]])
    p = decode.filter_logits(logits, top_p=0.6)  # 0.4 + 0.3 >= 0.6: keep two
    np.testing.assert_array_equal(np.isfinite(p), [[False, True, False, True]])
    p = decode.filter_logits(logits, top_p=0.05)  # the best id always survives
    np.testing.assert_array_equal(np.isfinite(p), [[False, True, False, False]])


def test_remask_keeps_fixed_codes_and_masks_the_least_confident():
    key = jax.random.key(0)
    codes = jnp.asarray([[7, 0, 0, 0, 0]])
    masked = jnp.asarray([[False, True, True, True, True]])
    ids = jnp.asarray([[1, 2, 3, 4, 5]])
    logp = jnp.asarray([[-9.0, -0.1, -3.0, -0.2, -2.0]])
    new_codes, new_masked = decode.remask(key, codes, masked, ids, logp, 2, 0.0)
    np.testing.assert_array_equal(new_codes, [[7, 2, 3, 4, 5]])  # fixed code kept
    np.testing.assert_array_equal(new_masked, [[False, False, True, False, True]])
    _, all_open = decode.remask(key, codes, masked, ids, logp, 0, 5.0)
    assert not bool(all_open.any())


def test_greedy_draw_returns_argmax_and_its_log_prob():
    s = _settings(temperature=0.0)
    logits = jnp.asarray([[0.0, 2.0, 1.0]])
    ids, logp = decode.draw(jax.random.key(0), logits, s)
    assert int(ids[0]) == 1
    assert float(logp[0]) == pytest.approx(float(jax.nn.log_softmax(logits)[0, 1]))


def test_prefix_and_frame_layout_equal_build_sequence():
    """Left-padded rows renumber to exactly layout.build_sequence, cond and uncond."""
    s = _settings()
    p = plan.frame_plan(s, VOCAB, rope_1d=False)
    text = [np.arange(70, 75), np.arange(80, 91)]
    pre = plan.prefix_rows(text, s, VOCAB, branches=2)
    pos, seg = plan.frame_rows(p, pre["lengths"])
    codes = np.zeros((3, 4, 8), np.int32)  # frames=9: 3 latent frames
    for row in range(4):
        ids, with_text = text[row // 2], row % 2 == 0
        ref = layout.build_sequence(
            ids,
            codes,
            fps=s.fps,
            duration=s.duration,
            height=32,
            width=64,
            vocab=VOCAB,
            with_text=with_text,
        )
        n = pre["lengths"][row]
        np.testing.assert_array_equal(pre["tokens"][row, -n:], ref.tokens[:n])
        np.testing.assert_array_equal(pre["positions"][row, -n:], ref.positions[:n])
        assert (pre["segments"][row, :-n] == layout.PAD).all()
        frames = ref.positions[n : n + 3 * p.per]
        np.testing.assert_array_equal(pos[row].reshape(-1, 3), frames)
        np.testing.assert_array_equal(seg.reshape(-1), ref.segments[n : n + 3 * p.per])
        tok = ref.tokens[n : n + p.per].copy()
        tok[p.code_offsets] = VOCAB.mask
        np.testing.assert_array_equal(p.masked_frame, tok)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("height", 40, "unsupported resolution"),
        ("frames", 8, "sampling.frames"),
        ("mode", "beam", "sampling.mode"),
        ("anneal", "cubic", "sampling.anneal"),
        ("top_p", 0.0, "sampling.top_p"),
    ],
)
def test_bad_settings_are_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        _settings(**{field: value})


def test_prompt_too_long_for_the_bucket():
    s = _settings(prompt_len=8)
    with pytest.raises(ValueError, match="prompt_len"):
        plan.prefix_rows([np.arange(70, 80)], s, VOCAB, branches=2)
    with pytest.raises(ValueError, match="text range"):
        plan.prefix_rows([np.asarray([VOCAB.text_size + 3])], _settings(), VOCAB, branches=2)
