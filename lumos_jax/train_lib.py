# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Pieces of the training loop kept out of train.py's linear main()."""

from __future__ import annotations

import copy
import functools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from lumos_jax import layout, parallel
from lumos_jax.data import builtin, pipeline, provenance
from lumos_jax.model import params as params_lib
from lumos_jax.model.config import ModelConfig
from lumos_jax.train_step import Trainer, model_flops_per_token

GIB = 1024**3


class NonFiniteError(RuntimeError):
    """The loss or gradient norm stopped being finite."""


def validate_config(config) -> None:
    """Cross-section consistency and the model's fields, with the keys to fix named."""
    ModelConfig.from_dict(config.model.to_dict())  # raises naming model.KEY and its values
    vocab = layout.vocab_from_config(config.vocab)
    if config.model.vocab_size != vocab.size or config.model.visual_size != vocab.visual_size:
        raise ValueError(
            f"config model.vocab_size={config.model.vocab_size} and model.visual_size="
            f"{config.model.visual_size}, but the vocab (config.vocab.kind="
            f"{config.vocab.kind}, visual_size={vocab.visual_size}) has {vocab.size} ids: "
            f"pass --config.model.vocab_size={vocab.size} "
            f"--config.model.visual_size={vocab.visual_size} as well"
        )
    check_eval_follows_data(config)
    n = jax.device_count()
    if config.data.batch_size % max(1, n // max(1, config.mesh.tensor)):
        logging.warning(
            "data.batch_size=%d does not divide evenly over the data/fsdp devices",
            config.data.batch_size,
        )


def check_eval_follows_data(config) -> None:
    """The built-in validation records evaluate only a run on the built-in data: with the
    training sources overridden, keeping the preset's eval_sources would log a loss
    measured on another dataset (made with another visual tokenizer)."""
    spec = config.eval_sources
    if not spec or not spec.startswith(builtin.PREFIX):
        return
    for name in sorted(config.data.streams.keys()):
        st = config.data.streams[name]
        if st.weight > 0 and st.sources and not st.sources.startswith(builtin.PREFIX):
            raise ValueError(
                f"config data.streams.{name}.sources={st.sources!r} is your data but "
                f"eval_sources={spec!r} is the built-in data: set "
                f"--config.eval_sources=array_record:GLOB (your validation records) or "
                f"--config.eval_sources='' (no eval loss)"
            )


def check_given_sources(config) -> None:
    """Opens every active source that is not the built-in data (those are made later):
    a wrong path or an empty glob fails with its key named, before anything is built."""
    vocab = layout.vocab_from_config(config.data.vocab)
    for key in builtin.config_keys(config, builtin.DATA_KEYS):
        spec = builtin.get_key(config, key)
        stream = key.rsplit(".", 1)[0]  # data.streams.NAME, or eval_sources itself
        weight = builtin.get_key(config, stream).weight if stream != key else None
        if not spec.startswith(builtin.PREFIX):
            pipeline.open_config_sources(
                spec, key, tfds_data_dir=config.data.tfds_data_dir, vocab=vocab, weight=weight
            )


def check_init_from(config, workdir: str) -> None:
    """config.init_from must exist when it will be used: the workdir holds no checkpoint
    yet (a resumed run restores its own and never reads init_from)."""
    path = os.path.expanduser(config.init_from or "")
    if (
        path
        and not os.path.exists(path)
        and not os.path.isdir(os.path.join(workdir, "checkpoints"))
    ):
        raise FileNotFoundError(
            f"config init_from={config.init_from!r}: no such directory (expected a step "
            f"directory WORKDIR/checkpoints/STEP, a params export or a Hugging Face "
            f"checkpoint directory)"
        )


def eval_data_config(config):
    """The held-out stream (config.eval_sources), unshuffled, one epoch; None if unset.
    (A wrong path already failed in check_given_sources, before the workdir got a file.)"""
    if not config.eval_sources:
        return None
    c = copy.deepcopy(config.data)
    with c.unlocked():
        for name in c.streams:
            c.streams[name].weight = 0.0
        c.streams.video.sources = config.eval_sources
        c.streams.video.weight = 1.0
        c.shuffle = False
        c.num_epochs = 1
        c.num_workers = 0
        c.skip_bad_records = False
        c.pad_final_batch = True  # fewer records than a batch still count (pipeline)
    return c


def initial_state(config, trainer: Trainer, checkpointer, train_iter):
    """Resume priority: workdir's latest checkpoint -> config.init_from -> scratch."""
    tokenizers = record_data_tokenizers(config, os.path.dirname(checkpointer.directory))
    restored = checkpointer.restore_latest(trainer.abstract_state())  # damaged: skipped
    if restored is not None:
        step, state, data_state, _ = restored
        train_iter.set_state(data_state)
        logging.info("resumed from checkpoint step %d", step)
        return state, int(step)
    if config.init_from:
        # Params trained on other codes would start from a wrong embedding: refused.
        provenance.check_same(
            provenance.params_tokenizers(config.init_from),
            f"config init_from={config.init_from}",
            tokenizers,
            "this run's records",
        )
        params = load_init_params(config.init_from, trainer)
        with jax.set_mesh(trainer.mesh):
            state = jax.jit(trainer.state_from_params, out_shardings=trainer.state_shardings)(
                params
            )
        logging.info("initialised parameters from %s", config.init_from)
        return state, 0
    return trainer.init_state(config.seed), 0


def record_data_tokenizers(config, workdir: str) -> dict:
    """The tokenizers this run's records were made with (their prepare manifests), kept
    in WORKDIR/tokenizers.json for sample, evaluate, export and a later init_from; a
    resumed run on records of other tokenizers is refused."""
    entry = provenance.data_tokenizers(config)
    if os.path.isfile(os.path.join(workdir, provenance.RUN_FILE)):
        provenance.check_same(
            provenance.params_tokenizers(workdir),
            f"--workdir={workdir} ({provenance.RUN_FILE})",
            entry,
            "this run's records",
        )
    if entry and jax.process_index() == 0:
        provenance.write_run_record(workdir, entry)
    return entry


def load_init_params(path: str, trainer: Trainer):
    """config.init_from's params (train step, export or Hugging Face dir) on the
    trainer's shardings."""
    vocab = layout.vocab_from_config(trainer.config.vocab)
    return params_lib.load(path, trainer.model_cfg, vocab, trainer.abstract_state()["params"])


def log_memory(compiled) -> None:
    mem = compiled.memory_analysis()
    if mem is None:
        return
    logging.info(
        "compiled train step, per device: arguments %.3f GiB, outputs %.3f GiB, "
        "aliased %.3f GiB, temporaries %.3f GiB",
        mem.argument_size_in_bytes / GIB,
        mem.output_size_in_bytes / GIB,
        mem.alias_size_in_bytes / GIB,
        mem.temp_size_in_bytes / GIB,
    )


@functools.lru_cache(maxsize=None)
def _measured_peak(dtype: str) -> float:
    n = 1024
    a = jnp.ones((n, n), dtype)
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    best = min(_timed(f, a) for _ in range(5))
    return 2 * n**3 / best


def _timed(f, a):
    t = time.perf_counter()
    f(a).block_until_ready()
    return time.perf_counter() - t


def peak_flops_per_device(config) -> float:
    if config.train.peak_tflops:
        return config.train.peak_tflops * 1e12
    # An accelerator in parallel's table; otherwise the peak is measured.
    tflops = parallel.peak_bf16_tflops(jax.devices()[0].device_kind)
    if tflops is not None:
        return tflops * 1e12
    # CPU: a square matmul in the compute dtype, all host devices share the cores.
    return _measured_peak(config.model.dtype) / max(1, jax.local_device_count())


def flops_per_token(trainer: Trainer, seq_len: int) -> float:
    return model_flops_per_token(trainer.model_cfg, seq_len)


def record(
    writer, step, metrics, seconds, shape, config, trainer, peak, mesh, progress=None
) -> None:
    """Fetch a finished step's metrics, abort on non-finite values, write them; the
    console line (progress.Progress) every log_every steps and at least every 30 s."""
    m = jax.device_get(metrics)
    loss, gnorm = float(m["loss"]), float(m["grad_norm"])
    if not (np.isfinite(loss) and np.isfinite(gnorm)):
        # train.py adds whether the last checkpoint is verified intact.
        raise NonFiniteError(
            f"step {step}: non-finite loss={loss} or grad_norm={gnorm} "
            "(lower config.optim.lr or check the data)"
        )
    if progress is not None:
        progress.update(step, loss=loss)
    if step % config.train.log_every and step != config.train.steps:
        return
    tokens = float(np.prod(shape))
    flops = flops_per_token(trainer, shape[1]) * tokens / mesh.size
    scalars = {
        "loss": loss,
        "grad_norm": gnorm,
        "lr": float(m["lr"]),
        "z_loss": float(m["z_loss"]),
        "step_time_s": seconds,
        "tokens_per_s": tokens / seconds,
        "real_tokens": float(m["tokens"]),
        "tflops_per_device": flops / seconds / 1e12,
        "mfu": flops / seconds / peak,
    }
    for f, (v, n) in enumerate(zip(m["frame_loss"], m["frame_count"])):
        if n > 0:
            scalars[f"frame_loss/{f}"] = float(v)
    writer.write_scalars(step, scalars)


def evaluate(writer, step, eval_fn, params, trainer: Trainer, eval_cfg, config) -> float:
    """Mean masked-token loss over `config.train.eval_batches` held-out batches."""
    it = pipeline.make_iterator(eval_cfg)
    total = count = 0.0
    for i, batch in enumerate(it):
        if i >= config.train.eval_batches:
            break
        sums = jax.device_get(eval_fn(params, trainer.device_batch(batch)))
        total += float(sums["nll"])
        count += float(sums["count"])
    it.close()
    if count <= 0:  # a mean over nothing would read as a perfect 0.0
        raise ValueError(
            f"config eval_sources={config.eval_sources!r}: no held-out token carries a "
            f"label in {config.train.eval_batches} batch(es) (config train.eval_batches); "
            f"check the validation records with python -m lumos_jax.data.check"
        )
    loss = total / count
    writer.write_scalars(step, {"eval_loss": loss})
    if jax.process_index() == 0:  # the console's line (clu's logging writer is filtered)
        logging.info(
            "train step %d: eval loss %.4f over %d held-out tokens", step, loss, int(count)
        )
    return loss
