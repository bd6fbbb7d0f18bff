# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""`prepare`: media helpers, directory and CSV inputs with a corrupt file, --strict,
resumability, and the built-in ShapesMotion source."""

import glob
import json
import os

import av
import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import nnx
from PIL import Image

from lumos_jax import layout
from lumos_jax.data import media, prepare, prepare_inputs, prepare_job, records, sources
from lumos_jax.tokenizer import checkpoint_io, text
from lumos_jax.tokenizer import config as tokenizer_config
from lumos_jax.tokenizer import model as model_lib

VOCAB = layout.compact_vocab()
FAST = ["--fast_compile", "--batch_size=2", "--decode_threads=2"]


# ------------------------------------------------------------------ fixtures


def write_mp4(path, frames: int, width: int, height: int, fps: int = 24) -> None:
    """A moving-gradient clip encoded with PyAV (libx264, yuv420p)."""
    ys, xs = np.mgrid[:height, :width]
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        for t in range(frames):
            rgb = np.stack(
                [(xs * 4 + t * 8) % 256, (ys * 4) % 256, np.full_like(xs, 128)], -1
            ).astype(np.uint8)
            for packet in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)


@pytest.fixture(scope="module")
def tokenizer_ckpt(tmp_path_factory):
    """A tiny visual tokenizer checkpoint in lumos_jax.tokenizer.train's layout."""
    workdir = tmp_path_factory.mktemp("tok")
    model = model_lib.create(tokenizer_config.get("tiny"), seed=0)
    flat = {
        ".".join(map(str, p)): np.asarray(v.get_value())
        for p, v in nnx.to_flat_state(nnx.state(model, nnx.Param))
    }
    mngr = ocp.CheckpointManager(
        str(workdir / "checkpoints"), options=ocp.CheckpointManagerOptions(create=True)
    )
    mngr.save(
        5,
        args=ocp.args.Composite(
            params=ocp.args.StandardSave(flat), opt_state=ocp.args.StandardSave({"n": np.zeros(1)})
        ),
    )
    mngr.wait_until_finished()
    mngr.close()
    checkpoint_io.write_tokenizer_config(str(workdir), tokenizer_config.get("tiny"))
    return str(workdir)


@pytest.fixture(scope="module")
def text_tok(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "tokenizer.json"
    text.train_bpe(prepare_inputs.shapes_prompts(num=100), 448).save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory):
    """3 good clips (2 buckets), 1 image, 1 corrupt file, 1 too-short clip, captions."""
    d = tmp_path_factory.mktemp("media")
    write_mp4(d / "a_wide.mp4", 30, 96, 48)  # bucket 64x32 at target 64
    write_mp4(d / "b_wide.mp4", 24, 128, 64)
    write_mp4(d / "c_square.mp4", 30, 40, 40)  # bucket 64x64
    write_mp4(d / "d_short.mp4", 2, 64, 64)  # 2 frames: too short
    (d / "e_corrupt.mp4").write_bytes(b"this is not a video" * 50)
    Image.fromarray(np.full((70, 70, 3), 200, np.uint8)).save(d / "f_still.png")
    for name in ("a_wide", "b_wide", "c_square"):
        (d / f"{name}.txt").write_text(f"caption of {name}\n")
    return d


def base_args(out, ckpt, text_file):
    return [
        f"--out={out}",
        f"--tokenizer_ckpt={ckpt}",
        f"--text_tokenizer={text_file}",
        "--target=64",
        "--num_frames=9",
        "--fps=12",
        *FAST,
    ]


def read_all(pattern):
    src = sources.ArrayRecordSource(sorted(glob.glob(pattern)))
    return [src.read(i) for i in range(len(src))]


# ------------------------------------------------------------------ media helpers


