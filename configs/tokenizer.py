# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Visual tokenizer training config.

  python -m lumos_jax.tokenizer.train --config=configs/tokenizer.py:tiny --workdir=DIR
Presets: `tiny` (CPU, minutes) and `dv4x8x8` (the Cosmos DV4x8x8 architecture);
`shapes`: the `small` architecture trained on ShapesMotion (assets/tokenizer_shapes).
Override anything on the command line, e.g. --config.steps=200 --config.data.source=npy:X.
"""
import ml_collections

from lumos_jax.tokenizer import config as tokenizer_config


# Training recipes that are not architectures: name -> the tokenizer preset they train.
RECIPES = {"shapes": "small"}


def get_config(arg: str = "tiny") -> ml_collections.ConfigDict:
  choices = sorted(tokenizer_config.PRESETS) + sorted(RECIPES)
  if arg not in choices:
    raise ValueError(f"configs/tokenizer.py:{arg}: choose one of {choices}")
  c = ml_collections.ConfigDict()
  c.seed = 0
  # Start a new run from the params of a trained tokenizer (workdir or checkpoints/N of
  # the same architecture); the optimizer starts fresh. Ignored when workdir resumes.
  c.init_from = ""
  c.fast_compile = False  # True: XLA opt level 0 (CPU smoke tests compile ~2x faster)
  c.model = tokenizer_config.get(RECIPES.get(arg, arg)).to_dict()

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
    # The `small` architecture trained on ShapesMotion 64x64 (the shipped
    # assets/tokenizer_shapes). 5-frame clips (1 + 4: one latent frame of each kind) cost
    # ~half of 9-frame ones per step, and the causal tokenizer still codes 17-frame
    # clips. fg_weight: the objects are ~2-10% of the pixels and plain L1 + L2
    # reconstructs only the background.
    c.data.update(source="lumos_jax.data.shapes:tokenizer_clips", num_frames=5, height=64,
                  width=64, num_train_clips=4096, num_eval_clips=16)
    c.batch_size = 8
    c.steps = 3000
    c.lr = 2e-3
    c.warmup_steps = 50
    c.lr_schedule = "cosine"
    c.fg_weight = 20.0
    c.log_every = 50
    c.eval_every = c.ckpt_every = 300
    c.keep_ckpts = 1
  if arg == "dv4x8x8":
    c.data.update(num_frames=17, height=256, width=256, num_train_clips=1024,
                  num_eval_clips=32)
    c.batch_size = 8
    c.steps = 100_000
    c.lr = 1e-4
    c.warmup_steps = 1000
    c.log_every = 100
    c.eval_every = c.ckpt_every = 5000
  return c
