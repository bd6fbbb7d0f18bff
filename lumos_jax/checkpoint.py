# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Orbax checkpoints of the train state together with the data-iterator state.

Each step directory holds three items: `state` (params + optimizer, sharded arrays),
`data` (the Grain iterator state as JSON) and `meta` (step, config fingerprint), and
SHA256SUMS of every file (checkpoint_integrity). Orbax writes into a temporary directory
and renames it when complete, so a save cut off mid-write is never listed as a step and
never restored; the sums are written into that temporary directory before the rename.
Restoring takes the abstract state of the current mesh as the target, so a checkpoint
restores onto another mesh. `restore_latest` checks the sums first: a damaged step is
moved aside (never deleted) and the previous one is used.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import time

import jax
import orbax.checkpoint as ocp
from absl import logging
from etils import epath
from jax.experimental import multihost_utils

from lumos_jax import checkpoint_integrity as integrity
from lumos_jax import distributed

# How Orbax says a checkpoint holds another tree than the config builds (a config
# change, not damage): such a step is never moved aside.
_MISMATCH = re.compile(
    r"Structure mismatch|not compatible with the stored shape|"
    r"[Ss]hape mismatch"
)


class CheckpointWriteError(OSError):
    """A step could not be written (disk full, I/O error); the steps saved before it
    are untouched (Orbax only renames a complete step into place)."""


def _io_cause(error: BaseException) -> tuple[int | None, str]:
    """(errno, 'No space left on device (writing FILE)') from an error of Orbax's writes:
    an OSError, or TensorStore's text with os_error_code='N'; else its first 300 chars."""
    seen = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            return seen.errno, seen.strerror + (
                f" (writing {seen.filename})" if seen.filename else ""
            )
        code = re.search(r"os_error_code='(\d+)'", str(seen))
        if code:
            path = re.search(r'Failed (?:writing|to write[^"]*): "([^"]+)"', str(seen))
            return int(code.group(1)), os.strerror(int(code.group(1))) + (
                f" (writing {path.group(1)})" if path else ""
            )
        seen = seen.__cause__ or seen.__context__
    return None, " ".join(str(error).split())[:300] or type(error).__name__


