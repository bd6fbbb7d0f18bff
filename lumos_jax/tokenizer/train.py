# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Trains the causal FSQ video tokenizer on reconstruction (L1 + L2).

  python -m lumos_jax.tokenizer.train --config=configs/tokenizer.py:tiny --workdir=DIR

Writes to DIR: checkpoints/ (Orbax), metrics.jsonl (plus TensorBoard summaries when clu's
writers import), gifs/ (original | reconstruction of held-out clips).
Data: any `fn(num_clips, num_frames, height, width, seed) -> uint8 [N, F, H, W, 3]`
(config.data.source, see clips.py); held-out clips use seed + 1.
"""
import importlib.util
import json
import math
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from absl import app, flags, logging
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec as P
from ml_collections import config_flags

from lumos_jax.tokenizer import checkpoint_io
from lumos_jax.tokenizer import clips as clips_lib
from lumos_jax.tokenizer import fsq
from lumos_jax.tokenizer.config import TokenizerConfig
from lumos_jax.tokenizer import model as model_lib

def _define_flags():
  """Flags exist only when this module is the program (lumos_jax.train defines 'config')."""
  config_flags.DEFINE_config_file("config", None, "Training config file.", lock_config=True)
  flags.DEFINE_string("workdir", None, "Output directory.")


# ------------------------------------------------------------------ small utilities

class MetricWriter:
  """metrics.jsonl always; clu's default writer too when it imports (needs tensorboard)."""

  def __init__(self, workdir: str):
    self._file = open(os.path.join(workdir, "metrics.jsonl"), "a")
    self._clu = None
    # clu's writers need tensorboard; checking first skips a slow TF import that would fail.
    if importlib.util.find_spec("tensorboard") is None:
      logging.warning("tensorboard is not installed: writing metrics.jsonl only")
      return
    try:
      from clu import metric_writers  # pylint: disable=g-import-not-at-top
    except ImportError as e:  # clu's metric_writers imports TensorFlow
      logging.warning("no TensorBoard summaries (%s): writing metrics.jsonl only", e)
      return
    self._clu = metric_writers.create_default_writer(workdir, asynchronous=False)

  def write_scalars(self, step: int, scalars: dict) -> None:
    scalars = {k: float(v) for k, v in scalars.items()}
    self._file.write(json.dumps({"step": step, **scalars}) + "\n")
    self._file.flush()
    if self._clu is not None:
      self._clu.write_scalars(step, scalars)
    logging.info("step %d: %s", step, ", ".join(f"{k}={v:.4g}" for k, v in scalars.items()))

  def close(self) -> None:
    self._file.close()
    if self._clu is not None:
      self._clu.close()


def flatten_params(state: nnx.State) -> dict[str, jax.Array]:
  """Param state -> {'encoder.conv_in.0.conv3d.kernel': array}: plain for optax/Orbax."""
  return {".".join(map(str, p)): v.get_value() for p, v in nnx.to_flat_state(state)}


def unflatten_params(template: nnx.State, flat: dict) -> nnx.State:
  return nnx.from_flat_state([(p, v.replace(value=flat[".".join(map(str, p))]))
                              for p, v in nnx.to_flat_state(template)])


def psnr(recon: np.ndarray, video: np.ndarray) -> np.ndarray:
  """Per-clip PSNR in dB for videos in [-1, 1] (peak-to-peak 2): [B, ...] -> [B]."""
  mse = np.mean((np.clip(recon, -1, 1) - video) ** 2, axis=tuple(range(1, video.ndim)))
  return 10 * np.log10(4.0 / np.maximum(mse, 1e-10))


