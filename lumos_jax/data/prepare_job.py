# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""A prepare job (what `python -m lumos_jax.data.prepare` runs; see its docstring for the
inputs and outputs): `run(Options(...))` lists the inputs, loads the tokenizers, tokenises
shard by shard (resumable) and writes the manifest last."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
from concurrent import futures

import numpy as np

from lumos_jax import layout
from lumos_jax.data import clip_windows, media, records
from lumos_jax.data import prepare_checks as checks
from lumos_jax.data import prepare_inputs as inputs
from lumos_jax.data.prepare_checks import PrepareError
from lumos_jax.progress import Progress
from lumos_jax.tokenizer import checkpoint_io as visual
from lumos_jax.tokenizer import text as text_lib

log = logging.getLogger("lumos_jax.prepare")
STREAMS = ("video", "image")


@dataclasses.dataclass(frozen=True)
class Options:
    """Every knob of a prepare run (the CLI flags; see `parse_args`)."""

    out: str
    tokenizer_ckpt: str
    source: str = "files"  # 'files' (--videos) | 'shapes'
    videos: str = ""
    split: str = "train"
    num: int = 2048  # shapes: records per stream
    streams: tuple = STREAMS  # shapes: which streams to write
    seed: int = 0  # shapes generator seed
    tokenizer_config: str = ""  # '' = the architecture the tokenizer trainer recorded
    text_tokenizer: str = ""
    vocab: str = "compact"
    text_tokens: int = 448
    visual_size: int = 1000
    fps: int = 12
    num_frames: int = 25
    min_frames: int = 5
    target: int = 352
    size: tuple | None = None  # (W, H): one fixed size instead of buckets
    batch_size: int = 8
    shard_size: int = 1000
    decode_threads: int = 4
    strict: bool = False
    overwrite: bool = False
    fast_compile: bool = False
    clip_stride: float = 0.0  # seconds between window starts; 0 = one clip per video
    config: str = ""  # the experiment config the geometry and vocabulary came from


# ------------------------------------------------------------------ per-shard work


@dataclasses.dataclass
class _Context:
    opts: Options
    vocab: layout.Vocab
    text: text_lib.TextTokenizer
    encoder: object  # visual.VisualEncoder
    pool: futures.ThreadPoolExecutor
    progress: Progress | None = None
    done: int = 0  # items tokenised or skipped so far (the progress line's count)


def _load_item(item: inputs.Item, ctx: _Context):
    """Item -> (frames uint8 [F, H, W, 3], text ids, fps, duration); raises MediaError."""
    if isinstance(item, clip_windows.Window) and item.stream == "video":
        frames, fps = clip_windows.load(item, ctx.opts)
    else:
        frames, fps = inputs.load_frames(item, ctx.opts)
    f, h, w, _ = frames.shape
    try:
        text_ids = ctx.text.encode_prompt(item.caption, width=w, height=h, frames=f, fps=fps)
    except ValueError as e:
        raise media.MediaError(item.name, f"caption: {e}") from None
    duration = 1 if f == 1 else max(1, round(f / fps))
    return frames, text_ids, fps, duration


def _safe_load(item, ctx):
    try:
        return _load_item(item, ctx), None
    except media.MediaError as e:
        return None, e
    except Exception as e:  # pylint: disable=broad-except
        # Anything else one file triggers (odd streams, pillow limits) is that file's
        # failure too: reported and counted, not the end of a long run.
        return None, media.MediaError(item.name, f"{type(e).__name__}: {e}")


def _fail(item: inputs.Item, error: Exception, ctx: _Context, failures: list) -> None:
    problem = getattr(error, "problem", str(error))
    log.warning("skipping %s: %s", item.name, problem)
    if ctx.opts.strict:
        raise PrepareError(f"--strict: {item.name}: {problem}") from error
    failures.append({"file": item.name, "error": problem})


def _encode_group(group: list, ctx: _Context, out: dict, failures: list) -> None:
    """Tokenises loaded items of one shape; fills out[slot] with TokenRecords."""
    codes = ctx.encoder(np.stack([g[2][0] for g in group]))
    ctx.done += len(group)
    if ctx.progress is not None:
        ctx.progress.update(ctx.done)
    for (slot, item, (frames, text_ids, fps, duration)), c in zip(group, codes):
        rec = records.make_record(
            item.record_id,
            item.caption,
            text_ids,
            c,
            fps=fps,
            duration=duration,
            height=frames.shape[1],
            width=frames.shape[2],
        )
        found = records.problems(rec, ctx.vocab)
        if found:
            _fail(item, media.MediaError(item.name, "; ".join(found)), ctx, failures)
        else:
            out[slot] = rec


