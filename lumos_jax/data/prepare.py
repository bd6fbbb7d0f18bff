# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Offline tokenisation: raw media (or built-in ShapesMotion) -> sharded token records.

  python -m lumos_jax.data.prepare --videos=DIR_OR_CSV --out=DIR \\
      --config=configs/t2v.py:tiny --tokenizer_ckpt=TOKENIZER_WORKDIR \\
      --text_tokenizer=tokenizer.json [--clip_stride=2] [--split=validation]
  python -m lumos_jax.data.prepare --source=shapes --split=train --num=2048 \\
      --tokenizer_ckpt=TOKENIZER_WORKDIR          # out: ~/.cache/lumos_jax/shapes_tokens

--config=FILE:PRESET takes the clip geometry (size, frames, fps) from the experiment's
sampling settings and the vocabulary from its vocab, so the records fit what that config
trains and samples; flags given as well win (with a warning where they differ).
Inputs: a directory (media files found recursively, caption from a same-stem .txt, else
empty: counted and warned about, refused with --strict) or a CSV of `path,caption`
(paths relative to the CSV); a CSV whose header is `path,caption,start,end` cuts
windows (seconds), and --clip_stride=S cuts every video into windows every S seconds
(lumos_jax.data.clip_windows). --size, --num_frames and --fps are checked against the
sampler (multiples of 32 px) and the visual tokenizer (1 + 4k frames) before any
decoding. Videos are decoded with
PyAV and resampled to --fps, images with pillow (1 frame, fps 1); both are centre-cropped
and resized to their resolution bucket (media.bucket_size) and tokenised in fixed-shape
batches by a jitted visual tokenizer. Videos go to the `video` stream, images to `image`.

Output in --out: `{stream}-{split}-{shard:05d}.array_record` (records.TokenRecord),
the text tokenizer file, and `manifest-{split}.json` (counts, buckets, tokenizers,
failures), written last; a later run into the same --out with the same tokenizers (e.g.
images after videos) keeps the earlier shards in it. Resumable: a shard is written under a `.tmp` name and renamed
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
    p.add_argument(
        "--config",
        default="",
        help="experiment config FILE:PRESET whose geometry and vocab to match, e.g. "
        "configs/t2v.py:tiny",
    )
    p.add_argument("--vocab", default=None, choices=["compact", "release"])
    p.add_argument("--text_tokens", type=int, default=None)
    p.add_argument("--visual_size", type=int, default=None)
    p.add_argument("--fps", type=int, default=None, help=f"default {d.fps}")
    p.add_argument("--num_frames", type=int, default=None, help=f"1 + 4k; default {d.num_frames}")
    p.add_argument(
        "--clip_stride",
        type=float,
        default=0.0,
        help="seconds between the starts of windows cut from each video (0: one clip)",
    )
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
    try:
        size = _size(a.size)
    except ValueError:
        p.error(f"--size={a.size}: expected WIDTHxHEIGHT in pixels, e.g. 64x64")
    given = dict(
        fps=a.fps,
        num_frames=a.num_frames,
        size=size,
        vocab=a.vocab,
        text_tokens=a.text_tokens,
        visual_size=a.visual_size,
    )
    matched = _from_config(p, a.config, given) if a.config else {}
    videos = os.path.expanduser(a.videos or "")
    # Only when there is input: a missing or empty --videos gets its one error line alone.
    has_input = os.path.isfile(videos) or (os.path.isdir(videos) and any(os.scandir(videos)))
    if not a.config and source == "files" and has_input:
        log.warning(
            "no --config: clips at %s fps, %s frames, buckets for --target=%d; pass "
            "--config=configs/t2v.py:PRESET to match what you will train and sample",
            a.fps or d.fps,
            a.num_frames or d.num_frames,
            a.target,
        )
    fields = {f.name for f in dataclasses.fields(Options)}
    kw = {k: v for k, v in vars(a).items() if k in fields and k not in given and v is not None}
    kw.update(matched)
    kw.update({k: v for k, v in given.items() if v is not None})  # flags win
    kw.update(
        source=source,
        out=os.path.expanduser(out),
        streams=tuple(s for s in a.streams.split(",") if s),
    )
    return Options(**kw)


def _from_config(p, spec: str, given: dict) -> dict:
    """Prepare settings matching experiment config `spec`: its sampling geometry (size,
    frames and fps of videos) and its vocabulary. Flags given as well win, with a
    warning where they differ."""
    try:
        c = cli.load_config_file(spec)
    except cli.UsageError as e:
        p.error(str(e))
    s = c.sampling
    out = dict(
        config=spec,
        size=(int(s.width), int(s.height)),
        vocab=c.vocab.kind,
        text_tokens=int(c.vocab.text_tokens),
        visual_size=int(c.vocab.visual_size),
    )
    if s.frames > 1:  # a t2i config says nothing about videos
        out.update(num_frames=int(s.frames), fps=int(s.fps))
    for key, value in given.items():
        if value is not None and key in out and value != out[key]:
            log.warning("--%s=%s differs from --config=%s (%s)", key, value, spec, out[key])
    return out


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