class Checkpointer:
    def __init__(
        self, directory: str, *, keep: int = 3, every: int = 1000, async_save: bool = True
    ):
        self.directory = os.path.abspath(directory)
        self.async_save = async_save
        self._saving = None  # the step Orbax is writing now (it gets the sums)
        # Always Orbax's asynchronous saver: its post-finalization hook is where the sums
        # go into the temporary directory; async_save=False waits for each save instead.
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep,
            save_interval_steps=every,
            create=True,
            enable_async_checkpointing=True,
            cleanup_tmp_directories=True,
            async_options=ocp.AsyncOptions(post_finalization_callback=self._write_sums),
        )
        self.manager = ocp.CheckpointManager(
            self.directory, options=options, item_names=("state", "data", "meta")
        )

    def step_dir(self, step: int) -> str:
        return os.path.join(self.directory, str(int(step)))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(
        self,
        step: int,
        state,
        data_state: dict | None,
        meta: dict | None = None,
        force: bool = False,
    ) -> bool:
        args = ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            data=ocp.args.JsonSave(data_state or {}),
            meta=ocp.args.JsonSave({"step": int(step), **(meta or {})}),
        )
        self.wait()  # one save in flight: _saving names it
        with self._writing(int(step)):
            saved = self.manager.save(step, args=args, force=force)
        if saved:
            logging.info("checkpoint: saving step %d to %s", step, self.directory)
        if not self.async_save:
            self.wait()
        return saved

    @contextlib.contextmanager
    def _writing(self, step: int | None):
        """Orbax's errors writing a step (raised here, or in its background thread and
        raised at the next wait) -> one CheckpointWriteError naming directory and cause."""
        if step is not None:
            self._saving = step
        try:
            yield
        except Exception as e:  # noqa: BLE001  (TensorStore reports I/O errors as ValueError)
            code, cause = _io_cause(e)
            failed, self._saving = self._saving, None
            self.manager.reload()  # the failed step is not listed (never renamed in)
            kept = [s for s in self.manager.all_steps() if s != failed]
            error = CheckpointWriteError(
                f"checkpoint step {failed} could not be written to {self.directory}: "
                f"{cause}; the steps saved before it ({', '.join(map(str, kept)) or 'none'}) "
                f"stay valid"
            )
            error.errno = code  # set after: OSError(errno, text) would print '[Errno N]'
            raise error from e

    def _write_sums(self):
        """Orbax's post-finalization hook (background thread, primary process only): the
        step's items are complete in its temporary directory, not yet renamed."""
        pattern = os.path.join(self.directory, f"{self._saving}{ocp.utils.TMP_DIR_SUFFIX}*")
        found = glob.glob(pattern)
        if len(found) != 1:
            raise RuntimeError(
                f"checkpoint step {self._saving}: expected one temporary "
                f"directory {pattern}, found {found}"
            )
        start = time.perf_counter()
        size = integrity.write_sums(found[0])
        logging.info(
            "checkpoint: sha256 of step %d (%.3f GiB) in %.2f s",
            self._saving,
            size / 2**30,
            time.perf_counter() - start,
        )

    def restore(self, abstract_state, step: int | None = None):
        """-> (step, state, data_state, meta) of one step, as saved (no checks, no
        fallback; see restore_latest). `abstract_state` carries the shardings."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no complete checkpoint in {self.directory}")
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract_state),
                data=ocp.args.JsonRestore(),
                meta=ocp.args.JsonRestore(),
            ),
        )
        return step, restored["state"], restored["data"], restored["meta"]

    def restore_latest(self, abstract_state):
        """The newest step whose files match their sums and that loads, as restore()
        returns it; None when no step is listed. A damaged step (sums differ, or one
        saved without sums fails to load) is moved aside with one warning line and the
        previous step is tried; when none is left, FileNotFoundError.

        Several processes: the chief's list of steps is the one tried; a step is damaged
        when the chief's sums or any process's reading of it fails, and the chief decides
        (distributed.share), so every process restores the same step."""
        steps = self._steps()
        if not steps:
            return None
        moved = []
        for i, step in enumerate(steps):
            status, why = self._verify(step)
            if status != "damaged":
                restored, failed = self._try_restore(abstract_state, step)
                if failed is None:
                    return restored
                if status == "ok" or _MISMATCH.search(failed):
                    raise ValueError(
                        f"checkpoint step {step} in {self.directory} does not fit this "
                        f"config or mesh ({failed}); train with the config it was "
                        f"saved with, or use another --workdir"
                    )
                why = f"failed to load: {failed}"
            then = (
                f"falling back to step {steps[i + 1]}"
                if i + 1 < len(steps)
                else "no earlier step is left"
            )
            moved.append(self._move_aside(step, f"{why}; {then}"))
        raise FileNotFoundError(
            f"no intact checkpoint in {self.directory}: every step was damaged and moved "
            f"aside ({', '.join(os.path.basename(m) for m in moved)}); rerun to start from "
            f"config.init_from or from scratch, or use another --workdir"
        )

    def _steps(self) -> list[int]:
        """Newest first: the chief's listing, on every process (shared storage can list
        late on some hosts)."""
        mine = sorted(self.manager.all_steps(), reverse=True)
        return json.loads(distributed.share("checkpoint_steps", json.dumps(mine)))

    def _try_restore(self, abstract_state, step):
        """-> (restored, None), or (None, why) when this or any other process failed."""
        restored, error = None, ""
        try:
            restored = self.restore(abstract_state, step)
        except Exception as e:  # noqa: BLE001  (Orbax and TensorStore raise many kinds)
            error = " ".join(str(e).split())[:300] or type(e).__name__
        errors = distributed.gather(f"checkpoint_restore_{step}", error)
        failed = [(i, text) for i, text in enumerate(errors) if text]
        if not failed:
            return restored, None
        who = f" (process {failed[0][0]})" if len(errors) > 1 else ""
        return None, failed[0][1] + who

    def _verify(self, step: int) -> tuple[str, str]:
        """The chief checks the sums, every other process that it can open each file;
        the chief decides from all verdicts and every process gets its decision."""
        path = self.step_dir(step)
        local = integrity.verify(path) if jax.process_index() == 0 else integrity.readable(path)
        verdicts = distributed.gather(f"checkpoint_verdict_{step}", json.dumps(local))
        decision = ""
        if jax.process_index() == 0:
            decision = json.dumps(_decide([tuple(json.loads(v)) for v in verdicts]))
        return tuple(json.loads(distributed.share(f"checkpoint_decision_{step}", decision)))

    def _move_aside(self, step: int, why: str) -> str:
        path = self.step_dir(step)
        target = path
        if jax.process_index() == 0:
            target = integrity.move_aside(path)
            logging.warning(
                "checkpoint step %d in %s is damaged (%s); moved aside to %s",
                step,
                self.directory,
                why,
                os.path.basename(target),
            )
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices(f"lumos_jax moved step {step} aside")
        self.manager.reload()
        return target

    def intact_status(self) -> str:
        """For error messages: whether the newest checkpoint is known to be intact."""
        self.wait()
        step = self.latest_step()
        if step is None:
            return "no checkpoint was saved yet"
        status, why = integrity.verify(self.step_dir(step))
        if status == "ok":
            return f"the last checkpoint, step {step}, is intact (checksums verified)"
        return f"the last checkpoint, step {step}, is not known to be intact ({why})"

    def reached_preemption(self, step: int) -> bool:
        """True on every process once any process was told to stop (multi-host safe)."""
        return self.manager.reached_preemption(step)

    def wait(self):
        """Until the save in flight is on disk (CheckpointWriteError if it failed)."""
        if self._saving is None:
            return
        with self._writing(None):
            self.manager.wait_until_finished()
        self._saving = None

    def close(self):
        self.wait()
        self.manager.close()


def _decide(verdicts: list[tuple[str, str]]) -> tuple[str, str]:
    """One verdict from every process's (status, why): damaged if any process found it
    damaged (a step only some processes can read is damaged), else the chief's."""
    for i, (status, why) in enumerate(verdicts):
        if status == "damaged":
            return status, why if len(verdicts) == 1 else f"{why}, seen by process {i}"
    return verdicts[0]


