# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Attention paths on this machine's default device: agreement and speed.

    python benchmarks/attention_paths.py                    # CPU: xla + blockwise
    python benchmarks/attention_paths.py --seq=4096 --batch=4 --heads=16 --kv_heads=8

On Lumos-laid-out sequences (text, then frames of 8x8 tokens, then padding: the real
frame-causal mask with segment ids, built by lumos_jax.layout), each path of
`ModelConfig.attention` is run in --dtype and compared with the float32 XLA reference:
  xla        jax.nn.dot_product_attention(implementation='xla'), the `dense` path
  cudnn      jax.nn.dot_product_attention(implementation='cudnn'), GPU only
  blockwise  lumos_jax.model.attention.blockwise_attention (flash-style, block skipping)
Figures: max |error| of the output and of dq, dk, dv (cotangent: random normal; padding
rows excluded, they are never read), relative to the reference's max |value|; and the
median time of a jitted forward + backward. A path that fails prints its error and the
others still run. Last line: one JSON object.
"""

import argparse
import json
import os
import sys
import time

P = argparse.ArgumentParser(description=__doc__.splitlines()[0])
P.add_argument("--batch", type=int, default=2)
P.add_argument("--seq", type=int, default=2048)
P.add_argument("--heads", type=int, default=8)
P.add_argument("--kv_heads", type=int, default=4)
P.add_argument("--head_dim", type=int, default=64)
P.add_argument("--dtype", default="bfloat16")
P.add_argument("--reps", type=int, default=10)
P.add_argument("--paths", default="", help="comma list; default: xla,blockwise (+cudnn on GPU)")
ARGS = P.parse_args()
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from lumos_jax import layout  # noqa: E402
from lumos_jax.model import attention as attn  # noqa: E402


def lumos_indices(batch, seq, rng):
    """[B, S] sequence indices and segment ids of real Lumos layouts, varied text lengths."""
    vocab = layout.compact_vocab()
    per = layout.tokens_per_frame(8, 8)
    idx, seg = [], []
    for b in range(batch):
        frames = max(1, (seq - 64) // per - b)  # rows differ: padding differs
        text = rng.integers(vocab.first_text_id, vocab.text_size, 20 + 7 * b)
        codes = rng.integers(0, vocab.visual_size, (frames, 8, 8))
        s = layout.pad_to(
            layout.build_sequence(text, codes, fps=8, duration=2, height=64, width=64, vocab=vocab),
            seq,
            vocab,
        )
        idx.append(np.arange(seq, dtype=np.int32))
        seg.append(s["segments"].astype(np.int32))
    return jnp.asarray(np.stack(idx)), jnp.asarray(np.stack(seg))


def path_fn(name):
    if name == "blockwise":
        return lambda q, k, v, i, s: attn.blockwise_attention(q, k, v, i, s, i, s)
    return lambda q, k, v, i, s: attn.dense_attention(q, k, v, i, s, i, s, implementation=name)


def fwd_bwd(fn):
    def run(q, k, v, i, s, ct):
        o, vjp = jax.vjp(lambda q, k, v: fn(q, k, v, i, s), q, k, v)
        return (o,) + vjp(ct)

    return jax.jit(run)


def main():
    platform = jax.devices()[0].platform
    paths = (
        ARGS.paths.split(",")
        if ARGS.paths
        else (["xla", "cudnn", "blockwise"] if platform == "gpu" else ["xla", "blockwise"])
    )
    rng = np.random.default_rng(0)
    b, s, h, hk, d = ARGS.batch, ARGS.seq, ARGS.heads, ARGS.kv_heads, ARGS.head_dim
    keys = jax.random.split(jax.random.key(0), 4)
    q32 = jax.random.normal(keys[0], (b, s, h, d), jnp.float32)
    k32 = jax.random.normal(keys[1], (b, s, hk, d), jnp.float32)
    v32 = jax.random.normal(keys[2], (b, s, hk, d), jnp.float32)
    ct32 = jax.random.normal(keys[3], (b, s, h, d), jnp.float32)
    idx, seg = lumos_indices(b, s, rng)
    real = (seg != layout.PAD)[:, :, None, None]
    ref = fwd_bwd(path_fn("xla"))(q32, k32, v32, idx, seg, ct32)
    ref = [jnp.where(real, r, 0) for r in ref]
    dt = jnp.dtype(ARGS.dtype)
    args = [x.astype(dt) for x in (q32, k32, v32)] + [idx, seg, ct32.astype(dt)]
    print(
        f"device {jax.devices()[0].device_kind} ({platform}); B={b} S={s} H={h}/{hk} "
        f"D={d} {ARGS.dtype}; padding rows {int((~real).sum())}"
    )
    print(
        f"{'path':<11}{'out err':>10}{'dq err':>10}{'dk err':>10}{'dv err':>10}{'fwd+bwd ms':>12}"
    )
    results = {}
    for name in paths:
        try:
            f = fwd_bwd(path_fn(name))
            outs = jax.block_until_ready(f(*args))
            errs = [
                float(
                    jnp.max(jnp.abs(jnp.where(real, o.astype(jnp.float32), 0) - r))
                    / jnp.max(jnp.abs(r))
                )
                for o, r in zip(outs, ref)
            ]
            times = []
            for _ in range(ARGS.reps):
                t = time.perf_counter()
                jax.block_until_ready(f(*args))
                times.append(time.perf_counter() - t)
            ms = 1e3 * float(np.median(times))
            results[name] = {"rel_err": [round(e, 5) for e in errs], "ms": round(ms, 3)}
            print(f"{name:<11}" + "".join(f"{e:10.2e}" for e in errs) + f"{ms:12.3f}")
        except Exception as e:  # noqa: BLE001 - report and go on with the other paths
            msg = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
            results[name] = {"error": msg}
            print(f"{name:<11}FAILED {msg}")
    print(
        json.dumps(
            {
                "device": jax.devices()[0].device_kind,
                "dtype": ARGS.dtype,
                "batch": b,
                "seq": s,
                "paths": results,
            }
        )
    )


if __name__ == "__main__":
    main()