def tokenize_items(items: list, ctx: _Context) -> tuple[list, list]:
    """Loads (threads) and tokenises (fixed-shape batches) -> (records in input order,
    failures [{file, error}]). Decoded frames live only until their batch is encoded."""
    done, failures, pending = {}, [], {}
    chunk = max(1, ctx.opts.batch_size * 2)
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        loaded = ctx.pool.map(lambda it: _safe_load(it, ctx), part)
        for slot, (item, (value, error)) in enumerate(zip(part, loaded), start):
            if error is not None:
                _fail(item, error, ctx, failures)
                continue
            group = pending.setdefault(value[0].shape, [])
            group.append((slot, item, value))
            if len(group) == ctx.opts.batch_size:
                _encode_group(pending.pop(value[0].shape), ctx, done, failures)
    for group in pending.values():
        _encode_group(group, ctx, done, failures)
    return [done[s] for s in sorted(done)], failures


def _bucket_counts(recs: list) -> dict:
    counts = {}
    for r in recs:
        key = f"{r.num_frames}x{r.height}x{r.width}"  # latent frames x pixel H x pixel W
        counts[key] = counts.get(key, 0) + 1
    return counts


def _write_atomic(path: str, write) -> None:
    """write(tmp_path), fsync, then rename: a crash never leaves `path` half-written."""
    tmp = path + ".tmp"
    if os.path.exists(tmp):
        os.remove(tmp)  # a leftover of an interrupted run
    write(tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_json(path: str, obj) -> None:
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)

    _write_atomic(path, write)


# ------------------------------------------------------------------ shards and resume


def _stats_path(out: str, shard: str) -> str:
    return os.path.join(out, ".prepare", shard + ".json")


def _finished(out: str, shard: str, key: str, overwrite: bool) -> dict | None:
    """Stats of a complete shard written with the same settings, else None."""
    path, stats_path = os.path.join(out, shard), _stats_path(out, shard)
    if not (os.path.exists(path) and os.path.exists(stats_path)):
        return None
    with open(stats_path) as f:
        stats = json.load(f)
    if stats.get("key") != key:
        if overwrite:
            return None
        raise PrepareError(
            f"{path} was written by a run with other inputs or settings (tokenizers, "
            f"fps, size, --num, --shard_size); use a new --out or pass --overwrite"
        )
    return stats


def _run_shard(out: str, shard: str, key: str, items: list, ctx: _Context) -> dict:
    recs, failures = tokenize_items(items, ctx)
    stats = dict(
        key=key,
        shard=shard,
        inputs=len(items),
        records=len(recs),
        failures=failures,
        buckets=_bucket_counts(recs),
    )
    _write_atomic(os.path.join(out, shard), lambda tmp: records.write_array_record(tmp, recs))
    _write_json(_stats_path(out, shard), stats)
    return stats


