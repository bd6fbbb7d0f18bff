# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Sample the built-in prompt sets, score them exactly, write a report.

  python -m lumos_jax.evaluate --config=configs/t2v.py:tiny --workdir=runs/demo/t2v \
      --config.sampling.tokenizer_ckpt=assets/tokenizer_shapes \
      --config.sampling.text_tokenizer=runs/demo/tokens/tokenizer.json

A thin CLI over lumos_jax.eval_lib (what is sampled, scored and written is described
there). The tokenizers default to those the run's records were made with (recorded in
WORKDIR/tokenizers.json); others are refused. Writes DIR/eval/metrics.json, report.md, grid.png, sample gifs and curves.png and
prints the headline figures as one JSON line.
"""

from __future__ import annotations

import json

from absl import flags
from ml_collections import config_flags

from lumos_jax import cli, eval_lib, layout
from lumos_jax.data import builtin, provenance


def _define_flags():
    config_flags.DEFINE_config_file("config", None, "Experiment config.", lock_config=True)
    flags.DEFINE_string("workdir", None, "Training workdir (its latest checkpoint).")
    flags.DEFINE_string("checkpoint", "", "Explicit checkpoint step dir instead.")
    flags.DEFINE_string("out", "", "Output directory (default WORKDIR/eval).")
    flags.DEFINE_integer("per_task", 6, "mini-GenEval prompts per task.")
    flags.DEFINE_integer("samples_per_prompt", 2, "Images per GenEval prompt.")
    flags.DEFINE_integer("num_videos", 24, "mini-VBench prompts.")
    flags.DEFINE_bool("baseline", True, "Also score the text-ignoring baseline.")
    flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise cli.UsageError(f"unexpected arguments {argv[1:]}")
    F = flags.FLAGS
    opts = eval_lib.EvalOptions(
        workdir=F.workdir,
        out=F.out,
        checkpoint=F.checkpoint,
        per_task=F.per_task,
        samples_per_prompt=F.samples_per_prompt,
        num_videos=F.num_videos,
        baseline=F.baseline,
    )
    # The run's own tokenizers unless the config names others, which must match them.
    params_path = F.checkpoint or F.workdir
    recorded = provenance.use_run_tokenizers(F.config.sampling, params_path)
    if recorded:
        builtin.resolve(F.config, builtin.TOKENIZER_KEYS)
        vocab = layout.vocab_from_config(F.config.vocab)
        provenance.check_sampling_tokenizers(F.config.sampling, vocab, recorded, params_path)
    r = eval_lib.evaluate(F.config, opts)
    print(json.dumps(eval_lib.headline(r)))


if __name__ == "__main__":
    cli.run(main, _define_flags)
