# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""MFU of the train step on this machine, against its own matmul peak measured in the same run.

  python benchmarks/mfu.py                         # tiny-width model, CPU
  python benchmarks/mfu.py --embed=512 --layers=8 --seq=2048 --batch=4 --dtype=bfloat16
  python benchmarks/mfu.py --preset=0.5b --seq=4096 --batch=8 --dtype=bfloat16 \
      --attention=cudnn --matmul=8192            # a paper-sized model on one GPU

Peak: the best FLOP/s of a square matmul of random normal data (same dtype as the model's
compute; constant data runs faster on GPUs and would flatter the peak) on one device.
Step: the real jitted train step (Trainer.train_step) on full-length synthetic
sequences laid out by lumos_jax.layout; model FLOPs per token from
`train_step.model_flops_per_token` (6 x matmul params + attention).
"""

import argparse
import json
import os
import sys
import time

P = argparse.ArgumentParser(description=__doc__.splitlines()[0])
P.add_argument(
    "--preset",
    default="",
    help="model preset (tiny, 0.5b, 1b, 3.6b) with its "
    "own vocabulary; overrides --embed/--layers/--heads/--mlp",
)
P.add_argument("--embed", type=int, default=256)
P.add_argument("--layers", type=int, default=4)
P.add_argument("--heads", type=int, default=4)
P.add_argument("--mlp", type=int, default=768)
P.add_argument("--seq", type=int, default=1024)
P.add_argument("--batch", type=int, default=4)
P.add_argument("--steps", type=int, default=5)
P.add_argument("--dtype", default="float32")
P.add_argument("--attention", default="dense")
P.add_argument("--remat", default="none")
P.add_argument("--matmul", type=int, default=2048, help="square matmul size for the peak")
ARGS = P.parse_args()
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from lumos_jax import config_lib, layout, parallel  # noqa: E402
from lumos_jax.train_step import Trainer, model_flops_per_token  # noqa: E402


def matmul_peak(n, dtype, reps=10):
    ka, kb = jax.random.split(jax.random.key(0))
    a = jax.random.normal(ka, (n, n), dtype)
    b = jax.random.normal(kb, (n, n), dtype)
    f = jax.jit(lambda x, y: x @ y)
    f(a, b).block_until_ready()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        f(a, b).block_until_ready()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def synthetic_batch(vocab, batch, seq, rng):
    rows, cols = 8, 8
    per = layout.tokens_per_frame(rows, cols)
    frames = max(1, (seq - 24) // per)
    out = []
    for _ in range(batch):
        text = rng.integers(vocab.first_text_id, vocab.text_size, seq - frames * per - 8)
        codes = rng.integers(0, vocab.visual_size, (frames, rows, cols))
        s = layout.build_sequence(text, codes, fps=8, duration=2, height=64, width=64, vocab=vocab)
        out.append(layout.pad_to(s, seq, vocab))
    b = {k: np.stack([o[k] for o in out]) for k in out[0]}
    b["labels"] = np.where(
        (b["visual"] == 1) & (rng.random(b["visual"].shape) < 0.7), b["tokens"], -1
    )
    return b


def main():
    c = config_lib.experiment("t2v", ARGS.preset or "tiny")
    if not ARGS.preset:
        c.model.update(
            embed_dim=ARGS.embed,
            num_layers=ARGS.layers,
            num_heads=ARGS.heads,
            num_kv_heads=ARGS.heads,
            head_dim=ARGS.embed // ARGS.heads,
            mlp_dim=ARGS.mlp,
        )
    c.model.update(dtype=ARGS.dtype, attention=ARGS.attention, remat=ARGS.remat)
    mesh = parallel.make_mesh((-1, 1, 1))
    trainer = Trainer(c, mesh)
    vocab = layout.vocab_from_config(c.vocab)
    batch = trainer.device_batch(
        synthetic_batch(vocab, ARGS.batch, ARGS.seq, np.random.default_rng(0))
    )
    with jax.set_mesh(mesh):
        state = trainer.init_state(0)
        step = trainer.jit_train_step()
        t0 = time.perf_counter()
        state, m = step(state, batch)
        jax.block_until_ready(m)
        compile_s = time.perf_counter() - t0
        times = []
        for _ in range(ARGS.steps):
            t = time.perf_counter()
            state, m = step(state, batch)
            jax.block_until_ready(m)
            times.append(time.perf_counter() - t)
    step_s = float(np.median(times))
    tokens = ARGS.batch * ARGS.seq
    flops = model_flops_per_token(trainer.model_cfg, ARGS.seq) * tokens
    peak = matmul_peak(ARGS.matmul, jnp.dtype(ARGS.dtype))  # one device; CPU: all its cores
    loss = float(m["loss"]) if "loss" in m else float("nan")
    mc = trainer.model_cfg
    achieved = flops / step_s
    print(
        f"model: {ARGS.preset or 'custom'} E={mc.embed_dim} L={mc.num_layers} "
        f"H={mc.num_heads}/{mc.num_kv_heads} F={mc.mlp_dim} V={mc.vocab_size} "
        f"dtype={ARGS.dtype} attention={ARGS.attention} remat={ARGS.remat}"
    )
    print(
        f"batch {ARGS.batch} x {ARGS.seq} tokens on {len(jax.devices())} device(s) "
        f"({jax.devices()[0].platform})"
    )
    print(f"{'compile + first step':<28}{compile_s:10.2f} s")
    print(f"{'step (median)':<28}{step_s:10.4f} s   ({tokens / step_s:,.0f} tokens/s)")
    print(f"{'model FLOPs / step':<28}{flops:10.3e}")
    print(f"{'achieved':<28}{achieved / 1e9:10.2f} GFLOP/s")
    print(
        f"{'matmul peak (measured)':<28}{peak / 1e9:10.2f} GFLOP/s  ({ARGS.matmul}^3 {ARGS.dtype})"
    )
    print(f"{'MFU':<28}{achieved / peak:10.1%}")
    print(f"{'loss (last step)':<28}{loss:10.4f}")
    print(
        json.dumps(
            {
                "preset": ARGS.preset or None,
                "attention": ARGS.attention,
                "loss": round(loss, 4),
                "step_s": round(step_s, 4),
                "tokens_per_s": round(tokens / step_s, 1),
                "achieved_gflops": round(achieved / 1e9, 2),
                "peak_gflops": round(peak / 1e9, 2),
                "mfu": round(achieved / peak, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
