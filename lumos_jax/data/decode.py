# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Decode token records back to videos: what the visual tokenizer kept of your clips.

  python -m lumos_jax.data.decode \\
      --records='array_record:runs/my_tokens/video-validation-*.array_record' \\
      --out=runs/my_look [--num=4] [--tokenizer_ckpt=DIR]

Writes OUT/RECORD.mp4 and .gif (a one-frame record: .png) per record, decoded by the
visual tokenizer the records' prepare manifest names (another one, given with
--tokenizer_ckpt, is refused: its codes mean other pixels), and OUT/index.json (record
id, caption, file, size). Upscaled to >= 128 px high so small clips can be seen.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

import numpy as np

from lumos_jax import cli, video_io
from lumos_jax.data import provenance, sources
from lumos_jax.tokenizer import checkpoint_io


def _tokenizer(spec: str, given: str):
    """(model, checkpoint) of the records' visual tokenizer; --tokenizer_ckpt must be it."""
    recorded = provenance.source_tokenizers(spec, "--records")
    ckpt = given or (recorded.get("visual_tokenizer") or {}).get("checkpoint", "")
    if not ckpt:
        raise ValueError(
            f"--records={spec}: no prepare manifest beside them names a visual tokenizer; "
            f"pass --tokenizer_ckpt=DIR"
        )
    model, info = checkpoint_io.load_visual_tokenizer(ckpt)
    provenance.check_same(
        recorded, f"--records={spec}", {"visual_tokenizer": info}, f"--tokenizer_ckpt={ckpt}"
    )
    return model, ckpt


def _write(out: str, name: str, video: np.ndarray, fps: int) -> str:
    """video float [F, H, W, 3] in [-1, 1] -> mp4 + gif (png for one frame); the file."""
    frames = video_io.to_uint8(video[None])[0]
    scale = max(1, -(-128 // frames.shape[1]))
    frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    stem = os.path.join(out, re.sub(r"[^\w.@-]+", "_", name))
    if len(frames) == 1:
        return video_io.write_png(stem + ".png", frames[0])
    video_io.write_gif(stem + ".gif", frames, fps)
    return video_io.write_mp4(stem + ".mp4", frames, fps)


def decode(spec: str, out: str, num: int, tokenizer_ckpt: str = "") -> list[dict]:
    """Decodes the first `num` records of `spec` into `out`; returns the index rows."""
    source = sources.open_sources(spec)
    model, ckpt = _tokenizer(spec, tokenizer_ckpt)
    os.makedirs(out, exist_ok=True)
    rows = []
    for i in range(min(num, len(source))):
        record = source.read(i)
        video = checkpoint_io.run_tokenizer(model, "decode", record.codes[None])[0]
        path = _write(out, record.record_id, video, record.fps)
        rows.append(
            dict(
                record=record.record_id,
                caption=record.caption,
                file=path,
                size=f"{record.width}x{record.height}",
                frames=int(video.shape[0]),
            )
        )
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(dict(records=spec, tokenizer_ckpt=ckpt, decoded=rows), f, indent=1)
    return rows


def main(argv=None) -> int:
    cli.process_defaults()
    p = argparse.ArgumentParser(
        prog="python -m lumos_jax.data.decode", description=__doc__.splitlines()[0]
    )
    p.add_argument("--records", required=True, help="array_record:GLOB (prepare's shards)")
    p.add_argument("--out", required=True, help="directory for the videos")
    p.add_argument("--num", type=int, default=8, help="records to decode (the first ones)")
    p.add_argument("--tokenizer_ckpt", default="", help="default: the manifest's tokenizer")
    p.add_argument(
        "-v", "--verbosity", type=int, default=0, help="1: show the traceback of an error"
    )
    a = p.parse_args(argv)
    with cli.errors_as_one_line("lumos_jax.data.decode", verbose=a.verbosity >= 1):
        rows = decode(a.records, a.out, a.num, a.tokenizer_ckpt)
    print(f"wrote {len(rows)} decoded records to {a.out} (index.json lists them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
