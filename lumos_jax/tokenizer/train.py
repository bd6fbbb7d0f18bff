# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Trains the causal FSQ video tokenizer on reconstruction (L1 + L2).

  python -m lumos_jax.tokenizer.train --config=configs/tokenizer.py:tiny --workdir=DIR

Writes to DIR: checkpoints/, tokenizer_config.json, metrics.jsonl (plus TensorBoard
summaries when clu's writers import), gifs/ (original | reconstruction of held-out
clips); see lumos_jax.tokenizer.train_loop, which holds the loop.
"""

from absl import app, flags, logging
from ml_collections import config_flags

from lumos_jax.tokenizer import train_loop


def _define_flags():
    """Flags exist only when this module is the program (lumos_jax.train defines 'config')."""
    config_flags.DEFINE_config_file("config", None, "Training config file.", lock_config=True)
    flags.DEFINE_string("workdir", None, "Output directory.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    if flags.FLAGS.workdir is None:
        raise app.UsageError("--workdir is required")
    logging.info("config:\n%s", flags.FLAGS.config)
    train_loop.train_and_evaluate(flags.FLAGS.config, flags.FLAGS.workdir)


if __name__ == "__main__":
    _define_flags()
    app.run(main)
