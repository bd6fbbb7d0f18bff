# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Fits a patch-codebook visual tokenizer (lumos_jax.tokenizer.codebook) to clips.

  python -m lumos_jax.tokenizer.fit --out=assets/shapes_codebook      # the shipped one
  python -m lumos_jax.tokenizer.fit --source=npy:clips.npy --height=256 --width=256 \\
      --frames=17 --codes=1024 --out=DIR                            # a k-means VQ of video

--source is a clip source of lumos_jax.tokenizer.clips ('module:function', 'npy:PATH',
'synthetic'); the default draws train-split ShapesMotion scenes, never the evaluator's.
Prints what was fitted and how well it reconstructs the clips (exact share, PSNR).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from absl import flags

from lumos_jax import cli, pixels
from lumos_jax.tokenizer import clips as clip_sources
from lumos_jax.tokenizer import codebook


def reconstruction(entries, clips) -> dict:
    """Exact-frame share and PSNR (dB) of clips coded and decoded by `entries`."""
    model = codebook.PatchCodebook(entries)
    x = pixels.to_model_range(clips)
    rec = pixels.to_uint8(np.asarray(model.decode(model.encode(x))))
    mse = float(np.mean((rec.astype(np.float64) - clips) ** 2))
    exact = float(np.mean(np.all(rec == clips, axis=(2, 3, 4))))
    return {"exact_frames": exact, "psnr_db": round(float(pixels.psnr_db(mse)), 2)}


def main(argv):
    del argv
    F = flags.FLAGS
    t0 = time.time()
    fn = clip_sources.get_source(F.source)
    clips = clip_sources.load_clips(fn, F.num_clips, F.frames, F.height, F.width, F.seed)
    entries = codebook.fit(clips, F.codes, seed=F.seed, iterations=F.iterations)
    info = dict(
        source=F.source,
        num_clips=F.num_clips,
        frames=F.frames,
        height=F.height,
        width=F.width,
        max_codes=F.codes,
        seed=F.seed,
        iterations=F.iterations,
        codes=len(entries),
        kmeans=len(entries) == F.codes,
    )
    info.update(reconstruction(entries, clips[: F.check_clips]))
    codebook.save(os.path.expanduser(F.out), entries, info)
    print(json.dumps(dict(info, out=F.out, seconds=round(time.time() - t0, 1))))


def _define_flags():
    flags.DEFINE_string("out", None, "Directory to write the codebook to.", required=True)
    flags.DEFINE_string(
        "source", "lumos_jax.data.shapes:tokenizer_clips", "Clip source (tokenizer/clips.py)."
    )
    flags.DEFINE_integer("num_clips", 256, "Clips to fit on.")
    flags.DEFINE_integer("frames", 9, "Pixel frames per clip (1 + 4k).")
    flags.DEFINE_integer("height", 96, "Pixel height (a multiple of 8).")
    flags.DEFINE_integer("width", 96, "Pixel width (a multiple of 8).")
    flags.DEFINE_integer("codes", 64, "Most entries; k-means when the clips have more tubes.")
    flags.DEFINE_integer("seed", 0, "Clip source and k-means seed.")
    flags.DEFINE_integer("iterations", 10, "k-means (Lloyd) iterations.")
    flags.DEFINE_integer("check_clips", 64, "Clips the printed reconstruction figures use.")


if __name__ == "__main__":
    cli.run(main, _define_flags)
