# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The evaluation report: Markdown tables, a grid of sampled frames, gifs, training curves."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from lumos_jax import video_io
from lumos_jax.metrics_io import read_jsonl


@dataclasses.dataclass
class Samples:
    """What the report shows. Panels are ground truth | tokenizer reconstruction |
    generated side by side: image_panels uint8 [N, H, 3W, 3], video_panels [N, F, H, 3W, 3]."""

    images: np.ndarray  # [N, H, W, 3], every GenEval sample
    image_captions: list
    image_panels: np.ndarray
    image_panel_captions: list
    video_panels: np.ndarray
    video_captions: list


def _fmt(v) -> str:
    """Counts (num_images, num_videos) as integers, scores with 3 decimals."""
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else f"{v:.3f}"


def _table(title, model: dict, baseline: dict | None) -> list[str]:
    keys = [k for k, v in model.items() if isinstance(v, (int, float))]
    head = "| metric | model |" + (" text-ignoring baseline |" if baseline else "")
    lines = [f"### {title}", "", head, "|---|---|" + ("---|" if baseline else "")]
    for k in keys:
        b = f" {_fmt(baseline[k]) if k in baseline else 'n/a'} |" if baseline else ""
        lines.append(f"| {k} | {_fmt(model[k])} |{b}")
    return lines + [""]


def grid(images: np.ndarray, cols: int = 8, pad: int = 2) -> np.ndarray:
    """uint8 [N, H, W, 3] -> one uint8 image with `cols` tiles per row, white gaps."""
    n, h, w, _ = images.shape
    rows = -(-n // cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        out[
            pad + r * (h + pad) : pad + r * (h + pad) + h,
            pad + c * (w + pad) : pad + c * (w + pad) + w,
        ] = img
    return out


def _loss_series(rows: list[dict], offset: int) -> dict[str, list]:
    """{name: [(step, loss)]}: training rows split by stream (an image batch has one latent
    frame, so only frame_loss/0; a video batch more) and the held-out eval loss."""
    out = {"image loss": [], "video loss": [], "eval loss (video)": []}
    for r in rows:
        if "loss" in r:
            name = "video loss" if "frame_loss/1" in r else "image loss"
            out[name].append((offset + r["step"], r["loss"]))
        if "eval_loss" in r:
            out["eval loss (video)"].append((offset + r["step"], r["eval_loss"]))
    return out


def curves(metrics_paths: list[str], out_png: str) -> bool:
    """Training curves of one run, or of a run continued from another's params (the
    earlier file first; the later run's steps are drawn after the earlier's last)."""
    paths = [p for p in metrics_paths if os.path.exists(p)]
    if not paths:
        return False
    import matplotlib  # local: the Agg backend is selected before pyplot first loads

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # local: after matplotlib.use('Agg')

    fig, ax = plt.subplots(figsize=(7, 4))
    offset = start = 0  # start: where the last run's steps begin
    for n, path in enumerate(paths):
        rows = read_jsonl(path)
        for name, pts in _loss_series(rows, offset).items():
            if pts:
                label = name if n == 0 else f"{name}, continued"
                ax.plot(*zip(*pts), label=label, marker="." if len(pts) < 50 else None)
        start = offset
        offset += max((r["step"] for r in rows if "step" in r), default=0)
    if len(paths) > 1:
        ax.axvline(start, color="gray", ls=":")
    ax.set_xlabel("step")
    ax.set_ylabel("masked-token cross-entropy (nats)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return True


def origin_line(origin: dict) -> str:
    """The report's sentence on where the evaluated run started (evaluate.model_origin)."""
    detail = [f"step {origin['step']} of its own training"] if "step" in origin else []
    detail += [origin["note"]] if origin.get("note") else []
    return (
        f"The run started from `{origin['path']}`"
        + (f" ({'; '.join(detail)})" if detail else "")
        + ", not from scratch."
    )


def write(out, results, config, samples: Samples, metrics_paths: list[str]):
    video_io.write_png(os.path.join(out, "grid_images.png"), grid(samples.images[:32]))
    video_io.write_png(os.path.join(out, "compare_images.png"), grid(samples.image_panels, 2))
    frames = range(0, samples.video_panels.shape[1], 4)
    video_io.write_png(
        os.path.join(out, "compare_videos.png"),
        grid(np.concatenate([samples.video_panels[:, f] for f in frames], 1), 1),
    )
    for i, v in enumerate(samples.video_panels):
        video_io.write_gif(os.path.join(out, f"video_{i:02d}.gif"), v, int(config.sampling.fps))
    has_curves = curves(metrics_paths, os.path.join(out, "curves.png"))
    s = config.sampling
    md = [
        "# lumos_jax evaluation",
        "",
        f"checkpoint: `{results['checkpoint']}`, prompts: ShapesMotion {results['split']} "
        f"split, sampling: {s.steps} steps, CFG {s.guidance_image} for images and "
        f"{s.guidance} for videos.",
        "Baseline: the same model with the prompt dropped (unconditional branch only).",
        "",
    ]
    if results.get("init_from"):
        md += [origin_line(results["init_from"]), ""]
    if "tokenizer_upper_bound" in results:
        ub = results["tokenizer_upper_bound"]
        md += [
            f"Upper bound set by the visual tokenizer (detector on its reconstructions of "
            f"{ub['frames_checked']} validation frames): exact {ub['detector_exact']:.1%}, "
            f"PSNR {ub['psnr_db']:.1f} dB.",
            "",
        ]
    md += _table(
        "mini-GenEval (text-to-image)", results["geneval"], results.get("baseline_geneval")
    )
    if "geneval_holdout" in results:
        md += _table(
            "mini-GenEval on the compositional hold-out (colour-shape pairs never in training)",
            results["geneval_holdout"],
            None,
        )
    md += _table("mini-VBench (text-to-video)", results["vbench"], results.get("baseline_vbench"))
    if "vbench_i2v" in results:
        md += _table("mini-VBench (image-to-video)", results["vbench_i2v"], None)
    md += [
        "## Samples",
        "",
        "Each panel: ground truth | its tokenizer reconstruction | generated.",
        "",
        "![images: truth, reconstruction, generated](compare_images.png)",
        "",
        "Image prompts (row-major): " + "; ".join(samples.image_panel_captions),
        "",
        "![videos: frames 0, 4, 8, 12, 16 left to right; truth, reconstruction, generated]"
        "(compare_videos.png)",
        "",
        "Video prompts (rows; gifs): "
        + "; ".join(f"[{c}](video_{i:02d}.gif)" for i, c in enumerate(samples.video_captions)),
        "",
        "Every generated image: ![images](grid_images.png)",
        "",
        "Image prompts (row-major): " + "; ".join(samples.image_captions[:32]),
        "",
    ]
    if has_curves:
        md += ["## Training curve", "", "![curves](curves.png)", ""]
    md += [f"Sampling took {results['sampling_seconds']:.0f} s in all."]
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
