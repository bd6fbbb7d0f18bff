# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Per-device attention work of context parallelism, contiguous split vs load-balanced.

  python benchmarks/context_balance.py                     # 3.6b at 384p, 1x..8x frames
  python benchmarks/context_balance.py --frames=7 --contexts=2,4,8 --block=512

One 384p sample laid out as the trainer sees it (caption, 672x384 frames of 4,084 tokens,
right padding to the bucket) is split over c devices two ways: contiguous (device d holds
tokens [d S/c, (d+1) S/c)) and balanced (context_parallel's layout: chunks d and 2c-1-d
of 2c). Work per device, 3.6b heads (24 x 128), one layer's forward (QK^T and PV,
4 H D FLOPs per query-key pair): 'mask' counts the (query, key) pairs the frame-causal
mask allows, 'blockwise' the pairs in the blocks the blockwise path visits (its skipping
rule, --block). Reported as TFLOP per device (max and min) and max / mean, the bar being
<= 1.2. Numpy only; seconds.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from lumos_jax import layout  # noqa: E402
from lumos_jax.model import context_parallel as cp  # noqa: E402

P = argparse.ArgumentParser(description=__doc__.splitlines()[0])
P.add_argument("--frames", default="7,14,28,56", help="latent frames (paper: 7)")
P.add_argument("--contexts", default="2,4,8")
P.add_argument("--block", type=int, default=512, help="blockwise block size")
P.add_argument("--heads", type=int, default=24)
P.add_argument("--head_dim", type=int, default=128)
ROWS, COLS = 48, 84  # 384 x 672 px through the 8x8 tokenizer


def seq_len(frames: int) -> int:
    """Bucket length of a 384p clip of `frames` latent frames (29,184 for the paper's 7)."""
    per_frame = layout.tokens_per_frame(ROWS, COLS)
    return -(-(frames * per_frame + 256) // 512) * 512


def segments(frames: int) -> np.ndarray:
    """Segment ids of one 384p sample: a caption, the frames, the closing tokens, padding."""
    vocab = layout.release_vocab()
    text = np.full(80, vocab.first_text_id, np.int32)
    codes = np.zeros((frames, ROWS, COLS), np.int32)
    seq = layout.build_sequence(
        text, codes, fps=12, duration=2, height=ROWS * 8, width=COLS * 8, vocab=vocab
    )
    return layout.pad_to(seq, seq_len(frames), vocab)["segments"]


def main():
    args = P.parse_args()
    flops_per_pair = 4 * args.heads * args.head_dim
    summary = {}
    print(
        "| frames | tokens | c | measure | contiguous TFLOP/device max / min | max/mean | "
        "balanced max / min | max/mean |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for frames in map(int, args.frames.split(",")):
        seg = segments(frames)
        for c in map(int, args.contexts.split(",")):
            for name, fn in (
                ("mask", lambda b: cp.device_work(seg, c, b)),
                ("blockwise", lambda b: cp.blockwise_work(seg, c, b, args.block)),
            ):
                before, after = fn(False) * flops_per_pair / 1e12, fn(True) * flops_per_pair / 1e12
                ratio = lambda w: w.max() / w.mean()  # noqa: E731
                print(
                    f"| {frames} | {len(seg):,} | {c} | {name} | {before.max():.3f} / "
                    f"{before.min():.3f} | {ratio(before):.2f} | {after.max():.3f} / "
                    f"{after.min():.3f} | {ratio(after):.3f} |",
                    flush=True,
                )
                key = f"f{frames}_c{c}_{name}"
                summary[f"{key}_contiguous_max_over_mean"] = round(float(ratio(before)), 3)
                summary[f"{key}_balanced_max_over_mean"] = round(float(ratio(after)), 3)
    summary["worst_balanced_max_over_mean"] = max(
        v for k, v in summary.items() if k.endswith("balanced_max_over_mean")
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