def _shard_key(items: list, ident: dict) -> str:
    names = [(it.name, it.caption, it.record_id) for it in items]
    blob = json.dumps(dict(ident, items=names), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def plan_shards(items: list, split: str, shard_size: int) -> list:
    """Items -> [(shard file name, items)], shards numbered per stream in input order."""
    plan = []
    for stream in STREAMS:
        mine = [it for it in items if it.stream == stream]
        for k, start in enumerate(range(0, len(mine), shard_size)):
            plan.append(
                (f"{stream}-{split}-{k:05d}.array_record", mine[start : start + shard_size])
            )
    return plan


# ------------------------------------------------------------------ set-up and summary


def _vocab(opts: Options) -> layout.Vocab:
    if opts.vocab == "release":
        return layout.release_vocab()
    if opts.vocab == "compact":
        return layout.compact_vocab(opts.text_tokens, opts.visual_size)
    raise ValueError(f"--vocab={opts.vocab!r}: expected 'compact' or 'release'")


def text_tokenizer(opts: Options, vocab: layout.Vocab) -> tuple[text_lib.TextTokenizer, str]:
    """The run's text tokenizer and its file in --out (copied there, or for the built-in
    data without --text_tokenizer: the project's ShapesMotion BPE, trained once)."""
    if opts.text_tokenizer:
        name = "tokenizer.json" if opts.text_tokenizer.endswith(".json") else "tokenizer.model"
        dest = os.path.join(opts.out, name)
        if os.path.abspath(os.path.expanduser(opts.text_tokenizer)) != os.path.abspath(dest):
            _write_atomic(
                dest, lambda tmp: shutil.copyfile(os.path.expanduser(opts.text_tokenizer), tmp)
            )
        return text_lib.load(dest, vocab), name
    if vocab.first_text_id == 0:
        raise ValueError(
            "the built-in ShapesMotion BPE needs the compact vocabulary; pass "
            "--text_tokenizer for --vocab=release"
        )
    dest = os.path.join(opts.out, "tokenizer.json")
    if not os.path.exists(dest):
        tok = inputs.train_shapes_bpe(vocab.text_size - vocab.first_text_id, seed=opts.seed)
        _write_atomic(dest, tok.save)
    return text_lib.load(dest, vocab), "tokenizer.json"


def _manifest(opts, vocab, plan_stats, text, text_file, visual_info) -> dict:
    streams, buckets, failures = {}, {}, []
    for stats in plan_stats:
        s = streams.setdefault(stats["shard"].split("-")[0], dict(records=0, inputs=0, shards=[]))
        s["records"] += stats["records"]
        s["inputs"] += stats["inputs"]
        s["shards"].append(dict(file=stats["shard"], records=stats["records"]))
        failures += stats["failures"]
        for k, v in stats["buckets"].items():
            buckets[k] = buckets.get(k, 0) + v
    return dict(
        format="lumos_jax.prepare/1",
        split=opts.split,
        source="shapes" if opts.source == "shapes" else os.path.abspath(opts.videos),
        counts=dict(
            inputs=sum(s["inputs"] for s in streams.values()),
            records=sum(s["records"] for s in streams.values()),
            failed=len(failures),
        ),
        streams=streams,
        buckets=buckets,
        failures=failures,
        visual_tokenizer=visual_info,
        text_tokenizer=dict(
            file=text_file, kind=text.kind, size=text.size, sha256=text.fingerprint()
        ),
        vocab=dataclasses.asdict(vocab),
        settings=_settings(opts),
    )


def _settings(opts: Options) -> dict:
    common = dict(batch_size=opts.batch_size, shard_size=opts.shard_size)
    if opts.source == "shapes":
        return dict(
            common,
            seed=opts.seed,
            num=opts.num,
            fps=inputs.SHAPES_FPS,
            size=inputs.SHAPES_SIZE,
            frames=inputs.SHAPES_FRAMES,
        )
    return dict(
        common,
        config=opts.config,
        clip_stride=opts.clip_stride,
        fps=opts.fps,
        num_frames=opts.num_frames,
        min_frames=opts.min_frames,
        target=opts.target,
        size=opts.size,
    )


def run(opts: Options) -> dict:
    """Runs (or resumes) a prepare job; returns the manifest it wrote."""
    # Inputs and tokenizers first: a bad path fails before --out gets a file.
    vocab = _vocab(opts)
    checks.check_settings(opts)
    items = clip_windows.expand(inputs.list_items(opts), opts)
    empty_captions = checks.check_captions(items, opts.strict)
    if opts.source != "shapes" and not opts.text_tokenizer:
        raise ValueError(
            "--text_tokenizer is required for --videos (a tokenizer.json or sentencepiece .model)"
        )
    if opts.text_tokenizer and not os.path.isfile(os.path.expanduser(opts.text_tokenizer)):
        raise FileNotFoundError(f"--text_tokenizer={opts.text_tokenizer}: no such file")
    model, visual_info = visual.load_visual_tokenizer(opts.tokenizer_ckpt, opts.tokenizer_config)
    if visual_info["codebook_size"] > vocab.visual_size:
        raise ValueError(
            f"visual tokenizer has {visual_info['codebook_size']} codes but the "
            f"vocabulary only {vocab.visual_size} (--visual_size, or the --config's "
            f"vocab.visual_size)"
        )
    checks.check_frames(opts, visual_info)
    previous = checks.previous_manifest(opts.out, opts.split)
    given_text = opts.text_tokenizer and text_lib.load(opts.text_tokenizer, vocab).fingerprint()
    checks.check_same_tokenizers(previous, opts.out, visual_info["params_sha256"], given_text)
    os.makedirs(os.path.join(opts.out, ".prepare"), exist_ok=True)
    manifest_path = os.path.join(opts.out, f"manifest-{opts.split}.json")
    checks.set_aside(opts.out, opts.split)
    text, text_file = text_tokenizer(opts, vocab)
    ident = dict(
        settings=[opts.fps, opts.num_frames, opts.min_frames, opts.target, opts.size, opts.seed]
        + ([opts.clip_stride] if opts.clip_stride else []),  # old shards keep their keys
        visual=visual_info["id"],
        text=text.fingerprint(),
        vocab=dataclasses.asdict(vocab),
    )
    plan = plan_shards(items, opts.split, opts.shard_size)
    encoder = visual.VisualEncoder(model, opts.batch_size, fast_compile=opts.fast_compile)
    all_stats = []
    with futures.ThreadPoolExecutor(max(1, opts.decode_threads)) as pool:
        ctx = _Context(
            opts,
            vocab,
            text,
            encoder,
            pool,
            Progress(f"prepare {opts.split}", len(items), unit="record", log=log.info),
        )
        for shard, items in plan:
            key = _shard_key(items, ident)
            stats = _finished(opts.out, shard, key, opts.overwrite)
            ctx.done += len(items) if stats is not None else 0
            if stats is None:
                stats = _run_shard(opts.out, shard, key, items, ctx)
                log.info(
                    "%s: %d records, %d failed", shard, stats["records"], len(stats["failures"])
                )
            else:
                log.info("%s: already complete, skipped", shard)
            all_stats.append(stats)
    kept = checks.kept_stats(opts.out, previous, {shard for shard, _ in plan})
    manifest = _manifest(opts, vocab, kept + all_stats, text, text_file, visual_info)
    manifest["counts"]["empty_captions"] = empty_captions
    _write_json(manifest_path, manifest)
    if os.path.exists(checks.aside_path(opts.out, opts.split)):
        os.remove(checks.aside_path(opts.out, opts.split))
    return manifest
