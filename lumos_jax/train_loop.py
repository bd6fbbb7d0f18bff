# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The training loop of a Lumos-1 model: `run(config, workdir)`, what `python -m
lumos_jax.train` (the CLI) and the demo call.

Resume priority: the workdir's latest complete checkpoint -> `config.init_from` (an
earlier stage's checkpoint, converted params or a Hugging Face directory) -> scratch.
"""

from __future__ import annotations

import os
import time

import jax
from absl import logging

from lumos_jax import checkpoint as ckpt_lib
from lumos_jax import cli, distributed, metrics_io, parallel, preemption, train_lib, workdir_lock
from lumos_jax.data import builtin, pipeline
from lumos_jax.model import attention_choice
from lumos_jax.progress import Progress
from lumos_jax.train_step import Trainer


def run(config, workdir: str, *, crash_after: int | None = None) -> int:
    """Train until config.train.steps (or preemption); returns the last step reached.

    crash_after: stop abruptly after that many steps of this invocation, saving nothing
    (what a killed process leaves behind; used by the resume tests).
    """
    workdir = os.path.abspath(os.path.expanduser(workdir))
    # First of all: a SIGTERM during start-up (even a compile) is a clean exit 0.
    stop = preemption.StopSignal()
    stop.install()
    try:
        step = _run(config, workdir, stop, crash_after)
        distributed.mark_clean_exit()
        return step
    except preemption.Stopped as e:
        stop.handled()
        logging.warning("%s", e)
        distributed.mark_clean_exit()
        return e.step
    except Exception as e:
        distributed.await_verdict(e)  # a lost peer: one line naming it, not a traceback
        raise
    finally:
        stop.uninstall()


def _run(config, workdir, stop, crash_after) -> int:
    # ------------------------------------------------------------------ distributed
    stop.stage = "connecting the processes"
    distributed.initialize(config.distributed)  # first: before anything touches a backend
    is_chief = jax.process_index() == 0
    if jax.process_count() > 1:
        stop.jax_owns_sigterm()

    # ------------------------------------------- config and data (before the workdir)
    # Everything a user can get wrong fails here, before the workdir gets a file.
    stop.stage = "checking the config and data"
    try:
        train_lib.validate_config(config)
    except ValueError as e:  # a config value on the command line: bad usage
        raise cli.UsageError(str(e)) from e
    train_lib.check_init_from(config, workdir)
    train_lib.check_given_sources(config)  # before minutes of building built-in data
    stop.stage = "building the built-in data"
    builtin.resolve(config)  # the tiny presets' built-in records, made on first use
    stop.stage = "opening the data"
    train_iter = pipeline.make_iterator(config.data)
    try:
        eval_cfg = train_lib.eval_data_config(config)

        # --------------------------------------------------------- one trainer here
        # The chief holds WORKDIR/.lock until it returns (the kernel drops it if the
        # process dies); a second trainer stops here, before writing anything. The other
        # processes of this job share the workdir by design (only the chief writes).
        lock = _lock_workdir(workdir, is_chief)
        try:
            return _train(config, workdir, is_chief, train_iter, eval_cfg, stop, crash_after)
        finally:
            if lock is not None:
                lock.release()
    finally:
        train_iter.close()


def _lock_workdir(workdir, is_chief):
    """The chief's lock; its refusal reaches every process of the job (each exits 1 with
    the same line) instead of leaving the others to wait for a chief that is gone."""
    lock, refusal = None, ""
    if is_chief:
        try:
            lock = workdir_lock.acquire(workdir)
        except workdir_lock.WorkdirInUseError as e:
            refusal = str(e)
    refusal = distributed.share("workdir_lock", refusal)
    if refusal:
        raise workdir_lock.WorkdirInUseError(refusal)
    return lock


def _train(config, workdir, is_chief, train_iter, eval_cfg, stop, crash_after) -> int:
    """`run` once the config and data are checked and the workdir is locked."""
    os.makedirs(workdir, exist_ok=True)

    # ---------------------------------------------------------------------- logging
    _record_config(config, workdir, is_chief)

    # ------------------------------------------------------------------------- mesh
    mesh = parallel.make_mesh(dict(config.mesh))
    logging.info("mesh: %s", dict(mesh.shape))
    trainer = Trainer(config, mesh)

    # ------------------------------------------------------------ state / checkpoint
    checkpointer, state, start, writer = _restore(
        config, workdir, is_chief, trainer, train_iter, stop
    )

    # ------------------------------------------------------------ compile + memory
    compiled_for = _compiler(trainer, mesh, stop)
    stop.stage = "reading the first batch"
    batch = trainer.device_batch(next(train_iter))
    eval_fn = trainer.jit_eval_step() if eval_cfg is not None else None
    peak = train_lib.peak_flops_per_device(config)

    # ------------------------------------------------------------------------ loop
    report, progress = _progress_displays(config, writer, start, is_chief)
    pending = None  # (step, device metrics, step seconds): fetched one step late
    t_last = time.perf_counter()
    step = start
    try:
        with jax.set_mesh(mesh):
            while step < config.train.steps:
                if config.train.profile_start == step and is_chief:
                    jax.profiler.start_trace(os.path.join(workdir, "profile"))
                compiled = compiled_for(state, batch)
                stop.start_training()  # from here a SIGTERM saves the step in flight
                state, metrics = compiled(state, batch)
                step += 1
                if crash_after is not None and step - start >= crash_after:
                    checkpointer.wait()
                    return step
                if pending is not None:
                    train_lib.record(writer, *pending, config, trainer, peak, mesh, progress)
                now = time.perf_counter()
                pending = (step, metrics, now - t_last, batch["tokens"].shape)
                t_last = now
                if (
                    config.train.profile_start >= 0
                    and is_chief
                    and step == config.train.profile_start + config.train.profile_steps
                ):
                    jax.profiler.stop_trace()
                report(step)
                stop_now = stop.requested or checkpointer.reached_preemption(step)
                if step < config.train.steps and not stop_now:
                    batch = trainer.device_batch(next(train_iter))  # overlaps the step
                if eval_fn is not None and step % config.train.eval_every == 0:
                    train_lib.evaluate(
                        writer, step, eval_fn, state["params"], trainer, eval_cfg, config
                    )
                if _save_due(config, step, stop_now):
                    # The step's row is on disk before its checkpoint: a kill after the
                    # save cannot lose it (a resume drops the rows after the restored step).
                    train_lib.record(writer, *pending, config, trainer, peak, mesh, progress)
                    pending = None
                    writer.flush()
                    checkpointer.save(step, state, _data_state(train_iter, step), force=True)
                if stop_now:
                    logging.warning("preemption: saved step %d, exiting", step)
                    break
        if pending is not None:
            train_lib.record(writer, *pending, config, trainer, peak, mesh, progress)
    except train_lib.NonFiniteError as e:  # say whether the checkpoint to go back to is sound
        raise train_lib.NonFiniteError(f"{e}; {checkpointer.intact_status()}") from None
    checkpointer.close()
    writer.flush()
    logging.info("done at step %d", step)
    return step


def _record_config(config, workdir, is_chief) -> None:
    # "auto" attention resolved here (after distributed.initialize: it reads the devices)
    # so config.json records the path this run uses.
    attention_choice.resolve(config)
    if is_chief:
        with open(os.path.join(workdir, "config.json"), "w") as f:
            f.write(config.to_json_best_effort(indent=1))
    logging.info(
        "devices: %d (%d per process), backend %s",
        jax.device_count(),
        jax.local_device_count(),
        jax.default_backend(),
    )


def _restore(config, workdir, is_chief, trainer, train_iter, stop):
    """-> (checkpointer, state, start step, metrics writer): the state to continue from
    (train_lib.initial_state's priority) and the metrics file cut back to that step."""
    stop.stage = "restoring the state"
    checkpointer = _checkpointer(config, workdir)
    state, start = train_lib.initial_state(config, trainer, checkpointer, train_iter)
    stop.step = start
    if is_chief:  # rows of steps after `start` are run (and written) again
        metrics_io.drop_rows_after(os.path.join(workdir, metrics_io.METRICS_NAME), start)
        metrics_io.drop_events_after(workdir, start)  # TensorBoard's events: the same cut
    writer = metrics_io.create_writer(workdir, is_chief)
    return checkpointer, state, start, writer


def _progress_displays(config, writer, start, is_chief):
    """-> (clu's report(step), the console Progress or None): the chief's only."""
    report = metrics_io.progress_reporter(config.train.steps, writer if is_chief else None)
    progress = (
        Progress(
            "train", config.train.steps, every=config.train.log_every, start=start, log=logging.info
        )
        if is_chief
        else None
    )
    return report, progress


def _save_due(config, step, stop_now) -> bool:
    """A checkpoint after this step: preemption, the last step, or every checkpoint_every."""
    return stop_now or step == config.train.steps or step % config.train.checkpoint_every == 0


def _checkpointer(config, workdir) -> ckpt_lib.Checkpointer:
    return ckpt_lib.Checkpointer(
        os.path.join(workdir, "checkpoints"),
        keep=config.train.keep_checkpoints,
        every=config.train.checkpoint_every,
        async_save=config.train.async_checkpoint,
    )


def _compiler(trainer, mesh, stop):
    """-> compiled_for(state, batch): one executable per bucket shape (image and video
    streams), compiled on first use with its memory analysis logged."""
    step_fn = trainer.jit_train_step()
    compiled_by_shape = {}

    def compiled_for(state, batch):
        shape = batch["tokens"].shape
        if shape not in compiled_by_shape:
            stop.stage = "compiling the train step"
            logging.info("compiling the train step for batch %s", shape)
            with jax.set_mesh(mesh):
                compiled_by_shape[shape] = step_fn.lower(state, batch).compile()
            logging.info("compiled the train step for batch %s", shape)
            train_lib.log_memory(compiled_by_shape[shape])
        return compiled_by_shape[shape]

    return compiled_for


def _data_state(it, step):
    """The iterator state after `step` batches were consumed (the prefetched one is not)."""
    state = dict(it.get_state())
    state["next_batch"] = int(step)
    return state
