# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Generate images and videos from a trained checkpoint (thin CLI over lumos_jax.sampling).

  python -m lumos_jax.sample --config=configs/t2v.py:tiny --workdir=/tmp/t2v \
      --tokenizer_ckpt=/tmp/tok --prompt="a red circle moves left" \
      [--text_tokenizer=tokenizer.json] [--image=first.png] [--frames=17] --out=/tmp/samples

Writes OUT/sample_XX.mp4 and .gif (videos) or .png (--frames=1: images), decoded by the
visual tokenizer, OUT/codes.npy (the generated codes) and OUT/settings.json (prompts,
ids, seed, sampling settings, paths, timings). --image makes it image-to-video: the
image (centre-cropped to the configured resolution) is encoded as latent frame 0 and
kept. Every sampling knob is also a config field: --config.sampling.steps=50,
--config.sampling.mode=ardf_nocache, --config.sampling.anneal=release, ...
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import numpy as np
from absl import flags, logging
from ml_collections import config_flags

from lumos_jax import cli, layout, parallel, pixels, sampling, video_io
from lumos_jax.data import builtin, media, provenance
from lumos_jax.progress import Progress
from lumos_jax.sampling import loaders
from lumos_jax.tokenizer import checkpoint_io
from lumos_jax.tokenizer.checkpoint_io import run_tokenizer


def _define_flags():
    """Flags exist only when this module is the program (other CLIs define --config)."""
    config_flags.DEFINE_config_file("config", None, "Experiment config file.", lock_config=True)
    flags.DEFINE_string("workdir", "", "Training workdir: its latest checkpoint is used.")
    flags.DEFINE_string(
        "checkpoint",
        "",
        "Explicit params: a step dir, converted "
        "params dir or Hugging Face Chameleon dir (beats --workdir).",
    )
    flags.DEFINE_multi_string("prompt", [], "Caption(s); one sample each.")
    flags.DEFINE_multi_string(
        "prompt_ids",
        [],
        "Comma-separated prompt ids already in the unified vocabulary (templated, no bos/sep).",
    )
    flags.DEFINE_string("image", "", "First frame (image-to-video).")
    flags.DEFINE_integer("frames", None, "Pixel frames (1 + 4k); 1 = an image.")
    flags.DEFINE_string("out", None, "Output directory.")
    flags.DEFINE_integer("seed", None, "Sampling seed (default config.sampling.seed).")
    flags.DEFINE_string("tokenizer_ckpt", None, "Visual tokenizer checkpoint.")
    flags.DEFINE_string(
        "text_tokenizer",
        None,
        "Text tokenizer: tokenizer.json, sentencepiece .model or a directory holding one.",
    )


@dataclasses.dataclass
class Request:
    """One CLI invocation (flags merged), so tests can call `run` without absl."""

    out: str
    prompts: list[str] = dataclasses.field(default_factory=list)
    prompt_ids: list[str] = dataclasses.field(default_factory=list)
    workdir: str = ""
    checkpoint: str = ""
    image: str = ""
    frames: int | None = None
    seed: int | None = None
    tokenizer_ckpt: str | None = None
    text_tokenizer: str | None = None


def apply_overrides(config, req: Request) -> None:
    s = config.sampling
    for name in ("frames", "seed", "tokenizer_ckpt", "text_tokenizer"):
        if getattr(req, name) is not None:
            setattr(s, name, getattr(req, name))


