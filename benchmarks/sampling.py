# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Sampling speed: KV-cached AR-DF vs AR-DF without cache vs next-token decoding.

  python benchmarks/sampling.py                          # tiny random model, CPU, minutes
  python benchmarks/sampling.py --preset=1b --height=384 --width=672 --steps=50  # paper

One run, one random model, one prompt, the same seed for every mode. Each mode runs twice;
the second (compiled) run is timed: seconds per latent frame, total seconds and forward
passes (a pass runs both CFG branches as rows of one batch). The paper's figures (1B, one
H20, one 7-frame 384p video): 77.8 s cached, 383 s without cache, 960 s next-token.
The cached sampler's frames must not get slower faster than the context grows; the check
is printed. The last line is one JSON object with the headline figures.
"""

import argparse
import json
import os
import sys
import time

P = argparse.ArgumentParser(description=__doc__.splitlines()[0])
P.add_argument("--preset", default="tiny", help="model preset: tiny, 0.5b, 1b, 3.6b")
P.add_argument("--embed", type=int, default=0, help="override embed_dim (tiny widths)")
P.add_argument("--layers", type=int, default=0, help="override num_layers")
P.add_argument("--height", type=int, default=64)
P.add_argument("--width", type=int, default=64)
P.add_argument("--frames", type=int, default=7, help="latent frames")
P.add_argument("--steps", type=int, default=50, help="masked-decoding steps per frame")
P.add_argument("--prompt_tokens", type=int, default=40)
P.add_argument("--dtype", default="", help="compute dtype (default: the preset's)")
P.add_argument("--modes", default="ardf_cache,ardf_nocache,next_token")
P.add_argument("--seed", type=int, default=0)
ARGS = P.parse_args()
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from lumos_jax import config_lib, sampling  # noqa: E402
from lumos_jax.model.config import ModelConfig  # noqa: E402

PAPER_S = {"ardf_cache": 77.8, "ardf_nocache": 383.0, "next_token": 960.0}


def model_config():
    """(ModelConfig of --preset with the overrides, its default config.sampling)."""
    c = config_lib.experiment("t2v", ARGS.preset)
    m = c.model.to_dict()
    if ARGS.embed:
        m.update(
            embed_dim=ARGS.embed, head_dim=ARGS.embed // m["num_heads"], mlp_dim=3 * ARGS.embed
        )
    if ARGS.layers:
        m["num_layers"] = ARGS.layers
    if ARGS.dtype:
        m["dtype"] = ARGS.dtype
    m.update(remat="none", scan_layers=True)
    return ModelConfig.from_dict(m), c.sampling


def random_params(cfg: ModelConfig, seed: int):
    """Random weights made on the device in one jitted call (no host-side init)."""
    from flax import nnx

    from lumos_jax.model.decoder import Decoder

    make = jax.jit(
        lambda: nnx.to_pure_dict(nnx.state(Decoder(cfg, rngs=nnx.Rngs(seed)), nnx.Param))
    )
    return make()


def run_mode(cfg, params, sampling_cfg, prompt, mode):
    """-> dict(frame_s, total_s, forward_passes, tokens, first_run_s)."""
    sampling_cfg.mode = mode
    sampler = sampling.build_sampler(cfg, sampling_cfg, [prompt], mesh=None)
    key = jax.random.key(ARGS.seed)
    t = time.perf_counter()
    sampler.generate(params, [prompt], key)  # compiles
    first = time.perf_counter() - t
    before = dict(sampler.stats)
    marks = []
    t0 = time.perf_counter()
    codes = sampler.generate(
        params, [prompt], key, on_frame=lambda f, c: marks.append(time.perf_counter())
    )
    total = time.perf_counter() - t0
    frame_s = np.diff([t0] + marks).tolist()
    return dict(
        frame_s=frame_s,
        total_s=total,
        first_run_s=first,
        codes=codes,
        forward_passes=sampler.stats["forward_passes"] - before["forward_passes"],
        tokens=sampler.stats["tokens"] - before["tokens"],
        prompt_len=sampler.prompt_len,
        per=sampler.plan.per,
    )


def main():
    cfg, sc = model_config()
    vocab = sampling.vocab_for_model(cfg)
    sc.update(
        height=ARGS.height,
        width=ARGS.width,
        frames=1 + 4 * (ARGS.frames - 1),
        steps=ARGS.steps,
        seed=ARGS.seed,
    )
    rng = np.random.default_rng(ARGS.seed)
    first_text = vocab.first_text_id or vocab.video_end + 1
    prompt = rng.integers(first_text, vocab.text_size, ARGS.prompt_tokens)
    params = random_params(cfg, ARGS.seed)
    print(
        f"device: {jax.devices()[0].device_kind} x{jax.device_count()}; model "
        f"E={cfg.embed_dim} L={cfg.num_layers} H={cfg.num_heads} dtype={cfg.dtype}; "
        f"{ARGS.frames} latent frames of {ARGS.height // 8}x{ARGS.width // 8} codes, "
        f"T={ARGS.steps}, CFG on (2 rows), prompt {ARGS.prompt_tokens} tokens"
    )
    results = {m: run_mode(cfg, params, sc, prompt, m) for m in ARGS.modes.split(",")}
    report(results)


def report(results):
    names = list(results)
    n = len(next(iter(results.values()))["frame_s"])
    head = "".join(f"  f{i + 1:<6d}" for i in range(n))
    print(f"\n{'mode':<13s}{head}  {'total_s':>8s} {'passes':>7s} {'tokens':>9s} {'1st run_s':>9s}")
    for m in names:
        r = results[m]
        frames = "".join(f"  {s:7.3f}" for s in r["frame_s"])
        print(
            f"{m:<13s}{frames}  {r['total_s']:8.2f} {r['forward_passes']:7d} "
            f"{r['tokens']:9d} {r['first_run_s']:9.2f}"
        )
    out = {f"{m}_s": round(results[m]["total_s"], 3) for m in names}
    out.update({f"{m}_passes": results[m]["forward_passes"] for m in names})
    if "ardf_cache" in results:
        base = results["ardf_cache"]
        for m in names:
            if m != "ardf_cache":
                ratio = results[m]["total_s"] / base["total_s"]
                paper = PAPER_S[m] / PAPER_S["ardf_cache"]
                print(f"{m} / ardf_cache: {ratio:.2f}x (paper, 1B on one H20: {paper:.2f}x)")
                out[f"{m}_over_cache"] = round(ratio, 2)
        growth, ctx = cache_growth(base)
        ok = growth <= ctx * 1.25  # 25% slack for timer noise on a shared machine
        print(
            f"ardf_cache: last-frame / first-frame time {growth:.2f}x while the context "
            f"grew {ctx:.2f}x: {'ok' if ok else 'GROWS FASTER THAN THE CONTEXT'}"
        )
        out.update(
            cache_frame_growth=round(growth, 2),
            context_growth=round(ctx, 2),
            cache_growth_ok=bool(ok),
            cache_s_per_frame=[round(s, 4) for s in base["frame_s"]],
        )
        if "ardf_nocache" in results:
            same = bool(np.array_equal(base["codes"], results["ardf_nocache"]["codes"]))
            print(f"cached and uncached codes identical: {same}")
            out["cache_nocache_identical"] = same
    print(json.dumps(out))


def cache_growth(r):
    """(time of the last frame / first frame, context length at the last / first frame).

    Frame times are medians of the first and last two frames (a single frame is noisy)."""
    s = r["frame_s"]
    k = min(2, max(1, len(s) // 2))
    first, last = float(np.median(s[:k])), float(np.median(s[-k:]))
    p, per, n = r["prompt_len"], r["per"], len(s)
    ctx_first = p + per * (1 + (k - 1) / 2)
    ctx_last = p + per * (n - (k - 1) / 2)
    return last / first, ctx_last / ctx_first


if __name__ == "__main__":
    main()
