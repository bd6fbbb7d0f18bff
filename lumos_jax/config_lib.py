# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Every experiment config; configs/*.py are one-line `get_config(arg)` wrappers of these.

`experiment(task, arg)` (configs/t2i.py, t2v.py, i2v.py): task is t2i | t2v | i2v; arg is
a preset, optionally with a resolution: 'tiny' (CPU, built-in ShapesMotion data), '0.5b',
'1b', '3.6b', e.g. '3.6b-384p' (default 256p). The keys changed most: train.steps,
data.batch_size, optim.lr, init_from, data.streams.video.sources (and the CLIs' --workdir).
`tokenizer(arg)` (configs/tokenizer.py): the visual tokenizer's training recipes.
Every knob lives in the returned ConfigDict.
"""

from __future__ import annotations

import ml_collections

from lumos_jax import layout
from lumos_jax.data import config as data_config
from lumos_jax.model import config as model_config
from lumos_jax.sampling import config as sampling_config
from lumos_jax.tokenizer import config as tokenizer_config

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
            raise ValueError("the tiny preset has one resolution (96x96 px); drop the suffix")
        return name, ""
    res = res or "256p"
    if res not in RESOLUTIONS:
        raise ValueError(f"config resolution {res!r}: expected one of {sorted(RESOLUTIONS)}")
    return name, res


# The tiny preset's visual ids: the codes of the built-in world's fitted codebook
# (assets/shapes_codebook: its 8 palette colours and 3 backgrounds as solid 4x8x8 tubes).
# Records of another visual tokenizer need their codebook size here
# (--config.vocab.visual_size, e.g. 1000 for the FSQ `small` / `tiny` presets).
TINY_VISUAL_SIZE = 11


def _vocab(name: str) -> ml_collections.ConfigDict:
    if name == "tiny":
        return ml_collections.ConfigDict(
            dict(kind="compact", text_tokens=448, visual_size=TINY_VISUAL_SIZE)
        )
    return ml_collections.ConfigDict(dict(kind="release", text_tokens=0, visual_size=64000))


def experiment(task: str, arg: str) -> ml_collections.ConfigDict:
    if task not in TASKS:
        raise ValueError(f"config task {task!r}: expected one of {TASKS}")
    name, res = parse_arg(arg)
    c = ml_collections.ConfigDict()
    # What the config was built from, recorded in config.json; no code reads them.
    c.task = task
    c.preset = name
    c.resolution = res or "96px"
    c.seed = 0
    c.vocab = _vocab(name)
    vocab = layout.vocab_from_config(c.vocab)
    c.model = model_config.preset(name, vocab)
    c.max_frames = 8  # per-frame loss metrics track latent frames 0..max_frames-1
    # fused: the loss head's gradient formed in its forward pass (model/loss.py), False =
    # plain autodiff of the same objective (the reference the tests compare against).
    c.loss = ml_collections.ConfigDict(dict(chunk=1024, z_loss=0.0, fused=True))
    # context: devices one sequence is split over (context parallelism, parallel.py)
    c.mesh = ml_collections.ConfigDict(dict(data=-1, fsdp=1, context=1, tensor=1))
    c.init_from = ""  # an earlier stage's checkpoint step dir, converted params, or HF dir
    # peak_tflops: per-device peak TFLOP/s for the MFU figure; 0 = the accelerator's bf16
    # peak from parallel's table, or measured by a matmul on CPU.
    c.train = ml_collections.ConfigDict(
        dict(
            steps=100_000,
            micro_batches=1,
            log_every=50,
            checkpoint_every=1000,
            keep_checkpoints=3,
            async_checkpoint=True,
            eval_every=1000,
            eval_batches=8,
            profile_start=-1,
            profile_steps=5,
            peak_tflops=0.0,
        )
    )
    c.optim = ml_collections.ConfigDict(
        dict(
            lr=LEARNING_RATES.get(name, 1e-3),
            warmup_steps=500,
            schedule="constant",
            total_steps=c.train.steps,
            end_lr_ratio=0.0,
            b1=0.9,
            b2=0.95,
            eps=1e-8,
            weight_decay=0.1,
            clip=4.0,
            decay_norms=False,
        )
    )
    # timeout_s: joining the job; heartbeat_timeout_s: a process silent this long is lost
    # (jax.distributed's heartbeat_timeout_seconds); shutdown_timeout_s: how long a finished
    # process waits for the others at exit (jax's shutdown_timeout_seconds).
    c.distributed = ml_collections.ConfigDict(
        dict(
            coordinator="",
            num_processes=0,
            process_id=-1,
            timeout_s=300,
            heartbeat_timeout_s=100,
            shutdown_timeout_s=300,
        )
    )
    c.data = data_config.default_config()
    c.sampling = sampling_config.default_config(task, res or "96px")
    _link(c)
    if name == "tiny":
        _tiny(c)
    else:
        _paper_scale(c, name, res)
    c.optim.total_steps = c.train.get_ref("steps")
    return c


def _link(c: ml_collections.ConfigDict) -> None:
    """Fields that must agree share one FieldReference instead of holding copies: setting
    either end, in code or as --config.KEY=VALUE (applied to the loaded, locked config),
    sets both."""
    for key in c.vocab:  # the records' vocabulary is the model's
        c.data.vocab[key] = c.vocab.get_ref(key)
    # The model's visual slice follows the vocabulary (visual ids are its last block):
    # --config.vocab.visual_size=N alone sets model.visual_size and model.vocab_size too.
    others = c.model.vocab_size - c.model.visual_size
    c.model.visual_size = c.vocab.get_ref("visual_size")
    c.model.vocab_size = c.vocab.get_ref("visual_size") + others
    c.data.rope_variant = c.model.get_ref("rope_variant")  # positions match the rotation
    c.sampling.position_strides = c.data.get_ref("position_strides")


def _tiny(c: ml_collections.ConfigDict) -> None:
    """CPU-sized: fp32 compute (bf16 is emulated and slow on CPUs), no remat."""
    c.model.update(dtype="float32", remat="none", attention="auto")
    # benchmarks/step_vs_reference.py (issue 18): with the fused loss head a 256-row chunk
    # (its [256, Nv] fp32 logits stay cache-sized) ran the 5,499-token step 5.5-6.1 s vs
    # 6.2-6.5 s at 1024, at 2.1 instead of 2.6 GiB; 128 was no faster.
    c.loss.chunk = 256
    c.train.update(
        steps=3000,
        log_every=25,
        checkpoint_every=500,
        eval_every=500,
        eval_batches=4,
        async_checkpoint=False,
    )
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
    c.model.update(
        dtype="bfloat16",
        param_dtype="float32",
        remat="full",
        attention="auto",
        block_q=512,
        block_k=512,
        scan_layers=True,
        max_frame_tokens=frame_tokens,
    )
    c.train.log_every = 10
    c.optim.warmup_steps = 1000


# Tokenizer training recipes that are not architectures: name -> the preset they train.
TOKENIZER_RECIPES = {"shapes": "small"}


def tokenizer(arg: str = "tiny") -> ml_collections.ConfigDict:
    """Visual tokenizer training (python -m lumos_jax.tokenizer.train): `tiny` (CPU,
    minutes), `small`, `dv4x8x8` (the Cosmos DV4x8x8 architecture), `shapes` (the `small`
    architecture trained on ShapesMotion; the demo ships a fitted codebook instead,
    assets/shapes_codebook, which is exact on that world)."""
    choices = sorted(tokenizer_config.PRESETS) + sorted(TOKENIZER_RECIPES)
    if arg not in choices:
        raise ValueError(f"configs/tokenizer.py:{arg}: choose one of {choices}")
    c = ml_collections.ConfigDict()
    c.seed = 0
    # Start a new run from the params of a trained tokenizer (workdir or checkpoints/N of
    # the same architecture); the optimizer starts fresh. Ignored when workdir resumes.
    c.init_from = ""
    c.fast_compile = False  # True: XLA opt level 0 (CPU smoke tests compile ~2x faster)
    c.model = tokenizer_config.get(TOKENIZER_RECIPES.get(arg, arg)).to_dict()

    # Data: a source returning uint8 [N, F, H, W, 3]; see lumos_jax/tokenizer/clips.py.
    c.data = ml_collections.ConfigDict()
    c.data.source = "synthetic"  # 'synthetic' | 'npy:PATH' | 'package.module:function'
    c.data.num_frames = 9  # 1 + 4k
    c.data.height = 32
    c.data.width = 32
    c.data.num_train_clips = 256
    c.data.num_eval_clips = 16  # held out: generated with seed + 1

    # Optimisation.
    c.batch_size = 8  # sharded over the devices of a 1-D data mesh
    c.steps = 500
    c.lr = 1e-3
    c.warmup_steps = 50
    c.lr_schedule = "constant"  # 'constant' | 'cosine' (to lr * end_lr_ratio at `steps`)
    c.end_lr_ratio = 0.05
    c.b1, c.b2 = 0.9, 0.95
    c.weight_decay = 0.01
    c.grad_clip = 1.0
    c.l1_weight = 1.0
    c.l2_weight = 1.0
    # Foreground-aware reconstruction: pixel errors are weighted by 1 + fg_weight where the
    # pixel differs from its frame's median (background) colour by > fg_threshold (model
    # range [-1, 1]) in some channel. Small objects on a large background are otherwise a
    # tiny share of the plain L1 + L2 and the tokenizer learns to drop them. 0 = plain L1+L2.
    c.fg_weight = 0.0
    c.fg_threshold = 0.3
    # Gradient difference loss (train.edge_loss) weight: keeps edges sharp; 0 = off.
    c.edge_weight = 0.0
    # Fraction of latent vectors quantised with uniform noise instead of rounding during
    # training (fsq.quantize_noisy); 0 = straight-through rounding only (Cosmos).
    c.quant_noise = 0.0

    # Logging, evaluation, checkpoints.
    c.log_every = 25
    c.eval_every = 250
    c.ckpt_every = 250
    c.keep_ckpts = 2
    c.num_gifs = 2
    c.gif_fps = 8
    if arg == "shapes":
        _tokenizer_shapes(c)
    if arg == "dv4x8x8":
        c.data.update(num_frames=17, height=256, width=256, num_train_clips=1024, num_eval_clips=32)
        c.batch_size = 8
        c.steps = 100_000
        c.lr = 1e-4
        c.warmup_steps = 1000
        c.log_every = 100
        c.eval_every = c.ckpt_every = 5000
    return c


def _tokenizer_shapes(c: ml_collections.ConfigDict) -> None:
    """The `small` architecture trained on ShapesMotion (96x96; the FSQ route for the
    built-in world, measured in assets/README.md). 5-frame clips (1 + 4: one latent frame of each kind) cost ~half
    of 9-frame ones per step, and the causal tokenizer still codes 17-frame clips. fg_weight:
    the objects are ~2-10% of the pixels and plain L1 + L2 reconstructs only the background."""
    c.data.update(
        source="lumos_jax.data.shapes:tokenizer_clips",
        num_frames=5,
        height=96,
        width=96,
        num_train_clips=4096,
        num_eval_clips=16,
    )
    c.batch_size = 8
    c.steps = 3000
    c.lr = 2e-3
    c.warmup_steps = 50
    c.lr_schedule = "cosine"
    c.fg_weight = 20.0
    c.log_every = 50
    c.eval_every = c.ckpt_every = 300
    c.keep_ckpts = 1
