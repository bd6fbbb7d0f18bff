# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Train a Lumos-1 model.

  python -m lumos_jax.train --config=configs/t2v.py:tiny --workdir=/tmp/t2v
  python -m lumos_jax.train --config=configs/t2v.py:3.6b-384p --workdir=DIR \
      --config.data.streams.video.sources=array_record:/data/v-*.array_record

Resume priority: the workdir's latest complete checkpoint -> `config.init_from` (an
earlier stage's checkpoint, converted params or a Hugging Face directory) -> scratch.
The loop is lumos_jax.train_loop.run.
"""

from __future__ import annotations

from absl import flags
from ml_collections import config_flags

from lumos_jax import cli, train_lib, train_loop


def _define_flags():
    """Flags exist only when this module is the program (other CLIs define 'config' too)."""
    config_flags.DEFINE_config_file("config", None, "Experiment config file.", lock_config=True)
    flags.DEFINE_string("workdir", None, "Checkpoints, metrics and logs go here.")
    flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise cli.UsageError(f"unexpected arguments {argv[1:]}")
    train_loop.run(flags.FLAGS.config, flags.FLAGS.workdir)


if __name__ == "__main__":
    cli.run(main, _define_flags, catch=(train_lib.NonFiniteError,))
