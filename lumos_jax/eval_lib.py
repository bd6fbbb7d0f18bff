# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Sample the built-in prompt sets, score them exactly, write a report (the library
behind `python -m lumos_jax.evaluate` and the demo).

mini-GenEval (text-to-image, several samples per prompt) and mini-VBench (text-to-video
and image-to-video) on ShapesMotion validation prompts, for the trained model and for a
text-ignoring baseline: the same model with the prompt dropped (guidance 0 keeps only the
unconditional branch, the sequence from video_start without text). Writes
DIR/eval/metrics.json, report.md, grid.png, sample gifs and curves.png.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import time

import jax
import numpy as np
from absl import logging

from lumos_jax import layout, parallel, pixels, report, sampling, video_io
from lumos_jax.data import builtin, shapes
from lumos_jax.evaluation import detector, geneval, vbench
from lumos_jax.pixels import to_model_range
from lumos_jax.progress import Progress
from lumos_jax.sampling import loaders
from lumos_jax.tokenizer.checkpoint_io import run_tokenizer


@dataclasses.dataclass
class EvalOptions:
    workdir: str
    out: str = ""
    checkpoint: str = ""
    per_task: int = 6  # GenEval prompts per task
    samples_per_prompt: int = 2
    num_videos: int = 24  # VBench prompts (T2V; the same number again for I2V)
    batch: int = 24
    baseline: bool = True
    holdout: bool = True  # also mini-GenEval on the compositional hold-out prompts
    split: str = "validation"
    seed: int = 0


def _settings(config, vocab, *, frames, guidance=None):
    s = copy.deepcopy(config.sampling)
    with s.unlocked():
        s.frames = frames
        if frames == 1:
            s.fps, s.duration = 1, 1
        if guidance is not None:
            s.guidance = s.guidance_image = guidance
    return sampling.Settings.from_config(s, max_size_value=vocab.max_size_value)


class Generator:
    """Prompts (captions) -> uint8 videos [N, F, H, W, 3], batched, for one checkpoint."""

    def __init__(self, config, opts: EvalOptions):
        self.config = config
        self.vocab = layout.vocab_from_config(config.vocab)
        self.mesh = parallel.make_mesh(dict(config.mesh))
        self.model_cfg = loaders.model_config(config, self.mesh)
        self.params, self.ckpt = loaders.load_decoder_params(
            self.model_cfg, self.mesh, self.vocab, workdir=opts.workdir, checkpoint=opts.checkpoint
        )
        self.text = loaders.load_text_tokenizer(config.sampling.text_tokenizer, self.vocab)
        self.tokenizer = loaders.load_visual_tokenizer(
            config.sampling.tokenizer_ckpt, config.sampling.tokenizer_preset, self.vocab
        )
        self.opts = opts
        self.seconds = 0.0

    def __call__(self, captions, settings, seed, first_frames=None):
        out = []
        b = self.opts.batch
        frames = settings.latent_frames
        progress = Progress(
            "evaluate", len(captions), log=logging.info, unit="image" if frames == 1 else "video"
        )
        for i in range(0, len(captions), b):
            chunk = list(captions[i : i + b])
            pad = b - len(chunk)  # one static batch shape: one compiled sampler
            ids = [
                self.text.encode_prompt(
                    c,
                    width=settings.width,
                    height=settings.height,
                    frames=settings.frames,
                    fps=settings.fps,
                )
                for c in chunk + chunk[:1] * pad
            ]
            first = None
            if first_frames is not None:
                f = np.asarray(first_frames[i : i + b])
                first = np.concatenate([f, np.repeat(f[:1], pad, 0)]) if pad else f
            t0 = time.perf_counter()

            def on_frame(f, _, done=i, n=len(chunk)):  # a line at least every 30 s
                progress.update(done + n * (f + 1) / frames)

            codes = sampling.generate(
                self.model_cfg,
                self.params,
                ids,
                settings,
                jax.random.key(seed + i),
                vocab=self.vocab,
                mesh=self.mesh,
                first_frames=first,
                on_frame=on_frame,
            )
            self.seconds += time.perf_counter() - t0
            video = run_tokenizer(self.tokenizer, "decode", codes[: len(chunk)])
            out.append(video_io.to_uint8(video))
        return np.concatenate(out)

    def encode_first_frames(self, frames):
        """uint8 [N, H, W, 3] -> codes [N, h, w] of the first latent frame (I2V)."""
        x = to_model_range(frames[:, None])
        return run_tokenizer(self.tokenizer, "encode", x)[:, 0]


