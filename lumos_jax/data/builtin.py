# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The tiny presets' built-in data: ShapesMotion token records made with the visual
tokenizer shipped in assets/shapes_codebook (a fitted patch codebook), built on first use.

The tiny configs name them with `builtin:` values, resolved by `resolve` when a run
starts (train: the data keys; sample and evaluate: the tokenizer keys):

  builtin:video-train, builtin:image-train, builtin:video-validation, ...
        -> array_record:CACHE/FINGERPRINT/{stream}-{split}-*.array_record
  builtin:text_tokenizer    -> CACHE/FINGERPRINT/tokenizer.json (the ShapesMotion BPE)
  builtin:visual_tokenizer  -> assets/shapes_codebook

CACHE is ~/.cache/lumos_jax/shapes_tokens and FINGERPRINT the first 16 hex digits of
the visual tokenizer's parameter sha256 (the one prepare's manifests record), so
records made with another tokenizer are never reused, then 8 of a hash of the recipe
(split sizes and the generator's source), so a changed ShapesMotion is remade too.
The first run writes them with
`lumos_jax.data.prepare` into FINGERPRINT.partial (resumable shard by shard) and renames
it when both splits are complete: a killed first run never leaves a half dataset
under the final name. A lock file lets concurrent first runs build it once.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import shlex
import subprocess
import sys
import time

from lumos_jax import checkout
from lumos_jax.data import prepare_inputs, shapes
from lumos_jax.tokenizer import checkpoint_io

PREFIX = "builtin:"
ASSETS = checkout.ASSETS
SHIPPED_TOKENIZER = os.path.join(ASSETS, "shapes_codebook")
CACHE_ROOT = "~/.cache/lumos_jax/shapes_tokens"
# Records per split and stream (video clips, and as many images): the demo's
# from-scratch amount; the tiny preset's 3000 steps x 16 see each clip ~12 times.
SPLITS = {"train": 4096, "validation": 256}
PREPARE_OPTIONS = {}  # more prepare flags for the build, e.g. batch_size=4 (tests: faster)
DATA_KEYS = ("data.streams.*.sources", "eval_sources")
TOKENIZER_KEYS = ("sampling.text_tokenizer", "sampling.tokenizer_ckpt")

log = logging.getLogger("lumos_jax.builtin")


@functools.lru_cache(maxsize=4)
def tokenizer_fingerprint(tokenizer_ckpt: str) -> str:
    """sha256 of a visual tokenizer's params, as prepare's manifests record it (loaded
    once per process)."""
    return checkpoint_io.load_visual_tokenizer(tokenizer_ckpt)[1]["params_sha256"]


def records_tokenizer(data_dir: str, split: str) -> dict | None:
    """The visual tokenizer a prepare run into `data_dir` recorded for `split` (its
    manifest, written last), or None when that split is not complete."""
    path = os.path.join(data_dir, f"manifest-{split}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f).get("visual_tokenizer", {})


def _complete(data_dir: str, sha: str, splits) -> bool:
    """False when `data_dir` does not exist; True when every split's manifest names this
    tokenizer; anything else (only ever made by hand) is an error, not a rebuild."""
    if not os.path.isdir(data_dir):
        return False
    made_by = [records_tokenizer(data_dir, s) for s in splits]
    if any(m is None or m.get("params_sha256") != sha for m in made_by):
        raise ValueError(
            f"{data_dir} holds no complete built-in records of the visual "
            f"tokenizer {sha[:16]} (a manifest is missing or names another "
            f"tokenizer); delete that directory to rebuild it"
        )
    return True


def recipe_hash(splits: dict) -> str:
    """What else decides the records: split sizes and the ShapesMotion generator with its
    prepare settings (their source text: any change there makes new records)."""
    h = hashlib.sha256(json.dumps(sorted(splits.items())).encode())
    for module in (shapes, prepare_inputs):
        with open(module.__file__, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


@contextlib.contextmanager
def _locked(path: str):
    with open(path, "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process building %s", path[: -len(".lock")])
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


def ensure(tokenizer_ckpt: str | None = None, root: str | None = None) -> str:
    """The built-in records directory of a visual tokenizer (default: the shipped one)
    under `root` (default CACHE_ROOT), made first if missing."""
    tokenizer_ckpt = tokenizer_ckpt or SHIPPED_TOKENIZER
    splits = dict(SPLITS)
    if not os.path.isdir(tokenizer_ckpt):
        raise FileNotFoundError(
            f"the tiny presets' built-in data is tokenised with the visual tokenizer "
            f"{tokenizer_ckpt}, which is missing: restore assets/ from the repository, or "
            f"pass your own records (--config.data.streams.video.sources=array_record:"
            f"GLOB, --config.eval_sources=...)"
        )
    sha = tokenizer_fingerprint(tokenizer_ckpt)
    root = os.path.abspath(os.path.expanduser(root or CACHE_ROOT))
    final = os.path.join(root, f"{sha[:16]}-{recipe_hash(splits)[:8]}")
    if _complete(final, sha, splits):
        return final
    os.makedirs(root, exist_ok=True)
    with _locked(final + ".lock"):
        if _complete(final, sha, splits):  # another process finished it meanwhile
            return final
        _build(final + ".partial", tokenizer_ckpt, sha, splits)
        os.rename(final + ".partial", final)
    log.info("built-in records ready in %s", final)
    return final


def _build(out: str, tokenizer_ckpt: str, sha: str, splits: dict) -> None:
    n = sum(splits.values())
    log.info(
        "first use of the tiny presets' built-in data: tokenising %d ShapesMotion "
        "clips and %d images (%s) with %s (%s) into %s; a few minutes on a CPU, "
        "once",
        n,
        n,
        ", ".join(f"{k} {v}" for k, v in splits.items()),
        tokenizer_ckpt,
        sha[:16],
        out,
    )
    t0 = time.monotonic()
    for split, num in splits.items():
        prepare_split(out, tokenizer_ckpt, split, num)
    log.info("tokenised in %.0f s", time.monotonic() - t0)


def prepare_split(out: str, tokenizer_ckpt: str, split: str, num: int) -> None:
    """`python -m lumos_jax.data.prepare` for one split, in a child process: JAX there
    is single-process (the tokenizer restore of a multi-process run would wait at a
    barrier for peers that wait on the lock), and its progress lines reach this console.
    --overwrite: shards a killed earlier build left with other settings are redone,
    complete ones with the same settings are kept (prepare resumes shard by shard)."""
    argv = [
        sys.executable,
        "-m",
        "lumos_jax.data.prepare",
        "--source=shapes",
        f"--split={split}",
        f"--num={num}",
        f"--out={out}",
        f"--tokenizer_ckpt={tokenizer_ckpt}",
        "--overwrite",
    ]
    argv += [f"--{k}" if v is True else f"--{k}={v}" for k, v in PREPARE_OPTIONS.items()]
    code = subprocess.run(argv, check=False).returncode
    if code:
        raise ChildProcessError(
            f"making the built-in records failed ({split} split, exit "
            f"code {code}; the lines above say why): {shlex.join(argv)}"
        )


def config_keys(config, patterns) -> list[str]:
    """Dotted config keys of `patterns` that are set: 'data.streams.*.sources' -> that of
    every stream whose weight is > 0 (inactive streams are never opened, so never built;
    an active stream's empty sources is kept for the pipeline to refuse)."""
    out = []
    for pattern in patterns:
        if pattern == "data.streams.*.sources":
            out += [
                f"data.streams.{n}.sources"
                for n in sorted(config.data.streams.keys())
                if config.data.streams[n].weight > 0
            ]
        elif pattern.split(".", 1)[0] in config and get_key(config, pattern):
            out.append(pattern)
    return out


def get_key(config, key):
    for part in key.split("."):
        config = config[part]
    return config


def _set(config, key, value):
    *parents, last = key.split(".")
    for part in parents:
        config = config[part]
    config[last] = value


def resolve(
    config, patterns=DATA_KEYS, *, tokenizer_ckpt: str | None = None, root: str | None = None
) -> dict:
    """Replaces the `builtin:` values among the config keys `patterns` by what they name,
    building the records on first use (see `ensure` for the defaults). Returns
    {key: resolved value} of those changed."""
    tokenizer_ckpt = tokenizer_ckpt or SHIPPED_TOKENIZER
    changed = {}
    for key in config_keys(config, patterns):
        value = get_key(config, key)
        if not isinstance(value, str) or not value.startswith(PREFIX):
            continue
        name = value[len(PREFIX) :]
        if name == "visual_tokenizer":
            changed[key] = tokenizer_ckpt
            continue
        data_dir = ensure(tokenizer_ckpt, root)
        if name == "text_tokenizer":
            changed[key] = os.path.join(data_dir, "tokenizer.json")
        elif name.count("-") == 1:
            changed[key] = f"array_record:{data_dir}/{name}-*.array_record"
        else:
            raise ValueError(
                f"config {key}={value!r}: unknown built-in name {name!r}; "
                f"expected {PREFIX}STREAM-SPLIT (e.g. {PREFIX}video-train), "
                f"{PREFIX}text_tokenizer or {PREFIX}visual_tokenizer"
            )
    for key, value in changed.items():
        _set(config, key, value)
    return changed
