"""generate(): cached == uncached, I2V, determinism, sharding, an independent reference."""

import dataclasses

import jax
import numpy as np
import pytest
from flax import nnx
from model_util import VOCAB, tiny_config

from lumos_jax import layout, parallel, sampling
from lumos_jax.model.decoder import Decoder, from_pure
from lumos_jax.sampling import schedule

CFG = tiny_config()
PROMPTS = [np.arange(70, 75), np.arange(80, 91), np.arange(100, 103), np.arange(120, 128)]


def random_params(cfg, seed=0):
    """Host-side random params (eager NNX init compiles per shape and takes seconds)."""
    abstract = jax.eval_shape(lambda: Decoder(cfg, rngs=nnx.Rngs(0)))
    pure = nnx.to_pure_dict(nnx.state(abstract, nnx.Param))
    rng = np.random.default_rng(seed)

    def init(path, x):
        name = jax.tree_util.keystr(path[-1:])
        if "scale" in name:
            return np.ones(x.shape, x.dtype)
        if "bias" in name:
            return np.zeros(x.shape, x.dtype)
        return (0.05 * rng.standard_normal(x.shape)).astype(x.dtype)

    return jax.tree_util.tree_map_with_path(init, pure)


PARAMS = random_params(CFG)


def _config(**kw):
    c = sampling.default_config("t2v")
    c.update(
        {
            "height": 32,
            "width": 32,
            "frames": 9,
            "steps": 4,
            "top_k": 100,
            "top_p": 0.95,
            "fast_compile": True,
            **kw,
        }
    )
    return c


def _run(prompts=PROMPTS, seed=0, mesh=None, **kw):
    return sampling.generate(CFG, PARAMS, prompts, _config(**kw), seed, mesh=mesh)


def _first_frames(n=len(PROMPTS)):
    return np.random.default_rng(5).integers(0, VOCAB.visual_size, (n, 4, 4))


def test_cached_and_uncached_sampling_give_identical_codes():
    cached = _run(mode="ardf_cache")
    uncached = _run(mode="ardf_nocache")
    assert cached.shape == (4, 3, 4, 4) and cached.dtype == np.int32
    np.testing.assert_array_equal(cached, uncached)
    s = sampling.build_sampler(CFG, _config(mode="ardf_cache"), PROMPTS, mesh=None)
    t, f = 4, 3
    assert s.stats["forward_passes"] == 1 + f * t + (f - 1)  # prefill, steps, re-encodes


def test_i2v_keeps_the_given_frame_in_cached_and_uncached_sampling():
    first = _first_frames()
    cached = sampling.generate(CFG, PARAMS, PROMPTS, _config(), 0, mesh=None, first_frames=first)
    uncached = sampling.generate(
        CFG, PARAMS, PROMPTS, _config(mode="ardf_nocache"), 0, mesh=None, first_frames=first
    )
    np.testing.assert_array_equal(cached[:, 0], first)
    np.testing.assert_array_equal(cached, uncached)
    assert not np.array_equal(cached[:, 1:], _run()[:, 1:])  # the given frame conditions


def test_deterministic_for_a_seed_and_sharded_equals_single_device():
    a, b = _run(seed=3), _run(seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, _run(seed=4))
    mesh = parallel.make_mesh({"data": -1, "fsdp": 1, "tensor": 1})  # 8 devices, 8 rows
    sharded = _run(seed=3, mesh=mesh)
    np.testing.assert_array_equal(sharded, a)


def _reference_logits(model_fn, text, codes, f, with_text, length):
    """Visual logits at frame f's codes, from the unpadded layout.build_sequence sample
    with history frames masked (the same evenly spaced positions) and frame f masked."""
    seq = layout.build_sequence(
        text,
        codes[: f + 1],
        fps=8,
        duration=1,
        height=32,
        width=32,
        vocab=VOCAB,
        with_text=with_text,
    )
    tokens = seq.tokens.copy()
    grid = layout.frame_content_grid(4, 4)
    hist = schedule.history_mask_positions(grid.size, 0.7)
    for g in range(f):
        tokens[seq.frame_starts[g] + grid.reshape(-1)[hist]] = VOCAB.mask
    code_pos = seq.frame_starts[f] + grid[:, :4].reshape(-1)
    tokens[code_pos] = VOCAB.mask
    padded = layout.pad_to(dataclasses.replace(seq, tokens=tokens), length, VOCAB)
    logits = model_fn(padded["tokens"][None], padded["positions"][None], padded["segments"][None])
    return np.asarray(logits[0, code_pos])


def test_greedy_one_step_sampling_matches_an_independent_full_sequence_reference():
    """T = 1 and temperature 0: each frame is the argmax of g (cond - uncond) + uncond."""
    prompts = PROMPTS[:2]
    kw = dict(steps=1, temperature=0.0, frames=5, duration=1, guidance=15.0)
    codes = sampling.generate(CFG, PARAMS, prompts, _config(**kw), 0, mesh=None)
    model = from_pure(CFG, PARAMS)
    model_fn = jax.jit(lambda t, p, s: model.logits(model(t, p, s)[0], visual_only=True))
    for b, text in enumerate(prompts):
        for f in range(2):
            cond = _reference_logits(model_fn, text, codes[b], f, True, 80)
            uncond = _reference_logits(model_fn, text, codes[b], f, False, 80)
            want = np.argmax(15.0 * (cond - uncond) + uncond, -1)
            np.testing.assert_array_equal(codes[b, f].reshape(-1), want, err_msg=f"{b} {f}")


def test_next_token_baseline_runs_one_token_per_pass():
    cfg = _config(mode="next_token", frames=5)
    s = sampling.build_sampler(CFG, cfg, PROMPTS[:1], mesh=None)
    codes = sampling.generate(CFG, PARAMS, PROMPTS[:1], cfg, 0, mesh=None)
    assert codes.shape == (1, 2, 4, 4)
    assert codes.min() >= 0 and codes.max() < VOCAB.visual_size
    assert s.stats["forward_passes"] == 1 + 2 * layout.tokens_per_frame(4, 4)


def test_bad_first_frames_and_empty_prompts():
    with pytest.raises(ValueError, match="first_frames"):
        sampling.generate(
            CFG, PARAMS, PROMPTS, _config(), 0, mesh=None, first_frames=_first_frames()[:, :2]
        )
    with pytest.raises(ValueError, match="at least one prompt"):
        sampling.generate(CFG, PARAMS, [], _config(), 0, mesh=None)
