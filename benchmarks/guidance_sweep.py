# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""mini-GenEval and T2V motion direction of one checkpoint at several CFG scales (and
token-draw temperatures).

  python benchmarks/guidance_sweep.py --workdir=runs/demo/t2v --tokenizer_ckpt=DIR \
      --text_tokenizer=runs/demo/tokens/tokenizer.json --scales=1,3,7,15 [--temperatures=1,0.5]

The release's scales (15 video / 16 image) were tuned for 1-3.6B models; a small model's
best scale can differ. Every scale samples the same prompts with the same seeds, so the
rows differ by the settings alone. Tuning prompts: by default the train split's grammar
with seed 1 (`--split`, `--seed`), never the evaluator's validation / hold-out prompts. Prints a Markdown table and, last, one JSON line.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from lumos_jax import config_lib, eval_lib, report, video_io  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True, help="training workdir (latest checkpoint)")
    p.add_argument("--checkpoint", default="", help="params dir or step dir instead")
    p.add_argument("--tokenizer_ckpt", required=True)
    p.add_argument("--text_tokenizer", required=True)
    p.add_argument("--scales", default="1,3,7,15")
    p.add_argument(
        "--temperatures",
        default="1.0",
        help="softmax temperatures of the token draw (config.sampling.temperature)",
    )
    p.add_argument("--steps", default="", help="masked-decoding steps per frame (list)")
    p.add_argument("--choice", default="", help="re-masking noise tau0 (list)")
    p.add_argument("--no_video", action="store_true", help="images only (mini-GenEval)")
    p.add_argument("--out", default="", help="write a grid of each row's images here")
    p.add_argument("--per_task", type=int, default=4)
    p.add_argument("--num_videos", type=int, default=12)
    p.add_argument("--split", default="train", help="prompt split to tune on")
    p.add_argument("--seed", type=int, default=1, help="prompt seed (the evaluator uses 0)")
    a = p.parse_args()
    config = config_lib.experiment("t2v", "tiny")
    config.mesh.update(data=-1, fsdp=1, tensor=1)
    config.sampling.update(tokenizer_ckpt=a.tokenizer_ckpt, text_tokenizer=a.text_tokenizer)
    gen = eval_lib.Generator(
        config,
        eval_lib.EvalOptions(
            workdir=a.workdir,
            checkpoint=a.checkpoint,
            per_task=a.per_task,
            num_videos=a.num_videos,
            baseline=False,
            split=a.split,
            seed=a.seed,
        ),
    )
    rows = []
    print(
        "| scale | temperature | steps | choice tau | GenEval overall | colours | single | two | counting | "
        "position | "
        "colour attr | motion direction | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    steps = [int(s) for s in a.steps.split(",")] if a.steps else [config.sampling.steps]
    choices = [float(c) for c in a.choice.split(",")] if a.choice else [None]
    combos = [
        (float(s), float(t), n, ch)
        for ch in choices
        for n in steps
        for t in a.temperatures.split(",")
        for s in a.scales.split(",")
    ]
    for scale, temperature, n, choice in combos:
        config.sampling.temperature = temperature
        config.sampling.steps = n
        if choice is not None:
            config.sampling.choice_temperature = choice
        t0 = time.time()
        g, images, _ = eval_lib.run_geneval(gen, guidance=scale)
        v = {} if a.no_video else eval_lib.run_vbench(gen, guidance=scale)[0]
        if a.out:
            os.makedirs(a.out, exist_ok=True)
            tau = config.sampling.choice_temperature
            name = f"images_cfg{scale:g}_t{temperature:g}_s{n}_c{tau:g}.png"
            video_io.write_png(os.path.join(a.out, name), report.grid(images[:48]))
        row = dict(
            scale=scale,
            temperature=temperature,
            steps=n,
            choice=config.sampling.choice_temperature,
            overall=g["overall"],
            colors=g["colors"],
            single=g["single_object"],
            two=g["two_object"],
            counting=g["counting"],
            position=g["position"],
            color_attr=g["color_attr"],
            motion_direction=v.get("motion_direction"),
            seconds=time.time() - t0,
        )
        rows.append(row)
        print(
            "| "
            + " | ".join(f"{x:.3g}" if isinstance(x, float) else str(x) for x in row.values())
            + " |",
            flush=True,
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
