# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Forward + backward of the training loss at the official code's tiny config, on this CPU.

  python benchmarks/step_vs_reference.py                       # L=339 and L=5,499, 'auto'
  python benchmarks/step_vs_reference.py --lengths=5499 --attention=blockwise --block=512 \
      --loss_chunk=1024 --parts                                 # one setting + breakdown
  python benchmarks/step_vs_reference.py --official_s=339:0.94,5499:18.86 \
      --official_date=2026-12-05                                # + a ratio to given times

The config is the one the official PyTorch code was timed with (issue 18): hidden 256,
4 layers, 4 heads x 64, MLP 688, the release vocabulary (129,536 ids), fp32, batch 1.
The two sequences are the official timing cases, laid out by lumos_jax.layout (reference
section 1) with nothing padded: 10 text-range tokens (bos, 8 prompt ids, separator),
video_start, the duration and fps tokens, 3 latent frames, video_end, separator. L=339 is
case B: 3 frames of 8x12 codes (96x64 px, 108 tokens each); L=5,499 is 256p x 3: 3 frames
of 32x56 codes (448x256 px, 1,828 tokens each). Other lengths are refused.

Every length runs in a fresh process (so peak RSS is that length's own) which first
measures this machine's f32 matmul peak, then times the jitted value_and_grad of the
loss (median of --reps after one compile run). MFU = model FLOPs
(train_step.model_flops_per_token: 6 x matmul params + causal attention) / step time /
the higher of that peak and one measured again after the step. `--parts` adds a
breakdown: forward only, loss head only (hidden -> chunked cross entropy, forward +
backward), attention only (one layer's q,k,v -> out, forward + backward, times the layer
count).

No official figure is built in: a time measured on another day, or under another load,
makes a ratio that says more about the machine than the code (issue 27). Pass the
official seconds with the date they were measured (--official_s, --official_date), best
from the same session, and the table and JSON add them and the ratio, labelled as given.
This VM's speed drifts by up to ~30% between runs, more when other work shares its cores:
compare settings alternating, in one sitting, and report the spread of fresh processes.
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from lumos_jax import layout  # noqa: E402

# The official timing cases (issue 27): seq_len -> (latent frames, height px, width px).
# 339 = 10 + 3 + 3 x 108 + 2 and 5,499 = 10 + 3 + 3 x 1,828 + 2 (tokens_per_frame).
CASES = {339: (3, 64, 96), 5499: (3, 256, 448)}
PROMPT_IDS = 8  # bos + 8 + separator: the 10 text-range tokens before video_start
# 3 latent frames are 9 pixel frames; at 8 fps prepare_job's duration is round(9 / 8) = 1.
FPS, DURATION = 8, 1


def official_case(seq_len: int, vocab: layout.Vocab):
    """seq_len -> (prompt ids [8], codes [3, rows, cols], layout.Sequence of seq_len tokens).

    Ids and codes are seeded random draws: their values do not change the step's cost.
    """
    if seq_len not in CASES:
        raise ValueError(
            f"--lengths: {seq_len} is not an official case; choose from {sorted(CASES)}"
        )
    frames, height, width = CASES[seq_len]
    rng = np.random.default_rng(0)
    text_ids = rng.integers(vocab.first_text_id, vocab.text_size, PROMPT_IDS)
    codes = rng.integers(0, vocab.visual_size, (frames, height // 8, width // 8))
    seq = layout.build_sequence(
        text_ids, codes, fps=FPS, duration=DURATION, height=height, width=width, vocab=vocab
    )
    return text_ids, codes, seq


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", default="339,5499", help=f"comma-separated, from {sorted(CASES)}")
    p.add_argument("--attention", default="auto")
    p.add_argument("--block", type=int, default=512, help="blockwise attention block (q and k)")
    p.add_argument("--loss_chunk", type=int, default=256)  # the tiny preset's
    p.add_argument("--fused", type=int, default=1, help="1: fused loss head, 0: autodiff")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--matmul", type=int, default=2048)
    p.add_argument("--parts", action="store_true", help="also time forward, loss head, attention")
    p.add_argument(
        "--official_s",
        default="",
        help="official step seconds to print a ratio against, L:SECONDS[,L:SECONDS]",
    )
    p.add_argument("--official_date", default="", help="YYYY-MM-DD the official times were taken")
    p.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)  # child: one length
    a = p.parse_args(argv)
    try:
        a.lengths = [int(x) for x in a.lengths.split(",")]
    except ValueError:
        p.error(f"--lengths={a.lengths!r}: expected comma-separated integers, e.g. 339,5499")
    bad = [L for L in a.lengths if L not in CASES]
    if bad:
        p.error(f"--lengths: {bad[0]} is not an official case; choose from {sorted(CASES)}")
    a.official = {}
    for item in filter(None, a.official_s.split(",")):
        L, _, secs = item.partition(":")
        try:
            L, secs = int(L), float(secs)
        except ValueError:
            L, secs = 0, 0.0
        if L not in a.lengths or not 0 < secs < float("inf"):
            p.error(f"--official_s: {item!r} is not L:SECONDS for a length run, e.g. 5499:18.86")
        a.official[L] = secs
    if a.official:
        try:
            datetime.date.fromisoformat(a.official_date)
        except ValueError:
            p.error("--official_s needs --official_date=YYYY-MM-DD, the day it was measured")
    return a


def child(seq_len: int, args) -> dict:
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from lumos_jax import config_lib
    from lumos_jax.model import attention_choice
    from lumos_jax.model.config import ModelConfig
    from lumos_jax.model.decoder import Decoder
    from lumos_jax.model.loss import visual_cross_entropy
    from lumos_jax.train_step import model_flops_per_token

    def best_time(f, *a):
        jax.block_until_ready(f(*a))
        ts = []
        for _ in range(args.reps):
            t = time.perf_counter()
            jax.block_until_ready(f(*a))
            ts.append(time.perf_counter() - t)
        return float(np.median(ts))

    n = args.matmul
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    mm = jax.jit(lambda x: x @ x)
    peak = 2 * n**3 / min(best_time(mm, a) for _ in range(3))

    c = config_lib.experiment("t2v", "0.5b")  # the release vocabulary
    c.model.update(
        embed_dim=256,
        num_layers=4,
        num_heads=4,
        num_kv_heads=4,
        head_dim=64,
        mlp_dim=688,
        dtype="float32",
        param_dtype="float32",
        remat="none",
        attention=args.attention,
        block_q=args.block,
        block_k=args.block,
        max_frame_tokens=0,
    )
    if c.model.attention == "auto":
        c.model.attention = attention_choice.choose(
            ModelConfig.from_dict(c.model.to_dict()), jax.devices()[0].platform, [seq_len]
        )[0]
    cfg = ModelConfig.from_dict(c.model.to_dict())
    vocab = layout.vocab_from_config(c.vocab)
    s = layout.pad_to(official_case(seq_len, vocab)[2], seq_len, vocab)  # pads nothing
    batch = {k: jnp.asarray(v)[None] for k, v in s.items()}
    labels = jnp.where(batch["visual"] == 1, batch["tokens"], -1)

    model = Decoder(cfg, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model)

    def hidden_of(p):
        m = nnx.merge(graphdef, p)
        return m(batch["tokens"], batch["positions"], batch["segments"])[0]

    def loss_of_hidden(h, w):
        return visual_cross_entropy(
            h,
            w,
            labels,
            visual_offset=cfg.visual_offset,
            visual_size=cfg.visual_size,
            chunk=args.loss_chunk,
            fused=bool(args.fused),
        )[0]

    def loss(p):
        return loss_of_hidden(hidden_of(p), nnx.merge(graphdef, p).lm_head[...])

    step = jax.jit(jax.value_and_grad(loss))
    step_s = best_time(step, params)
    # The peak again after the step (this VM's speed drifts): the higher one counts, so
    # the MFU is the conservative one.
    peak = max(peak, 2 * n**3 / min(best_time(mm, a) for _ in range(3)))
    flops = model_flops_per_token(cfg, seq_len) * seq_len
    out = {
        "seq_len": seq_len,
        "attention": c.model.attention,
        "step_s": round(step_s, 3),
        "mfu": round(flops / step_s / peak, 4),
        "model_tflops": round(flops / 1e12, 3),
        "peak_gflops": round(peak / 1e9, 1),
    }
    if args.parts:
        out["forward_s"] = round(best_time(jax.jit(loss), params), 3)
        h = jax.jit(hidden_of)(params)
        w = nnx.merge(graphdef, params).lm_head[...]
        out["loss_head_s"] = round(
            best_time(jax.jit(jax.value_and_grad(loss_of_hidden, argnums=(0, 1))), h, w), 3
        )
        out["attention_s"] = round(cfg.num_layers * attention_part(cfg, batch, args.reps), 3)
    out["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return out


def attention_part(cfg, batch, reps: int) -> float:
    """One layer's attention (q, k, v [1, L, H, D] -> out), forward + backward, seconds."""
    import jax
    import jax.numpy as jnp

    from lumos_jax.model import attention

    L = batch["tokens"].shape[1]
    ks = jax.random.split(jax.random.key(1), 3)
    q, k, v = (jax.random.normal(kk, (1, L, cfg.num_heads, cfg.head_dim)) for kk in ks)
    fn = (
        attention.blockwise_attention if cfg.attention == "blockwise" else attention.dense_attention
    )
    kw = dict(block_q=cfg.block_q, block_k=cfg.block_k) if cfg.attention == "blockwise" else {}

    idx = jnp.arange(L, dtype=jnp.int32)[None]
    seg = batch["segments"]

    def f(q, k, v):
        return jnp.sum(fn(q, k, v, idx, seg, idx, seg, **kw) ** 2)

    g = jax.jit(jax.grad(f, argnums=(0, 1, 2)))
    jax.block_until_ready(g(q, k, v))
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(g(q, k, v))
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def machine() -> str:
    """CPU model and core count, for the record (Linux; else the platform's name)."""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(x.split(":", 1)[1].strip() for x in f if x.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores"


def main():
    args = parse_args()
    if args.one:
        print(json.dumps(child(args.one, args)))
        return
    passed = [
        f"--attention={args.attention}",
        f"--block={args.block}",
        f"--loss_chunk={args.loss_chunk}",
        f"--fused={args.fused}",
        f"--reps={args.reps}",
        f"--matmul={args.matmul}",
    ] + ["--parts"] * args.parts
    rows = []
    for L in args.lengths:
        cmd = [sys.executable, __file__, f"--one={L}", *passed]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"L={L}: the child process failed:\n{r.stderr[-2000:]}")
        row = json.loads(r.stdout.strip().splitlines()[-1])
        if L in args.official:
            # Given on the command line, not measured here: labelled with its date.
            row["official_s"] = args.official[L]
            row["official_date"] = args.official_date
            row["speedup_vs_official"] = round(args.official[L] / row["step_s"], 2)
        rows.append(row)
    today, where = datetime.date.today().isoformat(), machine()
    print(f"{today}, {where}, jax {importlib.metadata.version('jax')}")
    print(
        f"{'L':>6} {'attention':>10} {'step s':>8} {'MFU':>6} {'peak GFLOP/s':>13} {'peak GiB':>9}"
    )
    for r in rows:
        print(
            f"{r['seq_len']:>6} {r['attention']:>10} {r['step_s']:>8.3f} {r['mfu']:>6.1%} "
            f"{r['peak_gflops']:>13.1f} {r['peak_rss_gib']:>9.2f}"
        )
        if "forward_s" in r:
            print(
                f"       forward {r['forward_s']} s, loss head (fwd+bwd) {r['loss_head_s']} s, "
                f"attention (fwd+bwd, all layers) {r['attention_s']} s"
            )
        if "official_s" in r:
            print(
                f"       official {r['official_s']} s (given, measured {r['official_date']}): "
                f"{r['speedup_vs_official']}x (official / ours)"
            )
    print(json.dumps({"date": today, "machine": where, "rows": rows}))


if __name__ == "__main__":
    main()