def _conditioning_image(path: str, settings) -> np.ndarray:
    """--image as float32 [H, W, 3] in [-1, 1], prepared as the training frames are."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--image={path!r}: no such file")
    try:
        frame = media.load_frame(path, settings.width, settings.height)
    except media.MediaError as e:
        raise ValueError(f"--image={path!r} is not a readable image: {e.problem}") from None
    return pixels.to_model_range(frame)


def validate(config, req: Request, vocab: layout.Vocab) -> sampling.Settings:
    """Cheap checks first: a bad flag fails before any model is loaded."""
    settings = sampling.Settings.from_config(config.sampling, max_size_value=vocab.max_size_value)
    if bool(req.prompts) == bool(req.prompt_ids):
        raise ValueError(
            "give the captions with --prompt or the ids with --prompt_ids (exactly one of the two)"
        )
    if req.image:
        if settings.latent_frames == 1:
            raise ValueError("--image (image-to-video) needs --frames > 1")
        _conditioning_image(req.image, settings)  # path/format errors before any work
    if not (req.workdir or req.checkpoint):
        raise ValueError("pass --workdir=DIR (training workdir) or --checkpoint=PATH")
    if not req.checkpoint:
        loaders.latest_step_dir(req.workdir)  # names the workdir if it holds no checkpoint
    return settings


def load_visual_tokenizer(config, vocab, recorded: dict, params_path: str):
    """The decoder of the codes: refused when its weights are not those the run's records
    were made with (codes of one tokenizer decoded by another are noise)."""
    path, preset = config.sampling.tokenizer_ckpt, config.sampling.tokenizer_preset
    if recorded and path and not path.endswith(".safetensors"):
        info = checkpoint_io.load_visual_tokenizer(path, preset or None)[1]
        provenance.check_visual(recorded, info, path, params_path)
    return loaders.load_visual_tokenizer(path, preset, vocab)


def prompt_ids(
    config, req: Request, settings, vocab, recorded: dict | None = None
) -> tuple[list[np.ndarray], list[str]]:
    if req.prompt_ids:
        ids = [
            np.asarray([int(t) for t in p.split(",") if t.strip()], np.int32)
            for p in req.prompt_ids
        ]
        return ids, [""] * len(ids)
    tok = loaders.load_text_tokenizer(config.sampling.text_tokenizer, vocab)
    provenance.check_text(
        recorded or {},
        tok.fingerprint(),
        config.sampling.text_tokenizer,
        req.workdir or req.checkpoint,
    )
    return [
        tok.encode_prompt(
            p,
            width=settings.width,
            height=settings.height,
            frames=settings.frames,
            fps=settings.fps,
        )
        for p in req.prompts
    ], req.prompts


def write_outputs(out: str, video: np.ndarray, fps: int) -> list[str]:
    """video float [B, F, H, W, 3] in [-1, 1] -> png per sample (F = 1) or mp4 + gif."""
    os.makedirs(out, exist_ok=True)
    paths = []
    for i, v in enumerate(video_io.to_uint8(video)):
        stem = os.path.join(out, f"sample_{i:02d}")
        if v.shape[0] == 1:
            paths.append(video_io.write_png(stem + ".png", v[0]))
        else:
            paths += [
                video_io.write_mp4(stem + ".mp4", v, fps),
                video_io.write_gif(stem + ".gif", v, fps),
            ]
    return paths


def run(config, req: Request) -> dict:
    """The whole CLI: returns the settings JSON it writes (with the output paths)."""
    apply_overrides(config, req)
    vocab = layout.vocab_from_config(config.vocab)
    settings = validate(config, req, vocab)
    # The tiny presets' tokenizers; the text one only for captions (it lives with the
    # built-in records, which a first use makes).
    # The run's own tokenizers (WORKDIR/tokenizers.json) unless the config names others.
    params_path = req.checkpoint or req.workdir
    recorded = provenance.use_run_tokenizers(config.sampling, params_path)
    builtin.resolve(config, builtin.TOKENIZER_KEYS if req.prompts else ("sampling.tokenizer_ckpt",))
    ids, captions = prompt_ids(config, req, settings, vocab, recorded)
    tokenizer = load_visual_tokenizer(config, vocab, recorded, params_path)
    if tokenizer.cfg.temporal_compression != config.sampling.temporal_compression:
        raise ValueError("sampling.temporal_compression differs from the visual tokenizer's")

    mesh = parallel.make_mesh(dict(config.mesh))
    model_cfg = loaders.model_config(config, mesh)
    params, ckpt_path = loaders.load_decoder_params(
        model_cfg, mesh, vocab, workdir=req.workdir, checkpoint=req.checkpoint
    )
    first = None
    if req.image:
        image = _conditioning_image(req.image, settings)
        codes = run_tokenizer(tokenizer, "encode", image[None, None], settings.fast_compile)
        first = np.repeat(codes[:, 0], len(ids), axis=0)  # [B, h, w]

    seed = int(config.sampling.seed)
    sampler = sampling.build_sampler(model_cfg, settings, ids, vocab=vocab, mesh=mesh)
    passes, t0 = sampler.stats["forward_passes"], time.perf_counter()
    progress = Progress(
        "sample",
        settings.latent_frames,
        unit="frame",
        every=1,
        start=1 if first is not None else 0,
        log=logging.info,
    )
    codes = sampling.generate(
        model_cfg,
        params,
        ids,
        settings,
        seed,
        vocab=vocab,
        mesh=mesh,
        first_frames=first,
        on_frame=lambda f, _: progress.update(f + 1),
    )
    seconds = time.perf_counter() - t0
    video = run_tokenizer(tokenizer, "decode", codes, settings.fast_compile)
    files = write_outputs(req.out, video, settings.fps)
    np.save(os.path.join(req.out, "codes.npy"), codes)  # [B, T', H/8, W/8] for evaluation
    record = dict(
        prompts=captions,
        prompt_ids=[i.tolist() for i in ids],
        seed=seed,
        image=req.image,
        checkpoint=ckpt_path,
        tokenizer_ckpt=config.sampling.tokenizer_ckpt,
        settings=dataclasses.asdict(settings),
        sampling=config.sampling.to_dict(),
        codes_shape=list(codes.shape),
        video_shape=list(video.shape),
        sampling_seconds=seconds,  # includes compilation on a first call
        forward_passes=sampler.stats["forward_passes"] - passes,
        files=files,
    )
    with open(os.path.join(req.out, "settings.json"), "w") as f:
        json.dump(record, f, indent=1, default=str)
    logging.info("wrote %s", ", ".join(files))
    return record


def main(argv):
    if len(argv) > 1:
        raise cli.UsageError(f"unexpected arguments {argv[1:]}")
    if not flags.FLAGS.out:
        raise cli.UsageError("--out=DIR is required (where the samples are written)")
    f = flags.FLAGS
    req = Request(
        out=f.out,
        prompts=f.prompt,
        prompt_ids=f.prompt_ids,
        workdir=f.workdir,
        checkpoint=f.checkpoint,
        image=f.image,
        frames=f.frames,
        seed=f.seed,
        tokenizer_ckpt=f.tokenizer_ckpt,
        text_tokenizer=f.text_tokenizer,
    )
    record = run(flags.FLAGS.config, req)
    print(json.dumps({"files": record["files"], "seconds": round(record["sampling_seconds"], 2)}))


def _define_required_flags():
    _define_flags()
    flags.mark_flags_as_required(["config"])


if __name__ == "__main__":
    cli.run(main, _define_required_flags)
