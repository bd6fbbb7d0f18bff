# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The ceiling a visual tokenizer puts on generation: the exact detector on its
reconstructions of ShapesMotion validation and hold-out clips (every frame).

  python benchmarks/tokenizer_upper_bound.py --tokenizer_ckpt=assets/shapes_codebook
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from lumos_jax.eval_lib import reconstruction_upper_bound  # noqa: E402
from lumos_jax.tokenizer import checkpoint_io  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokenizer_ckpt", default="assets/shapes_codebook")
    p.add_argument(
        "--preset",
        default="",
        help="tokenizer preset; default: the architecture the trainer recorded",
    )
    p.add_argument("--num", type=int, default=24)
    a = p.parse_args()
    tok = checkpoint_io.load_visual_tokenizer(a.tokenizer_ckpt, a.preset or None)[0]
    r = reconstruction_upper_bound(tok, num=a.num)
    print(
        f"{a.tokenizer_ckpt}: PSNR {r['psnr_db']:.2f} dB, {r['exact']:.1%} of "
        f"{r['frames_checked']} frames exact, detector exact on {r['detector_exact']:.1%}"
    )
    print(json.dumps(r))


if __name__ == "__main__":
    main()
