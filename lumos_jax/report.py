# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The evaluation report: Markdown tables, a grid of sampled frames, gifs, training curves,
and the same in one self-contained report.html (pictures and gifs inlined)."""

from __future__ import annotations

import base64
import dataclasses
import html
import io
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
    image_verdicts: list = dataclasses.field(default_factory=list)  # (correct, reason) each
    holdout_images: np.ndarray | None = None  # [M, H, W, 3], hold-out GenEval samples
    holdout_captions: list = dataclasses.field(default_factory=list)
    holdout_verdicts: list = dataclasses.field(default_factory=list)


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


def write(out, results, config, samples: Samples, metrics_paths: list[str], headline=None):
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
            f"Upper bound set by the visual tokenizer (its reconstructions of "
            f"{ub['frames_checked']} validation and hold-out frames): "
            f"{ub.get('exact', float('nan')):.1%} exact, detector exact on "
            f"{ub['detector_exact']:.1%}, PSNR {ub['psnr_db']:.1f} dB.",
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
        "![videos: frames 0, 4, 8, ... left to right; truth, reconstruction, generated]"
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
    write_html(out, results, config, samples, has_curves, headline)


# ------------------------------------------------------------------ report.html

# The demo's quality bar (issue 23): headline key -> minimum.
BAR = {
    "geneval_overall": 0.8,
    "geneval_colors": 0.95,
    "geneval_counting": 0.7,
    "geneval_position": 0.7,
    "geneval_color_attr": 0.7,
    "motion_direction_t2v": 0.9,
    "motion_direction_i2v": 0.9,
    "compositional_holdout": 0.7,
    "tokenizer_exact": 1.0,
}
_CSS = """body{font-family:sans-serif;margin:20px;max-width:1400px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #bbb;padding:3px 8px}
img{image-rendering:pixelated}.tiles{display:flex;flex-wrap:wrap;gap:10px}
.tile{width:200px;font-size:12px}.ok{color:#080}.bad{color:#b00}
.panel{display:inline-block;margin:6px;font-size:12px;vertical-align:top}"""


def _data_uri(frames, fps=None) -> str:
    """A PNG (one frame [H, W, 3]) or a looping GIF ([F, H, W, 3]) as a data: URI."""
    from PIL import Image  # local: Pillow is only needed for the HTML report

    buf = io.BytesIO()
    frames = np.asarray(frames, np.uint8)
    if frames.ndim == 3:
        Image.fromarray(frames).save(buf, format="PNG")
        kind = "png"
    else:
        images = [Image.fromarray(f) for f in frames]
        ms = int(1000 / max(1, fps or 4))
        images[0].save(
            buf, format="GIF", save_all=True, append_images=images[1:], duration=ms, loop=0
        )
        kind = "gif"
    return f"data:image/{kind};base64," + base64.b64encode(buf.getvalue()).decode()


def _img(frames, scale=2, fps=None, title="") -> str:
    w = np.asarray(frames).shape[-2] * scale
    return f'<img src="{_data_uri(frames, fps)}" width="{w}" title="{html.escape(title)}">'


def _html_table(title, model: dict, baseline: dict | None) -> str:
    rows = "".join(
        f"<tr><td>{k}</td><td>{_fmt(v)}</td>"
        + (f"<td>{_fmt(baseline[k]) if k in baseline else 'n/a'}</td>" if baseline else "")
        + "</tr>"
        for k, v in model.items()
        if isinstance(v, (int, float))
    )
    head = "<tr><th>metric</th><th>model</th>" + (
        "<th>text-ignoring baseline</th>" if baseline else ""
    )
    return f"<h3>{html.escape(title)}</h3><table>{head}</tr>{rows}</table>"


def _bar_table(headline: dict) -> str:
    rows = []
    for k, need in BAR.items():
        v = headline.get(k)
        ok = v is not None and v >= need
        shown = "n/a" if v is None else f"{v:.3f}"
        rows.append(
            f'<tr><td>{k}</td><td class="{"ok" if ok else "bad"}">{shown}</td><td>&ge; {need}</td></tr>'
        )
    return "<table><tr><th>figure</th><th>value</th><th>bar</th></tr>" + "".join(rows) + "</table>"


def _tiles(images, captions, verdicts) -> str:
    out = []
    for i, (img, cap) in enumerate(zip(images, captions)):
        ok, why = verdicts[i] if i < len(verdicts) else (None, "")
        mark = (
            ""
            if ok is None
            else (
                ' <b class="ok">&#10003;</b>'
                if ok
                else f' <b class="bad">&#10007;</b> {html.escape(why)}'
            )
        )
        out.append(f'<div class="tile">{_img(img, 2, title=cap)}<br>{html.escape(cap)}{mark}</div>')
    return '<div class="tiles">' + "".join(out) + "</div>"


def write_html(out, results, config, samples: Samples, has_curves: bool, headline=None) -> str:
    """report.html beside report.md: the bar, every table, truth | reconstruction |
    generated per prompt (pictures and gifs playing side by side), every generated image
    with its prompt and GenEval verdict, the training curves; nothing outside the file."""
    s = config.sampling
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>lumos_jax evaluation</title><style>{_CSS}</style></head><body>"
    ]
    parts.append("<h1>lumos_jax evaluation</h1>")
    parts.append(
        f"<p>checkpoint <code>{html.escape(str(results['checkpoint']))}</code>; prompts: ShapesMotion "
        f"{results['split']} split; sampling {s.steps} steps, CFG {s.guidance_image} (images) / "
        f"{s.guidance} (videos), temperature {s.temperature}.</p>"
    )
    if headline:
        parts.append("<h2>The demo's bar</h2>" + _bar_table(headline))
    parts.append(
        _html_table(
            "mini-GenEval (text-to-image)", results["geneval"], results.get("baseline_geneval")
        )
    )
    if "geneval_holdout" in results:
        parts.append(
            _html_table("mini-GenEval, compositional hold-out", results["geneval_holdout"], None)
        )
    parts.append(
        _html_table(
            "mini-VBench (text-to-video)", results["vbench"], results.get("baseline_vbench")
        )
    )
    if "vbench_i2v" in results:
        parts.append(_html_table("mini-VBench (image-to-video)", results["vbench_i2v"], None))
    ub = results.get("tokenizer_upper_bound")
    if ub:
        parts.append(
            f"<p>Visual tokenizer on {ub['frames_checked']} validation + hold-out frames: "
            f"{ub.get('exact', float('nan')):.1%} reconstructed exactly, detector exact on "
            f"{ub['detector_exact']:.1%}, "
            f"PSNR {ub['psnr_db']:.1f} dB.</p>"
        )
    parts.append("<h2>Images: ground truth | reconstruction | generated</h2>")
    parts += [
        f'<div class="panel">{_img(p, 2, title=c)}<br>{html.escape(c)}</div>'
        for p, c in zip(samples.image_panels, samples.image_panel_captions)
    ]
    parts.append("<h2>Videos: ground truth | reconstruction | generated</h2>")
    parts += [
        f'<div class="panel">{_img(v, 2, fps=int(s.fps) // 2, title=c)}<br>{html.escape(c)}</div>'
        for v, c in zip(samples.video_panels, samples.video_captions)
    ]
    parts.append("<h2>Every generated image (validation prompts)</h2>")
    parts.append(_tiles(samples.images, samples.image_captions, samples.image_verdicts))
    if samples.holdout_images is not None:
        parts.append("<h2>Every generated image (compositional hold-out prompts)</h2>")
        parts.append(
            _tiles(samples.holdout_images, samples.holdout_captions, samples.holdout_verdicts)
        )
    if has_curves:
        from PIL import Image  # local: as in _data_uri

        curve = np.asarray(Image.open(os.path.join(out, "curves.png")).convert("RGB"))
        parts.append("<h2>Training curves</h2>" + _img(curve, 1))
    parts.append(f"<p>Sampling took {results['sampling_seconds']:.0f} s in all.</p></body></html>")
    path = os.path.join(out, "report.html")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(parts))
    os.replace(path + ".tmp", path)
    return path
