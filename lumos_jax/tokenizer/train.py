# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Trains the causal FSQ video tokenizer on reconstruction (L1 + L2).

  python -m lumos_jax.tokenizer.train --config=configs/tokenizer.py:tiny --workdir=DIR
  python -m lumos_jax.tokenizer.train --config=configs/tokenizer.py:tiny --workdir=DIR \\
      --config.data.source=videos:my_videos/clips.csv --config.data.height=64 \\
      --config.data.width=64

Writes to DIR: checkpoints/, tokenizer_config.json, train_config.json, metrics.jsonl
(plus TensorBoard summaries when clu's writers import), gifs/ (original | reconstruction
of held-out clips); see lumos_jax.tokenizer.train_loop, which holds the loop. The
console shows a progress line (steps done of the total, loss, rate, ETA) and the eval
scores; SIGTERM or Ctrl-C saves the step reached and exits 0 (rerun to resume).
"""

import json
import os

from absl import flags
from ml_collections import config_flags

from lumos_jax import cli
from lumos_jax.tokenizer import train_loop


def _define_flags():
    """Flags exist only when this module is the program (lumos_jax.train defines 'config')."""
    config_flags.DEFINE_config_file("config", None, "Training config file.", lock_config=True)
    flags.DEFINE_string("workdir", None, "Output directory.")


def main(argv):
    if len(argv) > 1:
        raise cli.UsageError(f"unexpected arguments {argv[1:]}")
    if flags.FLAGS.workdir is None:
        raise cli.UsageError("--workdir is required")
    config, workdir = flags.FLAGS.config, flags.FLAGS.workdir
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "train_config.json"), "w") as f:
        json.dump(config.to_dict(), f, indent=1, sort_keys=True, default=str)
    result = train_loop.train_and_evaluate(config, workdir)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    cli.run(main, _define_flags, catch=(FloatingPointError,))
