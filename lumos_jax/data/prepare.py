# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Offline tokenisation: raw media (or built-in ShapesMotion) -> sharded token records.

  python -m lumos_jax.data.prepare --videos=DIR_OR_CSV --out=DIR \\
      --tokenizer_ckpt=TOKENIZER_WORKDIR --text_tokenizer=tokenizer.json
  python -m lumos_jax.data.prepare --source=shapes --split=train --num=2048 \\
      --tokenizer_ckpt=TOKENIZER_WORKDIR          # out: ~/.cache/lumos_jax/shapes_tokens

Inputs: a directory (media files found recursively, caption from a same-stem .txt, else
empty) or a CSV of `path,caption` (paths relative to the CSV). Videos are decoded with
PyAV and resampled to --fps, images with pillow (1 frame, fps 1); both are centre-cropped
and resized to their resolution bucket (media.bucket_size) and tokenised in fixed-shape
batches by a jitted visual tokenizer. Videos go to the `video` stream, images to `image`.

Output in --out: `{stream}-{split}-{shard:05d}.array_record` (records.TokenRecord),
the text tokenizer file, and `manifest-{split}.json` (counts, buckets, tokenizers,
failures), written last. Resumable: a shard is written under a `.tmp` name and renamed
when complete (with its stats in `.prepare/`), so a re-run skips finished shards and
redoes half-written ones. A file that fails to decode is logged and counted; --strict
stops at the first one instead. The job itself is lumos_jax.data.prepare_job.run.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

from lumos_jax import cli
from lumos_jax.data.prepare_job import Options, PrepareError, log, run

# ------------------------------------------------------------------ command line


def _size(s: str) -> tuple | None:
    if not s:
        return None
    w, _, h = s.lower().partition("x")
    return int(w), int(h)


def parse_args(argv=None) -> Options:
    p = argparse.ArgumentParser(
        prog="python -m lumos_jax.data.prepare", description=__doc__.split("\n\n")[0]
    )
    d = Options(out="", tokenizer_ckpt="")
    p.add_argument("--videos", default="", help="media directory or CSV (path,caption)")
    p.add_argument("--source", default="", choices=["", "files", "shapes"])
    p.add_argument(
        "--out", default="", help="output dir (shapes: ~/.cache/lumos_jax/shapes_tokens)"
    )
    p.add_argument(
        "--tokenizer_ckpt",
        required=True,
        help="visual tokenizer training workdir, checkpoints dir or step dir",
    )
    p.add_argument(
        "--tokenizer_config",
        default=d.tokenizer_config,
        help="visual tokenizer preset (tiny, small, dv4x8x8) or a config .json; "
        "default: the tokenizer_config.json the trainer wrote in its workdir",
    )
    p.add_argument("--text_tokenizer", default="", help="tokenizer.json or .model")
    p.add_argument("--split", default=d.split)
    p.add_argument("--num", type=int, default=d.num, help="shapes: records per stream")
    p.add_argument("--streams", default="video,image", help="shapes: streams to write")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--vocab", default=d.vocab, choices=["compact", "release"])
    p.add_argument("--text_tokens", type=int, default=d.text_tokens)
    p.add_argument("--visual_size", type=int, default=d.visual_size)
    p.add_argument("--fps", type=int, default=d.fps)
    p.add_argument("--num_frames", type=int, default=d.num_frames, help="1 + 4k")
    p.add_argument(
        "--min_frames",
        type=int,
        default=d.min_frames,
        help="shorter videos are reported and skipped",
    )
    p.add_argument("--target", type=int, default=d.target, help="bucket target (px)")
    p.add_argument("--size", default="", help="fixed WxH instead of buckets")
    for name in ("batch_size", "shard_size", "decode_threads"):
        p.add_argument(f"--{name}", type=int, default=getattr(d, name))
    for name in ("strict", "overwrite", "fast_compile"):
        p.add_argument(f"--{name}", action="store_true")
    p.add_argument(
        "-v", "--verbosity", type=int, default=0, help="1: show the traceback of an error"
    )
    a = p.parse_args(argv)
    source = a.source or ("shapes" if not a.videos else "files")
    if source == "files" and not a.videos:
        p.error("--videos=DIR_OR_CSV is required unless --source=shapes")
    out = a.out or ("~/.cache/lumos_jax/shapes_tokens" if source == "shapes" else "")
    if not out:
        p.error("--out is required")
    kw = {k: v for k, v in vars(a).items() if k in {f.name for f in dataclasses.fields(Options)}}
    kw.update(
        source=source,
        out=os.path.expanduser(out),
        size=_size(a.size),
        streams=tuple(s for s in a.streams.split(",") if s),
    )
    return Options(**kw)


def main(argv=None) -> int:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log.addHandler(handler)  # own handler: absl may own the root logger's level
    log.setLevel(logging.INFO)
    log.propagate = False
    opts = parse_args(argv)
    verbose = cli.verbosity_in(sys.argv[1:] if argv is None else argv) >= 1
    try:
        with cli.errors_as_one_line(
            "lumos_jax.data.prepare", verbose=verbose, catch=(ValueError, OSError, PrepareError)
        ):
            manifest = run(opts)
    except SystemExit as e:  # the one-line error is printed; tests call main directly
        return e.code
    c = manifest["counts"]
    print(
        f"wrote {c['records']} records from {c['inputs']} inputs ({c['failed']} failed) "
        f"to {opts.out}; buckets {manifest['buckets']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
