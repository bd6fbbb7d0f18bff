# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""benchmarks/step_vs_reference.py: its two sequences are the official timing cases, token
by token, and its last JSON line carries a ratio only for an official time passed in."""

import importlib.util
import json
import os
import subprocess

import numpy as np
import pytest

from lumos_jax import layout

_PATH = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "step_vs_reference.py")
_spec = importlib.util.spec_from_file_location("step_vs_reference", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

# Release ids, written out from reference section 1 (not read from lumos_jax.layout).
BOS, SEP, VIDEO_START, VIDEO_END = 0, 8710, 9004, 9005
IMAGE_START, IMAGE_END, NEWLINE, SIZE0, VISUAL0 = 8197, 8196, 8803, 8804, 65536


def expected_layout(text_ids, codes, height_tok, width_tok):
    """The release layout, token by token in plain loops: tokens, segments, visual, positions."""
    toks = [BOS, *text_ids, SEP, VIDEO_START, SIZE0 + 1, SIZE0 + 8]  # duration 1 s, 8 fps
    segs, vis = [-1] * len(toks), [0] * len(toks)
    pos = [(i, i, i) for i in range(len(toks))]
    s0 = len(toks) + 3  # the first code of frame 0: after its image_start and two size tokens
    for f, frame in enumerate(codes):
        for t in (IMAGE_START, height_tok, width_tok):
            pos.append((len(toks),) * 3)
            toks.append(t), segs.append(f), vis.append(0)
        for r, row in enumerate(frame):
            for c, code in enumerate([*row, None]):  # None: the row's newline
                toks.append(NEWLINE if code is None else VISUAL0 + int(code))
                segs.append(f), vis.append(1)
                pos.append((s0 + 4 * f, s0 + 8 * r, s0 + 8 * c))
        pos.append((len(toks),) * 3)
        toks.append(IMAGE_END), segs.append(f), vis.append(0)
    for t in (VIDEO_END, SEP):
        pos.append((len(toks),) * 3)
        toks.append(t), segs.append(-1), vis.append(0)
    return toks, segs, vis, pos


@pytest.mark.parametrize(
    # L, code grid, size tokens (H/32, W/32), tokens per frame: case B is 96x64 px,
    # the 256p case 448x256 px; 3 + rows * (cols + 1) + 1 per frame.
    "seq_len, rows, cols, height_tok, width_tok, per_frame",
    [(339, 8, 12, SIZE0 + 2, SIZE0 + 3, 108), (5499, 32, 56, SIZE0 + 8, SIZE0 + 14, 1828)],
)
def test_official_cases_token_by_token(seq_len, rows, cols, height_tok, width_tok, per_frame):
    vocab = layout.release_vocab()
    text_ids, codes, seq = bench.official_case(seq_len, vocab)
    assert len(text_ids) == 8 and codes.shape == (3, rows, cols)
    assert codes.min() >= 0 and codes.max() < 64000
    assert all(0 <= t < 65536 for t in text_ids)
    # 10 text-range tokens, the 3-token video header, 3 frames, video_end + separator.
    assert 10 + 3 + 3 * per_frame + 2 == seq_len == len(seq)
    toks, segs, vis, pos = expected_layout(text_ids, codes, height_tok, width_tok)
    assert seq.tokens.tolist() == toks
    assert seq.segments.tolist() == segs
    assert seq.visual.tolist() == vis
    assert [tuple(p) for p in seq.positions.tolist()] == pos
    assert toks[10] == VIDEO_START and toks.count(IMAGE_START) == 3
    padded = layout.pad_to(seq, seq_len, vocab)  # what the benchmark feeds: no padding
    assert (padded["segments"] != layout.PAD).all()


def test_other_lengths_and_bad_official_flags_are_refused(capsys):
    with pytest.raises(ValueError, match="not an official case"):
        bench.official_case(1000, layout.release_vocab())
    for argv, msg in [
        (["--lengths=339,1000"], "1000 is not an official case"),
        (["--official_s=5499:18.86"], "needs --official_date"),
        (["--official_s=5499:18.86", "--official_date=5 Dec"], "needs --official_date"),
        (["--lengths=339", "--official_s=5499:18.86"], "is not L:SECONDS"),
        (["--official_s=18.86", "--official_date=2026-12-05"], "is not L:SECONDS"),
    ]:
        with pytest.raises(SystemExit):
            bench.parse_args(argv)
        assert msg in capsys.readouterr().err


def _run_main(monkeypatch, capsys, argv):
    """main() with each child process replaced by a fixed row (no timing runs)."""

    def fake_run(cmd, **kw):
        L = int(next(a for a in cmd if a.startswith("--one="))[6:])
        row = {"seq_len": L, "attention": "dense", "step_s": 2.0, "mfu": 0.25}
        row.update(model_tflops=1.0, peak_gflops=400.0, peak_rss_gib=1.5)
        return subprocess.CompletedProcess(cmd, 0, json.dumps(row) + "\n", "")

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    monkeypatch.setattr("sys.argv", ["step_vs_reference.py", *argv])
    bench.main()
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_last_json_line_has_a_ratio_only_for_a_given_official_time(monkeypatch, capsys):
    out = _run_main(monkeypatch, capsys, [])
    for row in out["rows"]:
        assert "speedup_vs_official" not in row and "official_s" not in row
        assert row["mfu"] == 0.25 and row["peak_rss_gib"] == 1.5  # names kept for readers
    assert [r["seq_len"] for r in out["rows"]] == [339, 5499]
    out = _run_main(monkeypatch, capsys, ["--official_s=5499:5.0", "--official_date=2026-12-05"])
    r339, r5499 = out["rows"]
    assert "speedup_vs_official" not in r339
    assert r5499["speedup_vs_official"] == 2.5  # 5.0 s given / 2.0 s ours
    assert (r5499["official_s"], r5499["official_date"]) == (5.0, "2026-12-05")
    assert np.isclose(r5499["step_s"], 2.0)
