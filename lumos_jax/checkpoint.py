# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Orbax checkpoints of the train state together with the data-iterator state.

Each step directory holds three items: `state` (params + optimizer, sharded arrays),
`data` (the Grain iterator state as JSON) and `meta` (step, config fingerprint). Orbax
writes into a temporary directory and renames it when complete, so a save cut off
mid-write is never listed as a step and never restored. Restoring takes the abstract
state of the current mesh as the target, so a checkpoint restores onto another mesh.
"""
from __future__ import annotations

import os

import orbax.checkpoint as ocp
from absl import logging
from etils import epath


class Checkpointer:
    def __init__(self, directory: str, *, keep: int = 3, every: int = 1000,
                 async_save: bool = True):
        self.directory = os.path.abspath(directory)
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, save_interval_steps=every, create=True,
            enable_async_checkpointing=async_save, cleanup_tmp_directories=True)
        self.manager = ocp.CheckpointManager(self.directory, options=options,
                                             item_names=("state", "data", "meta"))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state, data_state: dict | None, meta: dict | None = None,
             force: bool = False) -> bool:
        args = ocp.args.Composite(state=ocp.args.StandardSave(state),
                                  data=ocp.args.JsonSave(data_state or {}),
                                  meta=ocp.args.JsonSave({"step": int(step), **(meta or {})}))
        saved = self.manager.save(step, args=args, force=force)
        if saved:
            logging.info("checkpoint: saving step %d to %s", step, self.directory)
        return saved

    def restore(self, abstract_state, step: int | None = None):
        """-> (step, state, data_state, meta). `abstract_state` carries the shardings."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no complete checkpoint in {self.directory}")
        restored = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore(),
            meta=ocp.args.JsonRestore()))
        return step, restored["state"], restored["data"], restored["meta"]

    def reached_preemption(self, step: int) -> bool:
        """True on every process once any process was told to stop (multi-host safe)."""
        return self.manager.reached_preemption(step)

    def wait(self):
        self.manager.wait_until_finished()

    def close(self):
        self.manager.wait_until_finished()
        self.manager.close()


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
            item=target, restore_args=ocp.checkpoint_utils.construct_restore_args(target),
            partial_restore=True)
        return ocp.PyTreeCheckpointer().restore(os.path.join(path, "state"), args=args)["params"]
    if not os.path.isdir(path):
        raise FileNotFoundError(f"config init_from={path!r}: no such checkpoint directory")
    return ocp.StandardCheckpointer().restore(path, abstract_params)
