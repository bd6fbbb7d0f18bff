# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Grain pipeline: batch layout, CFG dropout, mixture, sharding, determinism, resume."""

import dataclasses

import numpy as np
import pytest
from layout_util import codes_from_tokens

from lumos_jax import layout
from lumos_jax.data import ardf, pipeline, records
from lumos_jax.data import config as data_config

V = layout.compact_vocab()
H = W = 32  # 4x4 codes per frame: 3 + 4 * 5 + 1 = 24 tokens per frame


def _recs(prefix, n, frames, seed):
    rng = np.random.default_rng(seed)
    return [
        records.random_record(
            rng,
            V,
            frames=frames,
            height=H,
            width=W,
            text_len=int(rng.integers(3, 20)),
            record_id=f"{prefix}{i}",
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("records")
    vids, imgs = _recs("v", 24, 3, 0), _recs("i", 16, 1, 1)
    records.write_array_record(d / "vid-0.array_record", vids[:10])
    records.write_array_record(d / "vid-1.array_record", vids[10:])
    records.write_array_record(d / "img-0.array_record", imgs)
    return d, {r.record_id: r for r in vids + imgs}


def _config(d, **kw):
    c = data_config.default_config()
    c.streams.video.sources = f"array_record:{d}/vid-*.array_record"
    c.streams.video.seq_len = 128
    c.streams.image.sources = f"array_record:{d}/img-*.array_record"
    c.streams.image.seq_len = 64
    c.batch_size = 4
    c.read_threads = 1
    for key, value in kw.items():  # "video.weight" sets c.streams.video.weight
        *stream, field = key.split(".")
        setattr(c.streams[stream[0]] if stream else c, field, value)
    return c


def _take(it, n):
    return [next(it) for _ in range(n)]


def _assert_batches_equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert sorted(x) == sorted(pipeline.BATCH_KEYS) == sorted(y)
        for k in x:
            np.testing.assert_array_equal(x[k], y[k], err_msg=k)


def _unmask(row):
    """Undo the AR-DF mask of one batch row: labels back in, masked newlines restored."""
    full = np.where(row["labels"] >= 0, row["labels"], row["tokens"])
    return np.where((full == V.mask) & (row["visual"] == 1), V.newline, full)


def _find(row, recs):
    """The record a batch row was built from, and whether its text was kept."""
    full = _unmask(row)
    with_text = full[0] == V.bos
    starts = np.flatnonzero(full == V.image_start)
    codes = codes_from_tokens(full, starts, H // 8, W // 8, V)
    match = [
        r for r in recs.values() if r.codes.shape == codes.shape and np.array_equal(r.codes, codes)
    ]
    assert len(match) == 1
    return match[0], with_text


def test_batches_follow_the_layout(data):
    d, recs = data
    it = pipeline.make_iterator(_config(d), process_index=0, process_count=1)
    for batch in _take(it, 6):
        b, s = batch["tokens"].shape
        assert b == 4 and s in (64, 128) and batch["positions"].shape == (b, s, 3)
        assert all(v.dtype == np.int32 for v in batch.values())
        for i in range(b):
            row = {k: v[i] for k, v in batch.items()}
            rec, with_text = _find(row, recs)
            seq = layout.build_sequence(
                rec.text_ids,
                rec.codes,
                fps=rec.fps,
                duration=rec.duration,
                height=H,
                width=W,
                vocab=V,
                with_text=with_text,
            )
            want = layout.pad_to(seq, s, V)
            np.testing.assert_array_equal(_unmask(row), want["tokens"])
            for k in ("segments", "positions", "visual"):
                np.testing.assert_array_equal(row[k], want[k], err_msg=k)
            masked = row["tokens"] == V.mask
            assert masked.any() and np.all(row["visual"][masked] == 1)
            assert np.all(row["labels"][row["labels"] >= 0] >= V.visual_offset)
            assert np.all(row["segments"][len(seq) :] == layout.PAD)


def test_cfg_dropout_starts_at_video_start(data):
    d, recs = data
    rec = recs["v3"]
    spec = pipeline.Pipeline(_config(d), process_index=0, process_count=1)._spec("video", 1, 128)
    maker = pipeline.ExampleMaker(None, spec)
    kept = [maker.build(rec, np.random.default_rng(i))["tokens"][0] == V.bos for i in range(600)]
    assert 0.06 < 1 - np.mean(kept) < 0.14  # p = 0.1
    for p, first in ((1.0, V.video_start), (0.0, V.bos)):
        m = pipeline.ExampleMaker(None, dataclasses.replace(spec, cfg_dropout=p))
        ex = m.build(rec, np.random.default_rng(0))
        seq = layout.build_sequence(
            rec.text_ids,
            rec.codes,
            fps=rec.fps,
            duration=rec.duration,
            height=H,
            width=W,
            vocab=V,
            with_text=p == 0.0,
        )
        assert ex["tokens"][0] == first
        np.testing.assert_array_equal(ex["positions"][: len(seq)], seq.positions)
        np.testing.assert_array_equal(ex["segments"][: len(seq)], seq.segments)
        if p == 1.0:  # positions recomputed: content starts right after the video header
            assert ex["positions"][6, 0] == seq.content_start == 6


def test_mixture_alternates_and_follows_weights(data):
    d, _ = data
    it = pipeline.make_iterator(_config(d), process_index=0, process_count=1)
    lengths = [b["tokens"].shape[1] for b in _take(it, 8)]
    assert lengths == [64, 128] * 4  # image, video, image, video (sorted stream names)
    it = pipeline.make_iterator(
        _config(d, **{"video.weight": 2.0}), process_index=0, process_count=1
    )
    lengths = [b["tokens"].shape[1] for b in _take(it, 9)]
    assert lengths.count(128) == 6 and lengths.count(64) == 3
    it = pipeline.make_iterator(
        _config(d, **{"image.weight": 0.0}), process_index=0, process_count=1
    )
    assert {b["tokens"].shape[1] for b in _take(it, 3)} == {128}


def test_process_shards_partition_the_global_batch(data):
    d, _ = data
    c = _config(d)
    whole = _take(pipeline.make_iterator(c, process_index=0, process_count=1), 4)
    parts = [
        _take(pipeline.make_iterator(c, process_index=p, process_count=2), 4) for p in range(2)
    ]
    for k in range(4):
        rows = lambda bs: sorted(r.tobytes() for b in bs for r in b["tokens"])  # noqa: E731
        assert parts[0][k]["tokens"].shape[0] == 2
        assert rows([whole[k]]) == rows([parts[0][k], parts[1][k]])
    with pytest.raises(ValueError, match="batch_size=4 is not divisible by the 3"):
        pipeline.Pipeline(c, process_index=0, process_count=3)


def test_epochs_cover_every_record_once(data):
    d, recs = data
    c = _config(d, num_epochs=1, cfg_dropout=0.0, **{"image.weight": 0.0})
    c.masking.min_ratio = 0.0
    it = pipeline.make_iterator(c, process_index=0, process_count=1)
    seen = [_find({k: v[i] for k, v in b.items()}, recs)[0].record_id for b in it for i in range(4)]
    assert sorted(seen) == sorted(f"v{i}" for i in range(24))
    c.batch_size = 10  # 24 records: 2 whole global batches; both processes yield 2 x 5 rows
    counts = [
        [b["tokens"].shape[0] for b in pipeline.make_iterator(c, process_index=p, process_count=2)]
        for p in range(2)
    ]
    assert counts == [[5, 5], [5, 5]]


def test_same_batches_with_workers_and_exact_resume(data):
    d, _ = data
    c = _config(d)
    it0 = pipeline.make_iterator(c, process_index=0, process_count=1)
    ref = _take(it0, 8)
    c.num_workers = 2
    it2 = pipeline.make_iterator(c, process_index=0, process_count=1)
    got = _take(it2, 5)
    state = it2.get_state()
    got += _take(it2, 3)
    _assert_batches_equal(ref, got)
    assert state["next_batch"] == 5
    it2.set_state(state)  # resume in place: workers restart at batch 5
    _assert_batches_equal(ref[5:], _take(it2, 3))
    it2.close()
    c.num_workers = 0  # the state does not depend on the worker count
    fresh = pipeline.make_iterator(c, process_index=0, process_count=1)
    fresh.set_state(state)
    _assert_batches_equal(ref[5:], _take(fresh, 3))


def test_orbax_checkpoint_round_trip(data, tmp_path):
    import grain
    import orbax.checkpoint as ocp

    d, _ = data
    c = _config(d)
    it = pipeline.make_iterator(c, process_index=0, process_count=1)
    _take(it, 3)
    with ocp.CheckpointManager(tmp_path / "ckpt") as mngr:
        mngr.save(3, args=ocp.args.Composite(data=grain.checkpoint.CheckpointSave(it)))
        mngr.wait_until_finished()
        expect = _take(it, 3)
        restored = pipeline.make_iterator(c, process_index=0, process_count=1)
        mngr.restore(3, args=ocp.args.Composite(data=grain.checkpoint.CheckpointRestore(restored)))
    assert restored.get_state()["next_batch"] == 3
    _assert_batches_equal(expect, _take(restored, 3))
    # The plain-JSON route (lumos_jax.checkpoint stores get_state() with JsonSave).
    with ocp.CheckpointManager(tmp_path / "json", item_names=("data",)) as mngr:
        mngr.save(6, args=ocp.args.Composite(data=ocp.args.JsonSave(restored.get_state())))
        mngr.wait_until_finished()
        expect = _take(restored, 2)
        state = mngr.restore(6, args=ocp.args.Composite(data=ocp.args.JsonRestore()))["data"]
    again = pipeline.make_iterator(c, process_index=0, process_count=1)
    again.set_state(state)
    _assert_batches_equal(expect, _take(again, 2))


def test_config_errors(data):
    d, _ = data
    c = _config(d)
    c.streams.image.sources = ""
    with pytest.raises(ValueError, match="data.streams.image.sources is empty"):
        pipeline.Pipeline(c, process_index=0, process_count=1)
    c = _config(d, **{"image.weight": 0.0, "video.weight": 0.0})
    with pytest.raises(ValueError, match="no stream has weight"):
        pipeline.Pipeline(c, process_index=0, process_count=1)
    c = _config(d)
    c.masking.mode = "tubes"
    with pytest.raises(ValueError, match="data.masking.mode='tubes'"):
        pipeline.Pipeline(c, process_index=0, process_count=1)


def test_bucket_length():
    assert data_config.bucket_length(7, 384, 672, 64, multiple=128) == 28_672  # 7 x 4084 + 71
    assert data_config.bucket_length(7, 384, 672, 100, multiple=128) == 28_800
    n = 2 + 10 + 3 + 5 * layout.tokens_per_frame(8, 8) + 2
    assert data_config.bucket_length(5, 64, 64, 10, multiple=1) == n
    assert isinstance(data_config.default_config().masking.min_ratio, float)
    assert ardf.MaskSpec(**data_config.default_config().masking.to_dict()) == ardf.MaskSpec()
