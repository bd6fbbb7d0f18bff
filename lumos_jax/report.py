# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The evaluation report: Markdown tables, a grid of sampled frames, gifs, training curves."""
from __future__ import annotations

import os

import numpy as np

from lumos_jax import video_io
from lumos_jax.metrics_io import read_jsonl


def _table(title, model: dict, baseline: dict | None) -> list[str]:
    keys = [k for k, v in model.items() if isinstance(v, (int, float))]
    head = "| metric | model |" + (" text-ignoring baseline |" if baseline else "")
    lines = [f"### {title}", "", head, "|---|---|" + ("---|" if baseline else "")]
    for k in keys:
        b = f" {baseline.get(k, float('nan')):.3f} |" if baseline else ""
        lines.append(f"| {k} | {model[k]:.3f} |{b}")
    return lines + [""]


def grid(images: np.ndarray, cols: int = 8, pad: int = 2) -> np.ndarray:
    """uint8 [N, H, W, 3] -> one uint8 image with `cols` tiles per row, white gaps."""
    n, h, w, _ = images.shape
    rows = -(-n // cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        out[pad + r * (h + pad):pad + r * (h + pad) + h,
            pad + c * (w + pad):pad + c * (w + pad) + w] = img
    return out


def curves(metrics_path: str, out_png: str) -> bool:
    if not os.path.exists(metrics_path):
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = read_jsonl(metrics_path)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in ("loss", "eval_loss"):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        if pts:
            few = key == "eval_loss" or len(pts) < 50  # a lone point needs a marker
            ax.plot(*zip(*pts), label=key, marker="." if few else None)
    ax.set_xlabel("step")
    ax.set_ylabel("masked-token cross-entropy (nats)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return True


def origin_line(origin: dict) -> str:
    """The report's sentence on where the evaluated run started (evaluate.model_origin)."""
    detail = [f"step {origin['step']} of its own training"] if "step" in origin else []
    detail += [origin["note"]] if origin.get("note") else []
    return (f"The run started from `{origin['path']}`"
            + (f" ({'; '.join(detail)})" if detail else "") + ", not from scratch.")


def write(out, results, images, image_caps, videos, video_caps, config, metrics_path):
    video_io.write_png(os.path.join(out, "grid_images.png"), grid(images[:32]))
    video_io.write_png(os.path.join(out, "grid_videos.png"),
                       grid(np.concatenate([videos[:8, f] for f in range(0, videos.shape[1], 4)])))
    gifs = []
    for i, v in enumerate(videos[:8]):
        gifs.append(video_io.write_gif(os.path.join(out, f"video_{i:02d}.gif"), v,
                                       int(config.sampling.fps)))
    has_curves = curves(metrics_path, os.path.join(out, "curves.png"))
    md = ["# lumos_jax evaluation", "",
          f"checkpoint: `{results['checkpoint']}`, prompts: ShapesMotion {results['split']} "
          f"split, sampling: {config.sampling.steps} steps, CFG {config.sampling.guidance}.",
          "Baseline: the same model with the prompt dropped (unconditional branch only).", ""]
    if results.get("init_from"):
        md += [origin_line(results["init_from"]), ""]
    if "tokenizer_upper_bound" in results:
        ub = results["tokenizer_upper_bound"]
        md += [f"Upper bound set by the visual tokenizer (detector on its reconstructions of "
               f"{ub['frames_checked']} validation frames): exact {ub['detector_exact']:.1%}, "
               f"PSNR {ub['psnr_db']:.1f} dB.", ""]
    md += _table("mini-GenEval (text-to-image)", results["geneval"],
                 results.get("baseline_geneval"))
    md += _table("mini-VBench (text-to-video)", results["vbench"], results.get("baseline_vbench"))
    if "vbench_i2v" in results:
        md += _table("mini-VBench (image-to-video)", results["vbench_i2v"], None)
    md += ["## Samples", "", "![images](grid_images.png)", "",
           "Image prompts (row-major): " + "; ".join(image_caps[:32]), "",
           "![video frames 0, 4, 8, 12, 16 (rows) of 8 videos](grid_videos.png)", "",
           "Video prompts: " + "; ".join(f"[{c}](video_{i:02d}.gif)"
                                        for i, c in enumerate(video_caps[:8])), ""]
    if has_curves:
        md += ["## Training curve", "", "![curves](curves.png)", ""]
    md += [f"Sampling took {results['sampling_seconds']:.0f} s in all."]
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
