# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The whole loop on the built-in data, on a CPU: tokenizer -> token records -> train ->
sample -> evaluate.

  python -m lumos_jax.demo --workdir=runs/demo            # what `make demo` runs

1. visual tokenizer: the patch codebook shipped in assets/shapes_codebook (fitted by the
   command in assets/README.md), else fitted here the same way (seconds);
2. ShapesMotion token records (train + validation, video + image streams) and the
   project's BPE text tokenizer, with `lumos_jax.data.prepare`;
3. the `tiny` text-to-video model (joint image + video batches): --train_steps more at
   lr 1e-4 from the shipped parameters (assets/t2v_tiny_params, trained by the command
   in assets/README.md), or from scratch with --init_from='';
4. `lumos_jax.evaluate`: mini-GenEval, mini-VBench, the text-ignoring baseline, a report.
"""

from __future__ import annotations

import json
import os
import time

from absl import flags

from lumos_jax import checkout, cli, config_lib, eval_lib, train_loop
from lumos_jax.data import prepare_job, shapes
from lumos_jax.data.builtin import (
    ASSETS,
    SHIPPED_TOKENIZER,
    records_tokenizer,
    tokenizer_fingerprint,
)
from lumos_jax.tokenizer import codebook


def _stage(name):
    print(f"\n=== {name} ({time.strftime('%H:%M:%S')})", flush=True)


def tokenizer_stage(workdir):
    """The shipped codebook, else one fitted as assets/README.md fits it (train-split
    clips only, never the evaluator's scenes)."""
    if os.path.isdir(SHIPPED_TOKENIZER):
        print(f"using the shipped visual tokenizer {SHIPPED_TOKENIZER}")
        return SHIPPED_TOKENIZER
    out = os.path.join(workdir, "tokenizer")
    if not codebook.is_codebook_dir(out):
        clips = shapes.tokenizer_clips(256, shapes.VIDEO_FRAMES, shapes.SIZE, shapes.SIZE)
        codebook.save(out, codebook.fit(clips, 64), {"source": "shapes train split, 256 clips"})
    print(f"fitted the visual tokenizer {out}")
    return out


def records_stage(data_dir, tokenizer_ckpt, num_train, num_val, text_tokenizer=""):
    for split, num in (("train", num_train), ("validation", num_val)):
        made_by = records_tokenizer(data_dir, split)
        if made_by is not None:
            if made_by.get("params_sha256") != tokenizer_fingerprint(tokenizer_ckpt):
                manifest = os.path.join(data_dir, f"manifest-{split}.json")
                raise ValueError(
                    f"{manifest}: these token records were made with the visual tokenizer "
                    f"{made_by.get('checkpoint')}, not {tokenizer_ckpt}; use a new --workdir "
                    f"(or delete {data_dir} and the t2v run trained on it)"
                )
            print(f"token records for {split} already in {data_dir}")
            continue
        prepare_job.run(
            prepare_job.Options(
                out=data_dir,
                tokenizer_ckpt=tokenizer_ckpt,
                source="shapes",
                split=split,
                num=num,
                text_tokenizer=text_tokenizer,
            )
        )
    return data_dir


def resolve_init(init_from):
    """--init_from: 'shipped' (assets/t2v_tiny_params when present), '' or a path."""
    if init_from == "shipped":
        shipped = os.path.join(ASSETS, "t2v_tiny_params")
        return shipped if os.path.isdir(shipped) else ""
    return os.path.abspath(os.path.expanduser(init_from)) if init_from else ""


def check_params_tokenizer(init_from, tokenizer_ckpt):
    """Refuses t2v params trained on the tokens of another visual tokenizer: their
    export_info.json (lumos_jax.export) names the one their training records came from."""
    info_file = os.path.join(init_from, "export_info.json")
    if not os.path.isfile(info_file):
        return
    with open(info_file) as f:
        made_by = json.load(f).get("visual_tokenizer", {})
    if not made_by.get("params_sha256"):
        return
    sha = tokenizer_fingerprint(tokenizer_ckpt)
    if sha != made_by["params_sha256"]:
        raise ValueError(
            f"{init_from} was trained on tokens of the visual tokenizer {made_by.get('id')} "
            f"({made_by.get('checkpoint')}), not of {tokenizer_ckpt} "
            f"({sha[:16]}): use that tokenizer, or --init_from='' to train from scratch"
        )


def demo_config(
    data_dir, tokenizer_ckpt, steps, init_from="", lr=0.0, batch_size=0, warm_start=False
):
    c = config_lib.experiment("t2v", "tiny")
    c.data.streams.video.sources = f"array_record:{data_dir}/video-train-*.array_record"
    c.data.streams.image.sources = f"array_record:{data_dir}/image-train-*.array_record"
    c.data.streams.image.weight = 1.0  # joint image + video training (release stage 2)
    c.eval_sources = f"array_record:{data_dir}/video-validation-*.array_record"
    c.sampling.text_tokenizer = os.path.join(data_dir, "tokenizer.json")
    c.sampling.tokenizer_ckpt = tokenizer_ckpt
    c.mesh.update(data=-1, fsdp=1, tensor=1)
    # The CPU demo: ShapesMotion videos are <= 530 tokens, so a 544-token bucket pads less
    # than the preset's 640 (a multiple of 128 for TPU splash); dense attention at that
    # length (attention_choice's CPU crossover lies between 512 and 1024 tokens).
    c.data.streams.video.seq_len = 544
    c.model.attention = "dense"
    # Checkpoints at least every 250 steps: a long run resumes, or is exported, from one.
    every = max(1, min(steps // 4, 250))
    c.train.update(steps=steps, eval_every=every, checkpoint_every=every)
    c.optim.total_steps = steps
    if init_from:
        c.init_from = init_from
    if init_from and not warm_start:
        # Continue a trained model: its cosine schedule ended at lr * end_lr_ratio
        # (1e-4); re-warming to 1e-3 would undo part of what it learned.
        c.optim.update(lr=1e-4, warmup_steps=min(10, steps), schedule="constant")
    if lr > 0:
        c.optim.lr = lr
    if batch_size > 0:
        c.data.batch_size = batch_size
    return c


def main(argv):
    del argv
    F = flags.FLAGS
    workdir = os.path.abspath(os.path.expanduser(F.workdir))
    os.makedirs(workdir, exist_ok=True)
    t0 = time.time()
    if F.init_from == "shipped":  # the shipped checkpoints come with a checkout only
        checkout.require(ASSETS, "pass --tokenizer_ckpt=DIR and --init_from=''")
    _stage("1/4 visual tokenizer")
    tok = F.tokenizer_ckpt or tokenizer_stage(workdir)
    init_from = resolve_init(F.init_from)
    if init_from and not F.warm_start:
        check_params_tokenizer(init_from, tok)
    _stage("2/4 ShapesMotion token records")
    # Continuing trained parameters for a few steps needs fewer records than training.
    num_train = F.num_train if F.num_train > 0 else (1024 if init_from else 4096)
    # Shipped parameters come with the text tokenizer they were trained with.
    text_json = os.path.join(ASSETS, "t2v_tiny_tokenizer.json")
    text_json = text_json if init_from and os.path.isfile(text_json) else ""
    data_dir = records_stage(os.path.join(workdir, "tokens"), tok, num_train, F.num_val, text_json)
    _stage("3/4 train the tiny text-to-video model")
    steps = F.train_steps if F.train_steps >= 0 else (100 if init_from else 600)
    config = demo_config(data_dir, tok, steps, init_from, F.lr, F.batch_size, F.warm_start)
    print(
        f"{'continuing ' + init_from if init_from else 'from scratch'}: {steps} steps, "
        f"batch {config.data.batch_size}, lr {config.optim.lr:g} ({config.optim.schedule})"
    )
    train_loop.run(config, os.path.join(workdir, "t2v"))
    if not F.evaluate:
        print(
            json.dumps(
                {
                    "minutes": round((time.time() - t0) / 60, 1),
                    "train_steps": steps,
                    "t2v": os.path.join(workdir, "t2v"),
                }
            )
        )
        return
    _stage("4/4 sample and evaluate")
    r = eval_lib.evaluate(
        config,
        eval_lib.EvalOptions(
            workdir=os.path.join(workdir, "t2v"), per_task=F.per_task, num_videos=F.num_videos
        ),
    )
    summary = {
        "minutes": round((time.time() - t0) / 60, 1),
        **eval_lib.headline(r),
        "init_from": init_from or None,
        "train_steps": steps,
        "report": os.path.join(workdir, "t2v", "eval", "report.md"),
    }
    print(json.dumps(summary))


def _define_flags():
    flags.DEFINE_string("workdir", "runs/demo", "Everything the demo writes goes here.")
    flags.DEFINE_string("tokenizer_ckpt", "", "Use this visual tokenizer checkpoint.")
    flags.DEFINE_integer(
        "num_train",
        -1,
        "Training clips (and as many images); -1: 1024 "
        "when continuing given parameters, 4096 from scratch.",
    )
    flags.DEFINE_integer("num_val", 256, "Validation clips.")
    flags.DEFINE_string(
        "init_from",
        "shipped",
        "t2v start: 'shipped' (assets/t2v_tiny_params "
        "if present, else scratch), '' (scratch) or a params/checkpoint dir.",
    )
    flags.DEFINE_integer(
        "train_steps",
        -1,
        "Steps of the t2v model; -1: 100 from given parameters, 600 from scratch.",
    )
    flags.DEFINE_integer("batch_size", 0, "t2v batch size; 0: the tiny config's (16).")
    flags.DEFINE_bool("evaluate", True, "Run stage 4 (sample and evaluate).")
    flags.DEFINE_bool(
        "warm_start",
        False,
        "--init_from params were trained on another "
        "visual tokenizer's codes: start from them anyway (the text side "
        "carries over; the visual codes are relearned) with the from-scratch "
        "schedule (lr 1e-3 cosine) instead of refusing them.",
    )
    flags.DEFINE_float(
        "lr",
        0.0,
        "Peak learning rate; 0: 1e-3 (cosine) from scratch, "
        "1e-4 (constant) when continuing given parameters.",
    )
    flags.DEFINE_integer("per_task", 6, "mini-GenEval prompts per task.")
    flags.DEFINE_integer("num_videos", 24, "mini-VBench prompts.")


if __name__ == "__main__":
    cli.run(main, _define_flags)
