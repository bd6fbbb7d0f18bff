# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The visual tokenizer's training loop (reconstruction: L1 + L2, optional foreground
weighting, edge loss and noisy quantisation), on the same infrastructure as
lumos_jax.train: optim (warmup + AdamW), checkpoint.Checkpointer, metrics_io.

`train_and_evaluate(config, workdir)` writes to workdir: checkpoints/STEP (the
Checkpointer's items: `state` = {params, opt_state}, where params is the flat dict
{'encoder.conv_in.0.conv3d.kernel': array}), tokenizer_config.json (the architecture),
metrics.jsonl (plus TensorBoard summaries when clu's writers import) and gifs/ (original |
reconstruction of held-out clips). Workdirs written before issue 17 hold
checkpoints/STEP/{params,opt_state}: they resume too.
Data: any `fn(num_clips, num_frames, height, width, seed) -> uint8 [N, F, H, W, 3]`
(config.data.source, see clips.py); held-out clips use seed + 1.
"""

import dataclasses
import math
import os
import signal
import threading

import jax
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from absl import logging
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from lumos_jax import checkpoint as ckpt_lib
from lumos_jax import metrics_io, optim, parallel, pixels, video_io
from lumos_jax.progress import Progress
from lumos_jax.tokenizer import checkpoint_io, fsq, losses
from lumos_jax.tokenizer import clips as clips_lib
from lumos_jax.tokenizer import model as model_lib
from lumos_jax.tokenizer.config import TokenizerConfig

SCHEDULES = ("constant", "cosine")


def flatten_params(state: nnx.State) -> dict[str, jax.Array]:
    """Param state -> {'encoder.conv_in.0.conv3d.kernel': array}: plain for optax/Orbax."""
    return {".".join(map(str, p)): v.get_value() for p, v in nnx.to_flat_state(state)}


def unflatten_params(template: nnx.State, flat: dict) -> nnx.State:
    return nnx.from_flat_state(
        [(p, v.replace(value=flat[".".join(map(str, p))])) for p, v in nnx.to_flat_state(template)]
    )


def make_optimizer(config, flat_params) -> optax.GradientTransformation:
    """lumos_jax.optim's warmup + AdamW from the tokenizer config's flat keys (lr,
    warmup_steps, lr_schedule, end_lr_ratio, steps, grad_clip, b1, b2, weight_decay)."""
    kind = config.lr_schedule
    if kind not in SCHEDULES:
        raise ValueError(f"config.lr_schedule={kind!r}: expected 'constant' or 'cosine'")
    cfg = ml_collections.ConfigDict(
        dict(
            lr=config.lr,
            # At least one warm-up step: step 0 runs at lr 0 (the trainer always did).
            warmup_steps=max(1, config.warmup_steps),
            schedule=kind,
            total_steps=config.steps,
            # A resumed run with a larger config.steps stretches the remaining cosine.
            end_lr_ratio=config.end_lr_ratio,
            clip=config.grad_clip,
            b1=config.b1,
            b2=config.b2,
            eps=1e-8,  # optax's default
            weight_decay=config.weight_decay,
            decay_norms=False,
        )
    )
    return optim.make_optimizer(cfg, mask=optim.decay_mask_by_rank(flat_params))


def _step_functions(config, cfg, graphdef, template, tx, mesh):
    """(jitted train step, jitted eval step) over a 1-D data mesh, params replicated."""
    fg_weight, fg_threshold = config.fg_weight, config.fg_threshold
    edge_weight = config.edge_weight
    quant_noise = config.quant_noise

    def loss_fn(p, video, key):
        m = nnx.merge(graphdef, unflatten_params(template, p))
        if quant_noise:
            recon = m.decode_codes(
                fsq.quantize_noisy(m.encode_latent(video), cfg.levels, key, quant_noise)
            )
        else:
            recon = m(video)[0]
        l1, l2 = losses.reconstruction_losses(recon, video, fg_weight, fg_threshold)
        loss = config.l1_weight * l1 + config.l2_weight * l2
        if edge_weight:
            loss = loss + edge_weight * losses.edge_loss(recon, video)
        return loss, (l1, l2)

    def train_step(p, o, frames, step):
        # uint8 travels to the device (4x fewer bytes than float32) and is scaled there.
        video = pixels.to_model_range(frames)
        key = jax.random.fold_in(jax.random.key(config.seed), step)
        (loss, (l1, l2)), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, video, key)
        updates, o = tx.update(grads, o, p)
        metrics = {
            "train/loss": loss,
            "train/l1": l1,
            "train/l2": l2,
            "train/psnr": pixels.psnr_db(l2, peak=2.0),
            "train/grad_norm": optax.tree.norm(grads),
        }
        return optax.apply_updates(p, updates), o, metrics

    def eval_step(p, frames):
        m = nnx.merge(graphdef, unflatten_params(template, p))
        codes = m.encode(pixels.to_model_range(frames))
        return m.decode(codes), codes

    replicated, batch = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    opts = parallel.compiler_options(config.fast_compile)
    train_step = jax.jit(
        train_step,
        in_shardings=(replicated, replicated, batch, replicated),
        out_shardings=replicated,
        donate_argnums=(0, 1),
        compiler_options=opts,
    )
    eval_step = jax.jit(
        eval_step, in_shardings=(replicated, batch), out_shardings=replicated, compiler_options=opts
    )
    return train_step, eval_step


def _restore(checkpointer, target: dict):
    """(step, {params, opt_state}) of the workdir's latest checkpoint, or None."""
    step = checkpointer.latest_step()
    if step is None:
        return None
    step_dir = checkpointer.step_dir(step)
    if os.path.isdir(os.path.join(step_dir, "params")):  # the layout before issue 17
        reader = ocp.StandardCheckpointer()
        return step, {k: reader.restore(os.path.join(step_dir, k), target[k]) for k in target}
    step, state, _, _ = checkpointer.restore_latest(target)  # sums checked, falls back
    return step, state