def test_bucket_size_matches_reference_examples():
    assert media.bucket_size(1280, 720, 352) == (448, 256)
    assert media.bucket_size(1920, 1080, 528) == (672, 384)
    assert media.bucket_size(720, 1280, 352) == (256, 448)
    assert media.bucket_size(64, 64, 64) == (64, 64)
    for w, h in [(640, 272), (176, 144), (333, 1000)]:
        bw, bh = media.bucket_size(w, h, 352)
        assert bw % 32 == bh % 32 == 0 and (bw // 32) * (bh // 32) <= 11**2


def test_resample_and_frame_counts():
    times = np.arange(50) / 25.0  # 2 s at 25 fps -> 12 fps
    idx = media.resample_indices(times, 2.0, 12, 100)
    assert len(idx) == 24 and idx[0] == 0 and idx[12] == 25
    assert media.valid_frame_count(24) == 21 and media.valid_frame_count(4) == 1
    frames = np.zeros((3, 48, 96, 3), np.uint8)
    assert media.center_crop_resize(frames, 64, 32).shape == (3, 32, 64, 3)


# ------------------------------------------------------------------ file inputs


def test_directory_with_corrupt_and_short_files(media_dir, tokenizer_ckpt, text_tok, tmp_path):
    out = tmp_path / "out"
    assert prepare.main([f"--videos={media_dir}", *base_args(out, tokenizer_ckpt, text_tok)]) == 0
    manifest = json.loads((out / "manifest-train.json").read_text())
    assert manifest["counts"] == dict(inputs=6, records=4, failed=2, empty_captions=3)
    failed = {f["file"]: f["error"] for f in manifest["failures"]}
    assert set(failed) == {"e_corrupt.mp4", "d_short.mp4"} and "too short" in failed["d_short.mp4"]
    assert manifest["buckets"] == {"3x32x64": 2, "3x64x64": 1, "1x64x64": 1}
    assert manifest["visual_tokenizer"]["step"] == 5
    tok = text.load(str(out / "tokenizer.json"), VOCAB)
    videos = read_all(str(out / "video-train-*.array_record"))
    assert [r.record_id for r in videos] == ["a_wide.mp4", "b_wide.mp4", "c_square.mp4"]
    for r in videos:
        rows, cols = r.height // 8, r.width // 8
        assert r.codes.shape == (3, rows, cols) and (r.fps, r.duration) == (12, 1)
        assert tok.decode(r.text_ids) == layout.prompt_text(
            r.caption, width=r.width, height=r.height, frames=9, fps=12
        )
        seq = layout.build_sequence(
            r.text_ids,
            r.codes,
            fps=r.fps,
            duration=r.duration,
            height=r.height,
            width=r.width,
            vocab=VOCAB,
        )
        assert len(seq) == r.sequence_length() and not records.problems(r, VOCAB)
    (image,) = read_all(str(out / "image-train-*.array_record"))
    assert image.codes.shape == (1, 8, 8) and (image.fps, image.duration) == (1, 1)
    assert image.caption == ""  # no .txt beside it


def test_strict_stops_at_a_bad_file(media_dir, tokenizer_ckpt, text_tok, tmp_path, capsys):
    out = tmp_path / "out"
    rc = prepare.main(
        [f"--videos={media_dir}", "--strict", *base_args(out, tokenizer_ckpt, text_tok)]
    )
    assert rc == 1 and not (out / "manifest-train.json").exists()
    # Inputs without a caption are refused first, named, before any decoding.
    err = capsys.readouterr().err
    assert "--strict: 3 of 6 inputs have no caption (d_short.mp4, e_corrupt.mp4" in err


def test_csv_input(media_dir, tokenizer_ckpt, text_tok, tmp_path):
    csv = media_dir / "list.csv"
    csv.write_text(
        f'path,caption\nc_square.mp4,"a square, slowly"\n{media_dir / "a_wide.mp4"},wide one\n'
    )
    out = tmp_path / "out"
    assert prepare.main([f"--videos={csv}", *base_args(out, tokenizer_ckpt, text_tok)]) == 0
    recs = read_all(str(out / "video-train-*.array_record"))
    assert [(r.caption, r.height, r.width) for r in recs] == [
        ("a square, slowly", 64, 64),
        ("wide one", 32, 64),
    ]


def test_resume_skips_finished_shards(media_dir, tokenizer_ckpt, text_tok, tmp_path, monkeypatch):
    out = tmp_path / "out"
    args = [f"--videos={media_dir}", "--shard_size=1", *base_args(out, tokenizer_ckpt, text_tok)]
    assert prepare.main(args) == 0
    first = json.loads((out / "manifest-train.json").read_text())
    shards = sorted(glob.glob(str(out / "video-train-*.array_record")))
    assert len(shards) == 5  # one per video input, failed ones give empty shards
    # An interrupted run: shard 1 never renamed, a half-written temp file left behind.
    os.remove(shards[1])
    with open(shards[1] + ".tmp", "wb") as f:
        f.write(b"half written")
    assert shards[1] + ".tmp" not in glob.glob(str(out / "video-train-*.array_record"))
    calls = []
    real = prepare_job.tokenize_items
    monkeypatch.setattr(
        prepare_job, "tokenize_items", lambda items, ctx: calls.append(items) or real(items, ctx)
    )
    assert prepare.main(args) == 0
    assert [[it.name for it in c] for c in calls] == [["b_wide.mp4"]]
    assert not os.path.exists(shards[1] + ".tmp")
    again = json.loads((out / "manifest-train.json").read_text())
    assert again["counts"] == first["counts"] and again["streams"] == first["streams"]
    # Other settings on the same output are refused instead of mixed in.
    assert prepare.main(args[: -len(FAST)] + ["--fps=6", *FAST]) == 1


# ------------------------------------------------------------------ built-in data


def test_shapes_source_file_names(tokenizer_ckpt, tmp_path):
    out = tmp_path / "shapes_tokens"
    assert (
        prepare.main(
            [
                "--source=shapes",
                "--split=validation",
                "--num=3",
                "--shard_size=2",
                f"--out={out}",
                f"--tokenizer_ckpt={tokenizer_ckpt}",
                *FAST,
            ]
        )
        == 0
    )
    names = sorted(n for n in os.listdir(out) if n.endswith(".array_record"))
    assert names == [
        f"{s}-validation-{k:05d}.array_record" for s in ("image", "video") for k in (0, 1)
    ]
    tok = text.load(str(out / "tokenizer.json"), VOCAB)
    assert tok.size <= 448
    video, image = read_all(str(out / "video-*")), read_all(str(out / "image-*"))
    assert [r.codes.shape for r in video] == [(3, 12, 12)] * 3  # 9 frames of 96x96
    assert [r.codes.shape for r in image] == [(1, 12, 12)] * 3
    # 9 frames at 8 fps: 1.1 s, duration token 1.
    assert (video[0].fps, video[0].duration, image[0].fps, image[0].duration) == (8, 1, 1, 1)
    assert video[0].record_id == "shapes_motion-0-validation-00000000"
    assert tok.decode(video[0].text_ids) == layout.prompt_text(
        video[0].caption, width=96, height=96, frames=9, fps=8
    )
    manifest = json.loads((out / "manifest-validation.json").read_text())
    assert manifest["counts"] == dict(inputs=6, records=6, failed=0, empty_captions=0)


def test_train_records_never_show_a_held_out_pair(tokenizer_ckpt, tmp_path):
    """The compositional hold-out tests colour-shape pairs the t2v model never saw: no
    training record's caption names one (every caption names at least one pair)."""
    import re

    from lumos_jax.data import shapes

    out = tmp_path / "train_tokens"
    assert (
        prepare.main(
            [
                "--source=shapes",
                "--split=train",
                "--num=48",
                "--shard_size=48",
                f"--out={out}",
                f"--tokenizer_ckpt={tokenizer_ckpt}",
                *FAST,
            ]
        )
        == 0
    )
    word = re.compile(r"\b(%s) (%s)s?\b" % ("|".join(shapes.PALETTE), "|".join(shapes.SHAPES)))
    records = read_all(str(out / "video-*")) + read_all(str(out / "image-*"))
    assert len(records) == 96
    for r in records:
        pairs = set(word.findall(r.caption))
        assert pairs and not pairs & shapes.HOLDOUT_PAIRS, r.caption
    held = [shapes.sample_meta(0, "holdout", i)["caption"] for i in range(8)]
    assert all(set(word.findall(c)) & shapes.HOLDOUT_PAIRS for c in held)  # the parse works


def test_load_frame_is_the_centred_crop_the_training_frames_get(tmp_path):
    """The i2v first frame (sample --image) goes through data preparation's decode and
    crop: an 8-wide image into a 4x4 frame keeps columns 2..5 (no resize needed)."""
    a = np.arange(4 * 8 * 3, dtype=np.uint8).reshape(4, 8, 3)
    Image.fromarray(a).save(tmp_path / "x.png")
    np.testing.assert_array_equal(media.load_frame(str(tmp_path / "x.png"), 4, 4), a[:, 2:6])
    with pytest.raises(media.MediaError, match="cannot decode image"):
        (tmp_path / "bad.png").write_text("hello")
        media.load_frame(str(tmp_path / "bad.png"), 4, 4)


# ------------------------------------------------------------------ issue 26: own videos


def test_geometry_is_checked_up_front_naming_the_flag(tokenizer_ckpt, text_tok, tmp_path, capsys):
    clip = tmp_path / "in"
    clip.mkdir()
    write_mp4(clip / "a.mp4", 12, 64, 64)
    out = tmp_path / "out"
    for flag, expected in [
        ("--size=60x60", "--size=60x60: width and height must be multiples of 32 px"),
        ("--size=48x48", "--size=48x48: width and height must be multiples of 32 px"),
        ("--num_frames=16", "--num_frames=16: the visual tokenizer takes 1 + 4k frames"),
    ]:
        args = [f"--videos={clip}", *base_args(out, tokenizer_ckpt, text_tok), flag]
        assert prepare.main(args) == 1
        assert expected in capsys.readouterr().err
    assert not out.exists() or not os.listdir(out)  # nothing decoded or written
    assert "use 13 or 17" in prepare_checks_message(16)


def prepare_checks_message(frames):
    from lumos_jax.data import prepare_checks

    opts = prepare_job.Options(out="", tokenizer_ckpt="", num_frames=frames)
    with pytest.raises(ValueError) as e:
        prepare_checks.check_frames(opts, {"temporal_compression": 4})
    return str(e.value)


def test_config_sets_the_presets_geometry_and_vocabulary():
    from lumos_jax import cli

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = os.path.join(root, "configs", "t2v.py") + ":tiny"
    c = cli.load_config_file(spec)
    opts = prepare.parse_args(["--videos=x", "--out=y", "--tokenizer_ckpt=z", f"--config={spec}"])
    s = c.sampling
    assert (opts.size, opts.num_frames, opts.fps) == ((s.width, s.height), s.frames, s.fps)
    assert (opts.vocab, opts.text_tokens, opts.visual_size) == (
        c.vocab.kind,
        c.vocab.text_tokens,
        c.vocab.visual_size,
    )
    flagged = prepare.parse_args(
        ["--videos=x", "--out=y", "--tokenizer_ckpt=z", f"--config={spec}", "--visual_size=1000"]
    )
    assert flagged.visual_size == 1000 and flagged.size == opts.size  # a flag wins


def test_windows_and_a_second_run_into_the_same_out(tokenizer_ckpt, text_tok, tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    write_mp4(clips / "long.mp4", 36, 64, 64)  # 1.5 s at 24 fps
    (clips / "long.txt").write_text("a gradient\n")
    out = tmp_path / "out"
    args = [*base_args(out, tokenizer_ckpt, text_tok), "--num_frames=5"]
    # Every 0.5 s a whole 5-frame (1/3 s at 12 fps) window: starts 0, 0.5, 1.0.
    assert prepare.main([f"--videos={clips}", "--clip_stride=0.5", *args]) == 0
    recs = read_all(str(out / "video-train-*.array_record"))
    assert [r.record_id for r in recs] == ["long.mp4@0.00s", "long.mp4@0.50s", "long.mp4@1.00s"]
    assert not np.array_equal(recs[0].codes, recs[1].codes)
    # A CSV with start/end columns (a quoted caption keeps its comma); images after videos.
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(images / "grey.png")
    (images / "grey.txt").write_text("grey, flat")
    assert prepare.main([f"--videos={images}", *args]) == 0
    manifest = json.loads((out / "manifest-train.json").read_text())
    assert sorted(manifest["streams"]) == ["image", "video"]
    assert manifest["streams"]["video"]["records"] == 3 and manifest["counts"]["records"] == 4
    table = tmp_path / "windows.csv"
    table.write_text(f'path,caption,start,end\n{clips / "long.mp4"},"late, short",1.0,1.4\n')
    out2 = tmp_path / "out2"
    assert prepare.main([f"--videos={table}", *base_args(out2, tokenizer_ckpt, text_tok)]) == 0
    (rec,) = read_all(str(out2 / "video-train-*.array_record"))
    assert rec.caption == "late, short" and rec.codes.shape[0] == 2  # 5 frames of 1.0-1.4 s