def run_geneval(gen: Generator, guidance=None, split=None):
    """(scores, images uint8 [N, H, W, 3], the prompt dict of each image)."""
    prompts = geneval.make_prompts(split or gen.opts.split, gen.opts.per_task, gen.opts.seed)
    prompts = [p for p in prompts for _ in range(gen.opts.samples_per_prompt)]
    settings = _settings(gen.config, gen.vocab, frames=1, guidance=guidance)
    images = gen([p["prompt"] for p in prompts], settings, gen.opts.seed)[:, 0]
    return geneval.evaluate(list(zip(prompts, images))), images, prompts


def run_vbench(gen: Generator, guidance=None, i2v=False):
    c = gen.config.sampling
    metas = vbench.make_prompts(
        gen.opts.split, gen.opts.num_videos, gen.opts.seed, c.height, c.width, c.frames
    )
    settings = _settings(gen.config, gen.vocab, frames=c.frames, guidance=guidance)
    first = None
    if i2v:
        frames0 = np.stack([shapes.render_clip(m)[0] for m in metas])
        first = gen.encode_first_frames(frames0)
    videos = gen([m["caption"] for m in metas], settings, gen.opts.seed + 7, first)
    samples = [(m, v, shapes.render_clip(m)[0]) if i2v else (m, v) for m, v in zip(metas, videos)]
    return vbench.evaluate(samples), videos, metas


def reconstruct(tokenizer, clips: np.ndarray) -> np.ndarray:
    """uint8 clips [N, F, H, W, 3] -> their encode-decode round trip, uint8, same shape."""
    codes = run_tokenizer(tokenizer, "encode", to_model_range(clips))
    return video_io.to_uint8(run_tokenizer(tokenizer, "decode", codes))


def side_by_side(gen: Generator, truth: np.ndarray, generated: np.ndarray) -> np.ndarray:
    """uint8 [N, F, H, 3W]: ground truth | its tokenizer reconstruction | generated, per
    prompt, so the tokenizer's share of an error can be told from the model's."""
    return np.concatenate([truth, reconstruct(gen.tokenizer, truth), generated], axis=3)


def reconstruction_upper_bound(tokenizer, splits=("validation", "holdout"), num=24, seed=0):
    """What generation can reach at best: tokenizer round trips of evaluation scenes.

    Encodes and decodes `num` ShapesMotion clips of each split (every frame checked).
    Returns PSNR (dB); `exact`: the share of frames reconstructed pixel for pixel;
    `detector_exact`: the share where the detector finds exactly the rendered objects
    (colour, shape, box); the same per split under `splits`.
    """
    per_split, pixel_exact, det_exact, sq_err = {}, [], [], []
    for split in splits:
        metas = [shapes.sample_meta(seed, split, i) for i in range(num)]
        clips = np.stack([shapes.render_clip(m) for m in metas])
        recon = reconstruct(tokenizer, clips)
        sq_err.append((recon.astype(np.float64) - clips) ** 2)
        px = np.all(recon == clips, axis=(2, 3, 4)).ravel().tolist()
        det = []
        for meta, video in zip(metas, recon):
            for f in range(len(video)):
                want = sorted((c, s, tuple(b)) for c, s, b, _ in detector.expected_objects(meta, f))
                got = sorted((d.color, d.shape, d.box) for d in detector.detect(video[f]))
                det.append(want == got)
        per_split[split] = {"exact": float(np.mean(px)), "detector_exact": float(np.mean(det))}
        pixel_exact += px
        det_exact += det
    mse = float(np.mean(np.concatenate([e.ravel() for e in sq_err])))
    return {
        "psnr_db": float(pixels.psnr_db(mse, floor=1e-12)),
        "exact": float(np.mean(pixel_exact)),
        "detector_exact": float(np.mean(det_exact)),
        "frames_checked": len(pixel_exact),
        "splits": per_split,
    }


def model_origin(init_from: str) -> dict | None:
    """Where the evaluated run started: its config.init_from and, for a params export,
    what export_info.json says of it (source step, note, tokenizers); None from scratch."""
    if not init_from:
        return None
    origin = {"path": init_from}
    info = os.path.join(init_from, "export_info.json")
    if os.path.isfile(info):
        with open(info) as f:
            exported = json.load(f)
        origin.update({k: exported[k] for k in ("step", "note") if k in exported})
    return origin


