# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""A fitted visual tokenizer: a space-time patch codebook (vector quantisation of tubes).

Same compression and interface as the Cosmos DV4x8x8 FSQ tokenizer (reference section 6):
causal in time, latent frame 0 codes pixel frame 0 alone and latent frame k >= 1 codes
pixel frames 4k-3 .. 4k; every latent position codes one 4x8x8x3 tube. Latent frame 0's
tube is frame 0 repeated 4 times (the Cosmos patcher's convention), so one codebook serves
both kinds of latent frame.

  fit     the distinct tubes of a set of clips when there are at most `size` of them
          (exact on those clips), else seeded k-means (Lloyd iterations, jitted)
  encode  the nearest entry (squared distance from one [N, D] x [D, K] matmul)
  decode  a lookup (latent frame 0: the mean of its tube over time)

Why not a trained tokenizer for the built-in world: its tokens are 11 solid colours, which
a fit captures exactly in seconds, while the FSQ tokenizer did not reach exactness in the
CPU budget (assets/README.md). It is also a k-means VQ baseline for any video.

On disk: DIR/codebook.safetensors (`entries`, float32 [K, 4*8*8*3] in [-1, 1]) and
DIR/tokenizer_config.json with `"kind": "codebook"`, read by tokenizer/checkpoint_io.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import safetensors.numpy
from flax import nnx

from lumos_jax import pixels
from lumos_jax.tokenizer import config as tokenizer_config

KIND = "codebook"
WEIGHTS_FILE = "codebook.safetensors"


@dataclasses.dataclass(frozen=True)
class CodebookConfig:
    """What the loaders read off a visual tokenizer's `cfg` (as TokenizerConfig has it)."""

    codebook_size: int
    temporal_compression: int = 4
    spatial_compression: int = 8
    in_channels: int = 3
    kind: str = KIND

    @property
    def tube_dim(self) -> int:
        return self.temporal_compression * self.spatial_compression**2 * self.in_channels

    def latent_frames(self, num_frames: int) -> int:
        return tokenizer_config.latent_frames(num_frames, self.temporal_compression)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ------------------------------------------------------------------ tubes


def to_tubes(video, t: int = 4, p: int = 8):
    """[B, F, H, W, C] -> [B, T', H/p, W/p, t*p*p*C] (numpy or jax): frame 0 is repeated
    t times to make latent frame 0's tube; F must be 1 + k*t, H and W multiples of p."""
    xp = jnp if isinstance(video, jax.Array) else np
    b, f, h, w, c = video.shape
    if (f - 1) % t or h % p or w % p:
        raise ValueError(f"video [B, F, H, W, C]={video.shape}: need F = 1 + {t}k, H, W % {p} == 0")
    video = xp.concatenate([xp.repeat(video[:, :1], t - 1, axis=1), video], axis=1)
    n = (f - 1) // t + 1
    x = video.reshape(b, n, t, h // p, p, w // p, p, c)
    return x.transpose(0, 1, 3, 5, 2, 4, 6, 7).reshape(b, n, h // p, w // p, t * p * p * c)


def from_tubes(tubes, t: int = 4, p: int = 8):
    """Inverse of to_tubes: [B, T', h, w, t*p*p*C] -> [B, 1 + t(T'-1), h*p, w*p, C]; latent
    frame 0 becomes the mean of its tube over time (its single frame when it is still)."""
    xp = jnp if isinstance(tubes, jax.Array) else np
    b, n, h, w, d = tubes.shape
    c = d // (t * p * p)
    x = tubes.reshape(b, n, h, w, t, p, p, c).transpose(0, 1, 4, 2, 5, 3, 6, 7)
    x = x.reshape(b, n, t, h * p, w * p, c)
    first = x[:, :1].mean(axis=2)
    return xp.concatenate([first, x[:, 1:].reshape(b, (n - 1) * t, h * p, w * p, c)], axis=1)


# ------------------------------------------------------------------ the model


class PatchCodebook(nnx.Module):
    """encode(video [B, F, H, W, 3] in [-1, 1]) -> int32 codes [B, T', H/8, W/8];
    decode(codes) -> video in [-1, 1]. `entries`: float32 [K, tube_dim]."""

    def __init__(self, entries, cfg: CodebookConfig | None = None):
        entries = jnp.asarray(entries, jnp.float32)
        self.cfg = cfg or CodebookConfig(codebook_size=int(entries.shape[0]))
        if entries.shape != (self.cfg.codebook_size, self.cfg.tube_dim):
            raise ValueError(f"codebook entries {entries.shape} do not match {self.cfg}")
        self.entries = nnx.Param(entries)

    def encode(self, video):
        c = self.cfg
        tubes = to_tubes(
            jnp.asarray(video, jnp.float32), c.temporal_compression, c.spatial_compression
        )
        return nearest(tubes, self.entries[...])

    def decode(self, codes):
        c = self.cfg
        tubes = jnp.take(self.entries[...], jnp.asarray(codes), axis=0)
        return from_tubes(tubes, c.temporal_compression, c.spatial_compression)


def nearest(x, entries):
    """int32 index of the nearest entry [K, D] for each row of x [..., D]: argmin of
    |e|^2 - 2 x.e (|x|^2 is the same for every entry), one matmul."""
    scores = jnp.einsum("...d,kd->...k", x, entries, precision=jax.lax.Precision.HIGHEST)
    return jnp.argmin(jnp.sum(entries * entries, -1) - 2 * scores, axis=-1).astype(jnp.int32)


# ------------------------------------------------------------------ fitting


@jax.jit
def _lloyd_step(centres, data):
    """One k-means (Lloyd) iteration; an empty cluster keeps its centre."""
    assign = nearest(data, centres)
    k = centres.shape[0]
    sums = jax.ops.segment_sum(data, assign, num_segments=k)
    counts = jax.ops.segment_sum(jnp.ones(len(data), data.dtype), assign, num_segments=k)
    return jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1)[:, None], centres)


def fit(clips, size: int, *, seed: int = 0, iterations: int = 10, max_samples: int = 200_000):
    """Codebook entries float32 [K, D] in [-1, 1] from uint8 clips [N, F, H, W, 3].

    At most `size` distinct tubes: those tubes, in byte order (K = their number; the fit
    is exact on these clips). More: K = size entries by seeded k-means on up to
    `max_samples` tubes drawn with `seed` (init = distinct tubes drawn with the same
    generator), `iterations` Lloyd steps. Deterministic for a given seed."""
    clips = np.asarray(clips)
    if clips.dtype != np.uint8 or clips.ndim != 5:
        raise ValueError(
            f"fit expects uint8 clips [N, F, H, W, 3], got {clips.dtype} {clips.shape}"
        )
    tubes = np.ascontiguousarray(to_tubes(clips).reshape(-1, 4 * 8 * 8 * clips.shape[-1]))
    # Rows as opaque byte strings: np.unique on them is ~20x faster than with axis=0.
    rows = tubes.view(np.dtype((np.void, tubes.shape[1])))[:, 0]
    distinct = np.unique(rows).view(np.uint8).reshape(-1, tubes.shape[1])
    if len(distinct) <= size:
        return pixels.to_model_range(distinct)
    rng = np.random.default_rng(seed)
    if len(tubes) > max_samples:
        tubes = tubes[rng.choice(len(tubes), max_samples, replace=False)]
    centres = pixels.to_model_range(distinct[rng.choice(len(distinct), size, replace=False)])
    data = jnp.asarray(pixels.to_model_range(tubes))
    centres = jnp.asarray(centres)
    for _ in range(iterations):
        centres = _lloyd_step(centres, data)
    return np.asarray(centres)


# ------------------------------------------------------------------ files


def save(out_dir: str, entries, fit_info: dict | None = None) -> str:
    """Writes DIR/codebook.safetensors and DIR/tokenizer_config.json (each by atomic
    rename; the config last, so a directory with a config holds complete weights)."""
    entries = np.asarray(entries, np.float32)
    os.makedirs(out_dir, exist_ok=True)
    weights = os.path.join(out_dir, WEIGHTS_FILE)
    safetensors.numpy.save_file({"entries": entries}, weights + ".tmp")
    os.replace(weights + ".tmp", weights)
    cfg = CodebookConfig(codebook_size=len(entries))
    record = dict(cfg.to_dict(), fit=fit_info or {})
    path = os.path.join(out_dir, "tokenizer_config.json")
    with open(path + ".tmp", "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)
    return out_dir


def is_codebook_dir(path: str) -> bool:
    """Whether `path` is a directory holding a saved codebook."""
    return os.path.isfile(os.path.join(path, WEIGHTS_FILE))


def load(path: str) -> tuple[PatchCodebook, np.ndarray]:
    """(PatchCodebook, entries) from a directory written by `save`; errors name the file."""
    config_file = os.path.join(path, "tokenizer_config.json")
    try:
        with open(config_file) as f:
            record = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{config_file}: missing or not JSON ({e}); refit the codebook") from e
    if record.get("kind") != KIND:
        raise ValueError(f"{config_file}: kind {record.get('kind')!r}, expected {KIND!r}")
    weights = os.path.join(path, WEIGHTS_FILE)
    try:
        entries = safetensors.numpy.load_file(weights)["entries"]
    except Exception as e:  # truncated or foreign file
        raise ValueError(f"{weights}: not a codebook ({type(e).__name__}: {e})") from e
    fields = {
        k: record[k]
        for k in ("codebook_size", "temporal_compression", "spatial_compression", "in_channels")
    }
    cfg = CodebookConfig(**fields)
    return PatchCodebook(entries, cfg), entries