def _write_gifs(workdir, step, video, recon, fps, first_index=0):
    """Side-by-side original | reconstruction gifs, upscaled to >= 128 px high."""
    out_dir = os.path.join(workdir, "gifs")
    os.makedirs(out_dir, exist_ok=True)
    scale = max(1, 128 // video.shape[2])
    for i, (v, r) in enumerate(zip(video, recon)):
        frames = np.concatenate([pixels.to_uint8(v), pixels.to_uint8(r)], axis=2)
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
        video_io.write_gif(
            os.path.join(out_dir, f"step{step:06d}_clip{first_index + i}.gif"), frames, fps
        )


def _fetch(step: int, metrics: dict) -> dict:
    """Fetches a finished step's metrics; stops on non-finite values."""
    metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
    if not all(math.isfinite(v) for v in metrics.values()):
        raise FloatingPointError(f"non-finite training metrics at step {step}: {metrics}")
    return metrics


def _write(writer, step: int, scalars: dict) -> None:
    writer.write_scalars(step, scalars)
    logging.info("step %d: %s", step, ", ".join(f"{k}={v:.4g}" for k, v in scalars.items()))


def _evaluate(config, workdir, step, eval_step, params, eval_clips, batch_sharding, cfg):
    """PSNR and code usage on the held-out clips (whole batches), the first gifs."""
    psnrs, codes_seen, shown = [], set(), 0
    n_eval = (len(eval_clips) // config.batch_size) * config.batch_size
    for i in range(0, n_eval, config.batch_size):
        frames = eval_clips[i : i + config.batch_size]
        video = pixels.to_model_range(frames)
        recon, codes = jax.device_get(eval_step(params, jax.device_put(frames, batch_sharding)))
        # Per clip, the reconstruction clipped to the pixel range first.
        mse = np.mean((np.clip(recon, -1, 1) - video) ** 2, axis=tuple(range(1, video.ndim)))
        psnrs.append(pixels.psnr_db(mse, peak=2.0))
        codes_seen.update(np.unique(codes).tolist())
        if shown < config.num_gifs:
            k = config.num_gifs - shown
            _write_gifs(workdir, step, video[:k], recon[:k], config.gif_fps, first_index=shown)
            shown += len(video[:k])
    return {
        "eval/psnr": float(np.mean(np.concatenate(psnrs))),
        "eval/code_usage": len(codes_seen) / cfg.codebook_size,
    }


def _load_clips(config):
    """(train clips, held-out clips): uint8 [N, F, H, W, 3]. Held-out ones come from the
    source's eval split when it has one (video files: clips never trained on), else from
    seed + 1 (generated sources)."""
    d = config.data
    source = clips_lib.get_source(d.source)
    split = clips_lib.takes_split(source)
    train_clips = clips_lib.load_clips(
        source,
        d.num_train_clips,
        d.num_frames,
        d.height,
        d.width,
        config.seed,
        **(dict(split="train") if split else {}),
    )
    eval_clips = clips_lib.load_clips(
        source,
        d.num_eval_clips,
        d.num_frames,
        d.height,
        d.width,
        config.seed + 1,
        **(dict(split="eval") if split else {}),
    )
    if len(eval_clips) < config.batch_size:
        raise ValueError(
            f"config.data.num_eval_clips={d.num_eval_clips} must be >= "
            f"config.batch_size={config.batch_size}"
        )
    return train_clips, eval_clips


def _record_architecture(workdir: str, cfg: TokenizerConfig) -> None:
    """Loaders read the architecture from this record; resuming with another is refused."""
    recorded, where = checkpoint_io.recorded_config(workdir)
    if recorded is not None and recorded != cfg:
        raise ValueError(
            f"{where} records another architecture than config.model; use a new "
            f"--workdir or the recorded config"
        )
    checkpoint_io.write_tokenizer_config(workdir, cfg)


def _initial_state(config, cfg, checkpointer, params, opt_state):
    """(step, params, opt_state): the workdir's latest checkpoint, else config.init_from's
    params with a fresh optimizer state, else the initialisation given (host arrays)."""
    # Host targets: Orbax restores numpy, placed on the mesh by the caller.
    restored = _restore(checkpointer, jax.device_get({"params": params, "opt_state": opt_state}))
    if restored is not None:
        step, state = restored
        logging.info("resumed from step %d", step)
        return step, state["params"], state["opt_state"]
    if config.init_from:
        # A new run starting from trained parameters (fresh optimizer state, step 0); the
        # loader refuses a checkpoint of another architecture than config.model.
        start_model, info = checkpoint_io.load_visual_tokenizer(config.init_from, cfg)
        params = flatten_params(nnx.split(start_model, nnx.Param)[1])
        logging.info("initialised from %s (step %s)", info["checkpoint"], info["step"])
    return 0, params, opt_state


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Runs training to config.steps (resuming from workdir) and returns the last metrics."""
    os.makedirs(workdir, exist_ok=True)

    # ------------------------------------------------------------------------- mesh
    # 1-D data parallel over as many devices as divide the batch.
    n_dev = math.gcd(config.batch_size, jax.device_count())
    mesh = jax.make_mesh(
        (n_dev,), ("data",), axis_types=(jax.sharding.AxisType.Auto,), devices=jax.devices()[:n_dev]
    )
    replicated, batch_sharding = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))

    # ------------------------------------------------------------------------- data
    train_clips, eval_clips = _load_clips(config)

    # ------------------------------------------------------------ model + optimizer
    cfg = TokenizerConfig.from_dict(config.model)
    _record_architecture(workdir, cfg)
    graphdef, template = nnx.split(model_lib.create(cfg, config.seed), nnx.Param)
    logging.info("tokenizer parameters: %s", f"{model_lib.param_count(template):,}")
    params = flatten_params(template)
    tx = make_optimizer(config, params)
    opt_state = jax.jit(tx.init)(params)  # one compile instead of one per shape
    train_step, eval_step = _step_functions(config, cfg, graphdef, template, tx, mesh)

    # ------------------------------------------------------------ state / checkpoint
    checkpointer = ckpt_lib.Checkpointer(
        os.path.join(os.path.abspath(workdir), "checkpoints"),
        keep=config.keep_ckpts,
        every=config.ckpt_every,
    )
    step, params, opt_state = _initial_state(config, cfg, checkpointer, params, opt_state)
    params, opt_state = jax.device_put((params, opt_state), replicated)
    metrics_io.drop_rows_after(os.path.join(workdir, metrics_io.METRICS_NAME), step)
    writer = metrics_io.create_writer(workdir, is_chief=True)

    # ------------------------------------------------------------------------- loop
    loop = _Loop(config, workdir, train_step, eval_step, batch_sharding, cfg, writer)
    with _StopRequest() as stop:
        step, last = loop.run(step, params, opt_state, train_clips, eval_clips, checkpointer, stop)
    checkpointer.close()
    writer.close()
    return {"step": step, **last}


class _StopRequest:
    """SIGTERM or SIGINT (Ctrl-C) during training: the loop finishes the step in flight,
    saves it and returns (exit 0), instead of losing the steps since the last checkpoint."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.name, self._previous = "", {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # signals live there
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        del frame
        if self.name:  # a second Ctrl-C: the default behaviour (stop now)
            raise KeyboardInterrupt
        self.name = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


@dataclasses.dataclass
class _Loop:
    config: ml_collections.ConfigDict
    workdir: str
    train_step: object
    eval_step: object
    batch_sharding: object
    cfg: TokenizerConfig
    writer: object

    def run(self, step, params, opt_state, train_clips, eval_clips, checkpointer, stop):
        """Trains to config.steps (or a stop request) -> (last step, last metrics).
        Metrics of step s are fetched after step s+1 is dispatched (no host block)."""
        config, last, pending = self.config, {}, None
        progress = Progress(
            "tokenizer train", config.steps, every=config.log_every, start=step, log=logging.info
        )
        while step < config.steps:
            rng = np.random.default_rng([config.seed, step])
            batch = train_clips[rng.integers(0, len(train_clips), config.batch_size)]
            params, opt_state, metrics = self.train_step(
                params, opt_state, jax.device_put(batch, self.batch_sharding), np.int32(step)
            )
            step += 1
            if pending is not None:
                last, pending = self._log(*pending, progress), None
            if step % config.log_every == 0 or step == config.steps or stop.name:
                pending = (step, metrics)
            if step % config.eval_every == 0 or step == config.steps:
                if pending is not None:
                    last, pending = self._log(*pending, progress), None
                scores = _evaluate(
                    config,
                    self.workdir,
                    step,
                    self.eval_step,
                    params,
                    eval_clips,
                    self.batch_sharding,
                    self.cfg,
                )
                _write(self.writer, step, scores)
                last.update(scores)
            if step % config.ckpt_every == 0 or step == config.steps or stop.name:
                if pending is not None:
                    last, pending = self._log(*pending, progress), None
                self.writer.flush()  # the step's rows are on disk before its checkpoint
                # Host copies: params are replicated and small, and saving device arrays
                # costs a per-shape XLA slice program each time.
                state = jax.device_get({"params": params, "opt_state": opt_state})
                checkpointer.save(step, state, None, force=True)
            if stop.name:
                checkpointer.wait()
                logging.warning(
                    "%s: saved step %d in %s; run the same command to resume",
                    stop.name,
                    step,
                    checkpointer.directory,
                )
                break
        return step, last

    def _log(self, step, metrics, progress) -> dict:
        """A finished step's metrics: metrics.jsonl, and the console's progress line
        (with the total and an ETA) when due."""
        metrics = _fetch(step, metrics)
        self.writer.write_scalars(step, metrics)
        progress.update(
            step,
            loss=metrics["train/loss"],
            psnr=metrics["train/psnr"],
            force=step == progress.total,
        )
        return metrics