def write_gifs(workdir: str, step: int, video: np.ndarray, recon: np.ndarray, fps: int,
               first_index: int = 0):
  """Side-by-side original | reconstruction gifs, upscaled to >= 128 px high."""
  import imageio.v3 as iio  # pylint: disable=g-import-not-at-top
  out_dir = os.path.join(workdir, "gifs")
  os.makedirs(out_dir, exist_ok=True)
  scale = max(1, 128 // video.shape[2])
  for i, (v, r) in enumerate(zip(video, recon)):
    frames = np.concatenate([clips_lib.to_uint8(v), clips_lib.to_uint8(r)], axis=2)
    frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    iio.imwrite(os.path.join(out_dir, f"step{step:06d}_clip{first_index + i}.gif"), frames,
                duration=1000 / fps, loop=0)


def foreground_mask(video: jnp.ndarray, threshold: float) -> jnp.ndarray:
  """[B, F, H, W, C] in [-1, 1] -> float [B, F, H, W, 1]: 1 where a pixel differs from
  its frame's dominant colour (per-channel median over H, W) by more than `threshold` in
  some channel. With small objects on a (textured) background, the median is the
  background and the mask marks the objects."""
  background = jnp.median(video, axis=(2, 3), keepdims=True)
  return (jnp.max(jnp.abs(video - background), axis=-1, keepdims=True)
          > threshold).astype(video.dtype)


def reconstruction_losses(recon, video, fg_weight: float = 0.0, fg_threshold: float = 0.3):
  """(L1, L2) means; with fg_weight > 0 each pixel's error is weighted by
  1 + fg_weight * foreground_mask(video) (so the plain means are fg_weight = 0)."""
  err = recon - video
  if not fg_weight:
    return jnp.mean(jnp.abs(err)), jnp.mean(jnp.square(err))
  w = 1.0 + fg_weight * foreground_mask(video, fg_threshold)
  return jnp.mean(w * jnp.abs(err)), jnp.mean(w * jnp.square(err))


def edge_loss(recon, video):
  """Mean L1 distance between the spatial finite differences of recon and video
  ([B, F, H, W, C]): the gradient difference loss of Mathieu et al. (2016, "Deep
  multi-scale video prediction beyond mean square error"), alpha = 1. Pixel losses
  are minimised by blurring an edge whose exact position the codes leave uncertain;
  this term is not, so it pushes corners and edges to stay sharp."""
  def diffs(x):
    return x[:, :, 1:, :, :] - x[:, :, :-1, :, :], x[:, :, :, 1:, :] - x[:, :, :, :-1, :]
  (ry, rx), (vy, vx) = diffs(recon), diffs(video)
  return jnp.mean(jnp.abs(ry - vy)) + jnp.mean(jnp.abs(rx - vx))


def make_optimizer(config, flat_params) -> optax.GradientTransformation:
  warmup = max(1, config.warmup_steps)
  kind = config.get("lr_schedule", "constant")
  if kind == "constant":
    after = optax.constant_schedule(config.lr)
  elif kind == "cosine":
    # Cosine from lr to lr * end_lr_ratio over the steps after warm-up. A resumed run
    # with a larger config.steps stretches the remaining curve (the step count is read
    # from the config, not the checkpoint).
    after = optax.cosine_decay_schedule(config.lr, max(1, config.steps - warmup),
                                        alpha=config.get("end_lr_ratio", 0.0))
  else:
    raise ValueError(f"config.lr_schedule={kind!r}: expected 'constant' or 'cosine'")
  schedule = optax.join_schedules([optax.linear_schedule(0.0, config.lr, warmup), after],
                                  [warmup])
  # No weight decay on biases and norm scales (1-D tensors).
  mask = {k: v.ndim > 1 for k, v in flat_params.items()}
  return optax.chain(optax.clip_by_global_norm(config.grad_clip),
                     optax.adamw(schedule, b1=config.b1, b2=config.b2,
                                 weight_decay=config.weight_decay, mask=mask))


# ---------------------------------------------------------------------- main program

def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Runs training to config.steps (resuming from workdir) and returns the last metrics."""
  os.makedirs(workdir, exist_ok=True)
  writer = MetricWriter(workdir)

  # --- Mesh: 1-D data parallel over as many devices as divide the batch.
  n_dev = math.gcd(config.batch_size, jax.device_count())
  mesh = jax.make_mesh((n_dev,), ("data",), axis_types=(jax.sharding.AxisType.Auto,),
                       devices=jax.devices()[:n_dev])
  replicated, batch_sharding = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))

  # --- Data.
  d = config.data
  source = clips_lib.get_source(d.source)
  train_clips = clips_lib.load_clips(source, d.num_train_clips, d.num_frames, d.height,
                                     d.width, config.seed)
  eval_clips = clips_lib.load_clips(source, d.num_eval_clips, d.num_frames, d.height,
                                    d.width, config.seed + 1)
  n_eval = (len(eval_clips) // config.batch_size) * config.batch_size
  if n_eval == 0:
    raise ValueError(f"config.data.num_eval_clips={d.num_eval_clips} must be >= "
                     f"config.batch_size={config.batch_size}")

  # --- Model and optimizer.
  cfg = TokenizerConfig.from_dict(config.model)
  # Loaders read the architecture from this record; resuming with another one is refused.
  recorded, where = checkpoint_io.recorded_config(workdir)
  if recorded is not None and recorded != cfg:
    raise ValueError(f"{where} records another architecture than config.model; use a new "
                     f"--workdir or the recorded config")
  checkpoint_io.write_tokenizer_config(workdir, cfg)
  model = model_lib.create(cfg, config.seed)
  graphdef, template = nnx.split(model, nnx.Param)
  logging.info("tokenizer parameters: %s", f"{model_lib.param_count(template):,}")
  params = flatten_params(template)
  tx = make_optimizer(config, params)
  opt_state = jax.jit(tx.init)(params)  # one compile instead of one per shape

  # --- Steps.
  fg_weight, fg_threshold = config.get("fg_weight", 0.0), config.get("fg_threshold", 0.3)
  edge_weight = config.get("edge_weight", 0.0)
  quant_noise = config.get("quant_noise", 0.0)

  def loss_fn(p, video, key):
    m = nnx.merge(graphdef, unflatten_params(template, p))
    if quant_noise:
      q = fsq.quantize_noisy(m.encode_latent(video), cfg.levels, key, quant_noise)
      recon = m.decode_codes(q)
    else:
      recon = m(video)[0]
    l1, l2 = reconstruction_losses(recon, video, fg_weight, fg_threshold)
    loss = config.l1_weight * l1 + config.l2_weight * l2
    if edge_weight:
      loss = loss + edge_weight * edge_loss(recon, video)
    return loss, (l1, l2)

  def train_step(p, o, frames, step):
    # uint8 travels to the device (4x fewer bytes than float32) and is scaled there.
    video = clips_lib.to_model_range(frames)
    key = jax.random.fold_in(jax.random.key(config.seed), step)
    (loss, (l1, l2)), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, video, key)
    updates, o = tx.update(grads, o, p)
    metrics = {"train/loss": loss, "train/l1": l1, "train/l2": l2,
               "train/psnr": 10 * jnp.log10(4.0 / jnp.maximum(l2, 1e-10)),
               "train/grad_norm": optax.tree.norm(grads)}
    return optax.apply_updates(p, updates), o, metrics

  def eval_step(p, frames):
    video = clips_lib.to_model_range(frames)
    m = nnx.merge(graphdef, unflatten_params(template, p))
    codes = m.encode(video)
    return m.decode(codes), codes

  # fast_compile: XLA optimisation level 0, for CPU smoke tests (compiles ~2x faster).
  opts = ({"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}
          if config.fast_compile else None)
  train_step = jax.jit(train_step,
                       in_shardings=(replicated, replicated, batch_sharding, replicated),
                       out_shardings=replicated, donate_argnums=(0, 1), compiler_options=opts)
  eval_step = jax.jit(eval_step, in_shardings=(replicated, batch_sharding),
                      out_shardings=replicated, compiler_options=opts)

  # --- Checkpoint: resume from the latest step in workdir.
  mngr = ocp.CheckpointManager(
      os.path.join(os.path.abspath(workdir), "checkpoints"),
      options=ocp.CheckpointManagerOptions(max_to_keep=config.keep_ckpts, create=True))
  step = 0
  if mngr.latest_step() is not None:
    step = mngr.latest_step()
    restored = mngr.restore(step, args=ocp.args.Composite(
        params=ocp.args.StandardRestore(jax.device_get(params)),
        opt_state=ocp.args.StandardRestore(jax.device_get(opt_state))))
    params, opt_state = restored["params"], restored["opt_state"]
    logging.info("resumed from step %d", step)
  elif config.get("init_from", ""):
    # A new run starting from trained parameters (fresh optimizer state, step 0); the
    # loader refuses a checkpoint of another architecture than config.model.
    start_model, info = checkpoint_io.load_visual_tokenizer(config.init_from, cfg)
    params = flatten_params(nnx.split(start_model, nnx.Param)[1])
    logging.info("initialised from %s (step %s)", info["checkpoint"], info["step"])
  params, opt_state = jax.device_put((params, opt_state), replicated)

  def save(s):
    # Host copies: params are replicated and small, and saving device arrays costs a
    # per-shape XLA slice program each time.
    p, o = jax.device_get((params, opt_state))
    mngr.save(s, args=ocp.args.Composite(params=ocp.args.StandardSave(p),
                                         opt_state=ocp.args.StandardSave(o)))

  # --- Evaluation: PSNR and code usage on held-out clips, a few gifs.
  def evaluate(s) -> dict:
    psnrs, codes_seen, shown = [], set(), 0
    for i in range(0, n_eval, config.batch_size):
      frames = eval_clips[i:i + config.batch_size]
      video = clips_lib.to_model_range(frames)
      recon, codes = jax.device_get(eval_step(params, jax.device_put(frames, batch_sharding)))
      psnrs.append(psnr(recon, video))
      codes_seen.update(np.unique(codes).tolist())
      if shown < config.num_gifs:
        k = config.num_gifs - shown
        write_gifs(workdir, s, video[:k], recon[:k], config.gif_fps, first_index=shown)
        shown += len(video[:k])
    metrics = {"eval/psnr": float(np.mean(np.concatenate(psnrs))),
               "eval/code_usage": len(codes_seen) / cfg.codebook_size}
    writer.write_scalars(s, metrics)
    return metrics

  # --- Loop; metrics of step s are fetched after step s+1 is dispatched (no host block).
  last, pending, t0, start = {}, None, time.time(), step
  while step < config.steps:
    rng = np.random.default_rng([config.seed, step])
    batch = train_clips[rng.integers(0, len(train_clips), config.batch_size)]
    params, opt_state, metrics = train_step(params, opt_state,
                                            jax.device_put(batch, batch_sharding),
                                            np.int32(step))
    step += 1
    if pending is not None:
      last = _log(writer, *pending, steps_per_s=(step - start) / (time.time() - t0))
      pending = None
    if step % config.log_every == 0 or step == config.steps:
      pending = (step, metrics)
    if step % config.eval_every == 0 or step == config.steps:
      if pending is not None:
        last, pending = _log(writer, *pending), None
      last.update(evaluate(step))
    if step % config.ckpt_every == 0 or step == config.steps:
      save(step)
  mngr.wait_until_finished()
  mngr.close()
  writer.close()
  return {"step": step, **last}


def _log(writer: MetricWriter, step: int, metrics: dict, **extra) -> dict:
  metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
  if not all(math.isfinite(v) for v in metrics.values()):
    raise FloatingPointError(f"non-finite training metrics at step {step}: {metrics}")
  writer.write_scalars(step, {**metrics, **extra})
  return metrics


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  if flags.FLAGS.workdir is None:
    raise app.UsageError("--workdir is required")
  logging.info("config:\n%s", flags.FLAGS.config)
  train_and_evaluate(flags.FLAGS.config, flags.FLAGS.workdir)


if __name__ == "__main__":
  _define_flags()
  app.run(main)
