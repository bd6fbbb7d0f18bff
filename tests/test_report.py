"""Evaluation report helpers: the sample grid layout and the training-curve plot."""

import json

import numpy as np

from lumos_jax import report


def test_grid_places_tiles_row_major_with_gaps():
    imgs = np.stack([np.full((4, 3, 3), i, np.uint8) for i in range(5)])
    g = report.grid(imgs, cols=2, pad=1)
    assert g.shape == (3 * 5 + 1, 2 * 4 + 1, 3)
    assert (g[1:5, 1:4] == 0).all() and (g[1:5, 5:8] == 1).all()
    assert (g[6:10, 1:4] == 2).all() and (g[11:15, 1:4] == 4).all()
    assert (g[11:15, 5:8] == 255).all()  # the missing sixth tile stays white
    assert (g[0] == 255).all() and (g[:, 4] == 255).all()


def test_curves_plot_from_metrics_jsonl(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        "\n".join(json.dumps({"step": s, "loss": 7 - s / 10}) for s in range(1, 30))
        + "\n"
        + json.dumps({"step": 20, "eval_loss": 5.5})
        + "\n"
    )
    assert report.curves([str(path)], str(tmp_path / "c.png"))
    assert (tmp_path / "c.png").stat().st_size > 1000
    assert not report.curves([str(tmp_path / "missing.jsonl")], str(tmp_path / "d.png"))
    # A continued run is drawn after the run its params came from.
    assert report.curves([str(path), str(path)], str(tmp_path / "e.png"))


def test_loss_series_split_image_and_video_batches():
    rows = [
        {"step": 1, "loss": 3.0, "frame_loss/0": 3.0},
        {"step": 2, "loss": 5.0, "frame_loss/0": 4.0, "frame_loss/1": 6.0},
        {"step": 2, "eval_loss": 5.5},
        {"step": 3, "lr": 0.1},
    ]
    assert report._loss_series(rows, 10) == {
        "image loss": [(11, 3.0)],
        "video loss": [(12, 5.0)],
        "eval loss (video)": [(12, 5.5)],
    }


def test_table_prints_counts_as_integers():
    lines = report._table("t", {"overall": 0.5, "num_images": 72}, {"overall": 0.25})
    assert "| num_images | 72 | n/a |" in lines and "| overall | 0.500 | 0.250 |" in lines


def test_the_report_says_where_the_run_started(tmp_path):
    from lumos_jax import eval_lib

    assert eval_lib.model_origin("") is None
    (tmp_path / "export_info.json").write_text(
        json.dumps({"step": 4000, "note": "trained on one GPU", "num_params": 5})
    )
    origin = eval_lib.model_origin(str(tmp_path))
    assert origin == {"path": str(tmp_path), "step": 4000, "note": "trained on one GPU"}
    assert report.origin_line(origin) == (
        f"The run started from `{tmp_path}` (step 4000 of "
        "its own training; trained on one GPU), not from "
        "scratch."
    )
    assert report.origin_line({"path": "/ckpt/7"}) == (
        "The run started from `/ckpt/7`, not from scratch."
    )
