# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Bad input: every defect is an error naming shard, record index and problem, or, with
skip_bad_records, a logged and counted skip (never a silent drop)."""

import logging

import numpy as np
import pytest

from lumos_jax import layout
from lumos_jax.data import config as data_config
from lumos_jax.data import pipeline, records

V = layout.compact_vocab()


def _good(i):
    return records.random_record(
        np.random.default_rng(i), V, frames=2, height=16, width=16, text_len=6, record_id=f"g{i}"
    )


def _with(r, **kw):
    f = dict(
        record_id=r.record_id,
        caption=r.caption,
        text_ids=r.text_ids,
        codes=r.codes,
        fps=r.fps,
        duration=r.duration,
        height=r.height,
        width=r.width,
    )
    f.update(kw)
    return records.make_record(
        f.pop("record_id"), f.pop("caption"), f.pop("text_ids"), f.pop("codes"), **f
    )


def _flip_last_byte(b):
    return b[:-1] + bytes([b[-1] ^ 0x5A])


# (defect, expected message): the bad record sits at every odd index of the shard.
BAD = [
    (lambda r: _flip_last_byte(records.encode(r)), "checksum mismatch"),
    (lambda r: records.encode(r)[:-5], "truncated record"),
    (lambda r: _with(r, text_ids=[70, V.text_size + 3]), "text token id out of range"),
    (lambda r: _with(r, codes=r.codes + V.visual_size), "visual code out of range"),
    (lambda r: _with(r, height=24), "code grid 2x2 does not match the stated size 24x16"),
    (
        lambda r: _with(r, text_ids=np.full(200, 70)),
        "sequence of 227 tokens \\(200 prompt ids, 2 latent frames of 16x16 px\\) does not "
        "fit bucket 'video' of 128",
    ),
]


@pytest.fixture(scope="module")
def shard(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    items = []
    for k, (make_bad, _) in enumerate(BAD):
        items += [_good(2 * k), make_bad(_good(2 * k + 1))]
    records.write_array_record(d / "bad-0.array_record", items)
    return d


def _config(d, **kw):
    c = data_config.default_config()
    c.streams.image.weight = 0.0
    c.streams.video.sources = f"array_record:{d}/bad-*.array_record"
    c.streams.video.seq_len = 128
    c.batch_size, c.shuffle, c.num_epochs, c.read_threads = 4, False, 1, 0
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def test_each_defect_names_shard_index_and_problem(shard):
    p = pipeline.Pipeline(_config(shard), process_index=0, process_count=1)
    source = p.streams["video"][0]
    maker = pipeline.ExampleMaker(source, p._spec("video", 0, 128))
    for k, (_, message) in enumerate(BAD):
        maker.load(2 * k)  # the good neighbour loads
        with pytest.raises(
            records.RecordError, match=f"bad-0.array_record record {2 * k + 1}: {message}"
        ):
            maker.load(2 * k + 1)


def test_error_mode_stops_the_pipeline_with_the_record_named(shard):
    it = pipeline.make_iterator(_config(shard), process_index=0, process_count=1)
    with pytest.raises(records.RecordError, match="bad-0.array_record record 1: checksum"):
        next(it)


def test_skip_mode_logs_and_counts_every_skip(shard, caplog):
    it = pipeline.make_iterator(
        _config(shard, skip_bad_records=True), process_index=0, process_count=1
    )
    with caplog.at_level(logging.WARNING):
        batches = list(it)
    assert len(batches) == 3  # 12 positions; each bad record replaced by its good successor
    assert it.skipped == len(BAD) == it.get_state()["skipped"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for k, (_, message) in enumerate(BAD):
        assert f"bad-0.array_record record {2 * k + 1}: " in logged
    assert "does not fit bucket 'video'" in logged


def test_too_many_bad_records_in_a_row(shard):
    c = _config(shard, skip_bad_records=True, max_consecutive_skips=0)
    with pytest.raises(RuntimeError, match="more than 0 bad records in a row"):
        next(pipeline.make_iterator(c, process_index=0, process_count=1))
