# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Experiment configs shared by configs/t2i.py, t2v.py and i2v.py.

`experiment(task, arg)`: task is t2i | t2v | i2v; arg is a preset, optionally with a
resolution: 'tiny' (CPU, built-in ShapesMotion data), '0.5b', '1b', '3.6b', e.g.
'3.6b-384p' (default 256p). Every knob lives in the returned ConfigDict. The keys
changed most: train.steps, data.batch_size, optim.lr, init_from, data.streams.video.sources
(and the CLIs' --workdir).
"""
from __future__ import annotations

import ml_collections

from lumos_jax import layout
from lumos_jax.data import config as data_config
from lumos_jax.model import config as model_config
from lumos_jax.sampling import config as sampling_config

TASKS = ("t2i", "t2v", "i2v")
# Bucket lengths: 7 latent frames (25 px frames) + prompt for videos, 1 frame for images
# (reference section 1: 1,828 tokens per 448x256 frame, 4,084 per 672x384 frame).
RESOLUTIONS = {
    "256p": dict(video_seq_len=13312, image_seq_len=2048),
    "384p": dict(video_seq_len=29184, image_seq_len=4608),
}
# Stage-1 learning rates of the release (reference section 7); 0.5b follows 1b.
LEARNING_RATES = {"0.5b": 5e-5, "1b": 5e-5, "3.6b": 1e-4}


def parse_arg(arg: str) -> tuple[str, str]:
    name, _, res = (arg or "tiny").partition("-")
    if name not in model_config.PRESETS:
        raise ValueError(f"config preset {name!r}: expected one of {model_config.PRESETS}")
    if name == "tiny":
        if res:
            raise ValueError("the tiny preset has one resolution (64x64 px); drop the suffix")
        return name, ""
    res = res or "256p"
    if res not in RESOLUTIONS:
        raise ValueError(f"config resolution {res!r}: expected one of {sorted(RESOLUTIONS)}")
    return name, res


def _vocab(name: str) -> ml_collections.ConfigDict:
    if name == "tiny":
        return ml_collections.ConfigDict(dict(kind="compact", text_tokens=448, visual_size=1000))
    return ml_collections.ConfigDict(dict(kind="release", text_tokens=0, visual_size=64000))


def experiment(task: str, arg: str) -> ml_collections.ConfigDict:
    if task not in TASKS:
        raise ValueError(f"config task {task!r}: expected one of {TASKS}")
    name, res = parse_arg(arg)
    c = ml_collections.ConfigDict()
    c.task = task
    c.preset = name
    c.resolution = res or "64px"
    c.seed = 0
    c.vocab = _vocab(name)
    vocab = layout.vocab_from_config(c.vocab)
    c.model = model_config.preset(name, vocab)
    c.max_frames = 8  # per-frame loss metrics track latent frames 0..max_frames-1
    c.loss = ml_collections.ConfigDict(dict(chunk=1024, z_loss=0.0))
    c.mesh = ml_collections.ConfigDict(dict(data=-1, fsdp=1, tensor=1))
    c.init_from = ""  # an earlier stage's checkpoint step dir, converted params, or HF dir
    c.train = ml_collections.ConfigDict(dict(
        steps=100_000, micro_batches=1, log_every=50, checkpoint_every=1000,
        keep_checkpoints=3, async_checkpoint=True, eval_every=1000, eval_batches=8,
        profile_start=-1, profile_steps=5))
    c.optim = ml_collections.ConfigDict(dict(
        lr=LEARNING_RATES.get(name, 1e-3), warmup_steps=500, schedule="constant",
        total_steps=c.train.steps, end_lr_ratio=0.0, b1=0.9, b2=0.95, eps=1e-8,
        weight_decay=0.1, clip=4.0, decay_norms=False))
    c.distributed = ml_collections.ConfigDict(dict(
        coordinator="", num_processes=0, process_id=-1, timeout_s=300))
    c.data = data_config.default_config()
    c.data.vocab = ml_collections.ConfigDict(c.vocab.to_dict())
    c.data.rope_1d = c.model.rope_variant == "1d"
    c.sampling = sampling_config.default_config(task, res or "64px")
    if name == "tiny":
        _tiny(c)
    else:
        _paper_scale(c, name, res)
    c.optim.total_steps = c.train.get_ref("steps")
    return c


def _tiny(c: ml_collections.ConfigDict) -> None:
    """CPU-sized: fp32 compute (bf16 is emulated and slow on CPUs), no remat."""
    c.model.update(dtype="float32", remat="none", attention="auto")
    c.loss.chunk = 512
    c.train.update(steps=3000, log_every=25, checkpoint_every=500,
                   eval_every=500, eval_batches=4, async_checkpoint=False)
    c.data.batch_size = 16
    # The built-in data: ShapesMotion token records tokenised with the shipped visual
    # tokenizer, made on first use in ~/.cache/lumos_jax (lumos_jax.data.builtin).
    c.data.streams.video.sources = "builtin:video-train"
    c.data.streams.image.sources = "builtin:image-train"
    c.data.streams.image.weight = 0.0 if c.task != "t2i" else 1.0
    c.data.streams.video.weight = 0.0 if c.task == "t2i" else 1.0
    c.eval_sources = "builtin:video-validation"
    c.optim.update(lr=1e-3, warmup_steps=100, schedule="cosine", end_lr_ratio=0.1)


def _paper_scale(c: ml_collections.ConfigDict, name: str, res: str) -> None:
    """Release recipe: FSDP full shard, bf16 compute, fp32 master weights, per-layer remat,
    attention 'auto' (cudnn / splash / blockwise, never O(S^2) memory at these lengths)
    and chunked loss at 28k-token sequences, batch 1 per GPU."""
    c.mesh.update(data=1, fsdp=-1, tensor=1)
    sizes = RESOLUTIONS[res]
    c.data.batch_size = 48  # 1 sequence per GPU on the paper's 48 GPUs
    c.data.streams.video.seq_len = sizes["video_seq_len"]
    c.data.streams.image.seq_len = sizes["image_seq_len"]
    # Joint image + video training alternates batches (release); t2i is stage 1 alone.
    c.data.streams.video.weight = 0.0 if c.task == "t2i" else 1.0
    c.data.streams.image.weight = 1.0
    c.eval_sources = ""
    # Either orientation of the bucket's frame size: splash's intra-frame band.
    h, w = (p // 8 for p in sampling_config.RESOLUTIONS[res])
    frame_tokens = max(layout.tokens_per_frame(h, w), layout.tokens_per_frame(w, h))
    c.model.update(dtype="bfloat16", param_dtype="float32", remat="full",
                   attention="auto", block_q=512, block_k=512, scan_layers=True,
                   max_frame_tokens=frame_tokens)
    c.train.update(batch_size=48, log_every=10)
    c.optim.warmup_steps = 1000