def item_metadata(directory: str):
    """The tree metadata (shapes, dtypes) of one saved item: a step's `state/` or a params
    export. Read through the item's handler: a Checkpointer would also look for the step
    metadata file (_CHECKPOINT_METADATA) inside the item directory, where
    CheckpointManager never writes it, and warn on every load that it is missing."""
    return ocp.PyTreeCheckpointHandler().metadata(epath.Path(directory))


def restore_params(path: str, abstract_params):
    """Params saved by `convert_hf` (a bare Orbax PyTree) or the `state` of a train
    checkpoint step directory, restored onto the shardings of `abstract_params`."""
    path = os.path.abspath(path)
    if os.path.isdir(os.path.join(path, "state")):  # a train checkpoint: take its params
        target = {"params": abstract_params}
        args = ocp.args.PyTreeRestore(
            item=target,
            restore_args=ocp.checkpoint_utils.construct_restore_args(target),
            partial_restore=True,
        )
        return ocp.PyTreeCheckpointer().restore(os.path.join(path, "state"), args=args)["params"]
    if not os.path.isdir(path):
        raise FileNotFoundError(f"config init_from={path!r}: no such checkpoint directory")
    return ocp.StandardCheckpointer().restore(path, abstract_params)


def latest_complete_step(directory: str, item: str) -> int | None:
    """The newest step under `directory` (a CheckpointManager root) that holds `item`, or
    None. Orbax renames a step into place only when it is complete, so a listed step is
    whole. Read-only (creates nothing): the loaders of sample, evaluate and the visual
    tokenizer use it; a Checkpointer asks its own manager."""
    if not os.path.isdir(directory):
        return None
    steps = [
        int(n)
        for n in os.listdir(directory)
        if n.isdigit() and os.path.isdir(os.path.join(directory, n, item))
    ]
    return max(steps) if steps else None
