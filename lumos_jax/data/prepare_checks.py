# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""What `prepare` checks before it decodes anything, and how a second run into the same
--out keeps the first one's shards in the manifest.

- geometry: --size a multiple of 32 (the sampler's patch grid), --num_frames 1 + k x the
  visual tokenizer's temporal compression (never cut silently), --fps and --target
  positive; each error names the flag and values that would do;
- captions: inputs without one are counted and warned about (refused with --strict);
- manifests: `manifest-SPLIT.json` lists the shards of every run into --out with the same
  tokenizers (videos, then images: both streams); a run with other tokenizers is
  refused before it writes anything.
"""

from __future__ import annotations

import json
import logging
import os

from lumos_jax.data import media

log = logging.getLogger("lumos_jax.prepare")
GRID = 32  # px: the sampler lays frames out in 32-px patches (4 latent rows of 8)


class PrepareError(RuntimeError):
    """A run that cannot go on (e.g. --strict and a bad file, or a foreign shard)."""


def check_settings(opts) -> None:
    """The flags that need no tokenizer: --size, --target, --fps, --clip_stride."""
    if opts.source == "shapes":
        return
    if opts.size is not None:
        w, h = opts.size
        if w < GRID or h < GRID or w % GRID or h % GRID:
            fix = "x".join(str(max(GRID, round(v / GRID) * GRID)) for v in (w, h))
            raise ValueError(
                f"--size={w}x{h}: width and height must be multiples of {GRID} px (the "
                f"sampler's patch grid), e.g. --size={fix}"
            )
    if opts.target < GRID:
        raise ValueError(f"--target={opts.target}: the bucket target must be >= {GRID} px")
    if opts.fps < 1:
        raise ValueError(f"--fps={opts.fps}: expected a positive frame rate")
    if opts.clip_stride < 0:
        raise ValueError(f"--clip_stride={opts.clip_stride}: expected seconds >= 0")


def check_frames(opts, visual_info: dict) -> None:
    """--num_frames against the visual tokenizer: 1 + k * its temporal compression."""
    if opts.source == "shapes":
        return
    tc = int(visual_info.get("temporal_compression") or 4)
    n = opts.num_frames
    if n < 1 or (n - 1) % tc:
        lower = media.valid_frame_count(n, tc)
        options = " or ".join(str(v) for v in (lower, lower + tc) if v >= 1)
        raise ValueError(
            f"--num_frames={n}: the visual tokenizer takes 1 + {tc}k frames (temporal "
            f"compression {tc}); use {options}"
        )


def check_captions(items: list, strict: bool) -> int:
    """Counts inputs without a caption; warns, or refuses them with --strict."""
    empty = [it.name for it in items if not it.caption.strip()]
    if empty:
        shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        what = (
            f"{len(empty)} of {len(items)} inputs have no caption ({shown}): add a same-stem "
            f".txt beside each file or a caption column to the CSV"
        )
        if strict:
            raise PrepareError(f"--strict: {what}")
        log.warning("%s; their records get an empty caption", what)
    return len(empty)


# ------------------------------------------------------------------ manifests


def aside_path(out: str, split: str) -> str:
    return os.path.join(out, ".prepare", f"previous-manifest-{split}.json")


def previous_manifest(out: str, split: str) -> dict | None:
    """The manifest of an earlier complete run into `out` (or the copy set aside by a
    run that did not finish)."""
    for path in (os.path.join(out, f"manifest-{split}.json"), aside_path(out, split)):
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
    return None


def check_same_tokenizers(previous: dict | None, out: str, visual_sha: str, text_sha: str):
    """A second run into --out must use the first one's tokenizers: its records and the
    manifest's single tokenizer.json describe them all."""
    if not previous:
        return
    for what, before, now in (
        ("visual", previous.get("visual_tokenizer", {}).get("params_sha256"), visual_sha),
        ("text", previous.get("text_tokenizer", {}).get("sha256"), text_sha),
    ):
        if before and now and before != now:
            raise PrepareError(
                f"--out={out} holds records of another {what} tokenizer (sha256 "
                f"{before[:16]}, its manifest) than this run's ({now[:16]}); use a new --out"
            )


def set_aside(out: str, split: str) -> None:
    """Moves the manifest out of the way while the run works (it is present only after a
    complete run); `previous_manifest` still finds it if this run dies."""
    path = os.path.join(out, f"manifest-{split}.json")
    if os.path.exists(path):
        os.replace(path, aside_path(out, split))


def kept_stats(out: str, previous: dict | None, planned: set) -> list:
    """Shard stats of an earlier run's shards this run does not write (e.g. its video
    shards when this run adds images), from `.prepare/SHARD.json`."""
    kept = []
    for stream in (previous or {}).get("streams", {}).values():
        for shard in stream.get("shards", []):
            name = shard["file"]
            stats = os.path.join(out, ".prepare", name + ".json")
            if name in planned or not os.path.exists(os.path.join(out, name)):
                continue
            if os.path.exists(stats):
                with open(stats) as f:
                    kept.append(json.load(f))
    return kept