def _metric_files(config, workdir) -> list[str]:
    """Training curves to plot: the run that made the params this run started from (an
    export keeps its metrics.jsonl), then this run's."""
    init_from = config.get("init_from", "")
    files = [os.path.join(init_from, "metrics.jsonl")] if init_from else []
    return [f for f in files + [os.path.join(workdir, "metrics.jsonl")] if os.path.isfile(f)]


def evaluate(config, opts: EvalOptions) -> dict:
    out = opts.out or os.path.join(opts.workdir, "eval")
    if not opts.checkpoint:  # a wrong --workdir fails before built-in data is made
        loaders.latest_step_dir(opts.workdir)
    builtin.resolve(config, builtin.TOKENIZER_KEYS)  # the tiny presets' tokenizers
    gen = Generator(config, opts)  # checkpoint and tokenizers load before out is made
    os.makedirs(out, exist_ok=True)
    results = {
        "checkpoint": gen.ckpt,
        "split": opts.split,
        "init_from": model_origin(config.get("init_from", "")),
    }
    g, images, image_prompts = run_geneval(gen)
    v, videos, video_metas = run_vbench(gen)
    results.update(geneval=g, vbench=v)
    results["vbench_i2v"] = run_vbench(gen, i2v=True)[0]
    held_images, held_prompts = None, []
    if opts.holdout:
        results["geneval_holdout"], held_images, held_prompts = run_geneval(gen, split="holdout")
    results["tokenizer_upper_bound"] = reconstruction_upper_bound(gen.tokenizer)
    # The first 8 image prompts (one sample each) and videos: truth | reconstruction | model.
    firsts = list(range(0, len(image_prompts), opts.samples_per_prompt))[:8]
    s = config.sampling
    truth = np.stack(
        [geneval.reference_image(image_prompts[i], opts.seed, s.height, s.width) for i in firsts]
    )
    image_panels = side_by_side(gen, truth[:, None], images[firsts][:, None])[:, 0]
    truth = np.stack([shapes.render_clip(m) for m in video_metas[:8]])
    video_panels = side_by_side(gen, truth, videos[:8])
    if opts.baseline:
        results["baseline_geneval"] = run_geneval(gen, guidance=0.0)[0]
        results["baseline_vbench"] = run_vbench(gen, guidance=0.0)[0]
    results["sampling_seconds"] = gen.seconds
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(results, f, indent=1, default=float)
    samples = report.Samples(
        images=images,
        image_captions=[p["prompt"] for p in image_prompts],
        image_panels=image_panels,
        image_panel_captions=[image_prompts[i]["prompt"] for i in firsts],
        video_panels=video_panels,
        video_captions=[m["caption"] for m in video_metas[:8]],
        image_verdicts=[geneval.score_image(p, im) for p, im in zip(image_prompts, images)],
        holdout_images=held_images,
        holdout_captions=[p["prompt"] for p in held_prompts],
        holdout_verdicts=[geneval.score_image(p, im) for p, im in zip(held_prompts, held_images)]
        if held_images is not None
        else [],
    )
    report.write(
        out, results, config, samples, _metric_files(config, opts.workdir), headline(results)
    )
    logging.info("evaluation written to %s", out)
    return results


def headline(results: dict) -> dict:
    """The figures a reader checks first (the demo's quality bar), flat, for a JSON line."""
    g, base = results["geneval"], results.get("baseline_geneval", {})
    out = {f"geneval_{k}": g.get(k) for k in ("overall",) + geneval.TASKS}
    out["motion_direction_t2v"] = results["vbench"].get("motion_direction")
    out["motion_direction_i2v"] = results.get("vbench_i2v", {}).get("motion_direction")
    out["compositional_holdout"] = results.get("geneval_holdout", {}).get("overall")
    out["baseline_geneval_overall"] = base.get("overall")
    out["baseline_motion_direction_t2v"] = results.get("baseline_vbench", {}).get(
        "motion_direction"
    )
    # Frames of validation and hold-out scenes the visual tokenizer reconstructs exactly.
    out["tokenizer_exact"] = results.get("tokenizer_upper_bound", {}).get("exact")
    return out
