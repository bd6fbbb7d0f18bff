# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Token records: round trip, corruption/truncation detection, validation, ArrayRecord source."""

import pickle

import numpy as np
import pytest

from lumos_jax import layout
from lumos_jax.data import records, sources

V = layout.compact_vocab()


def _record(i=0, frames=2, **kw):
    rng = np.random.default_rng(i)
    return records.random_record(
        rng, V, frames=frames, height=16, width=24, text_len=5, record_id=f"r{i}", **kw
    )


def _same(a, b):
    assert (a.record_id, a.caption, a.fps, a.duration, a.height, a.width) == (
        b.record_id,
        b.caption,
        b.fps,
        b.duration,
        b.height,
        b.width,
    )
    np.testing.assert_array_equal(a.text_ids, b.text_ids)
    np.testing.assert_array_equal(a.codes, b.codes)
    assert b.codes.dtype == np.int32 and b.text_ids.dtype == np.int32


def test_round_trip_uint16_and_int32_codes():
    r = _record()
    r = records.make_record(
        "ü-1", "a café, 猫", r.text_ids, r.codes, fps=8, duration=2, height=16, width=24
    )
    _same(r, records.decode(records.encode(r)))
    big = records.make_record(
        "big", "", [1], np.full((1, 2, 3), 70_000), fps=1, duration=1, height=16, width=24
    )
    _same(big, records.decode(records.encode(big)))
    assert len(records.encode(big)) > len(
        records.encode(
            records.make_record(
                "big", "", [1], np.zeros((1, 2, 3)), fps=1, duration=1, height=16, width=24
            )
        )
    )


def test_sequence_length_matches_layout():
    r = _record()
    for with_text in (True, False):
        seq = layout.build_sequence(
            r.text_ids,
            r.codes,
            fps=r.fps,
            duration=r.duration,
            height=r.height,
            width=r.width,
            vocab=V,
            with_text=with_text,
        )
        assert r.sequence_length(with_text) == len(seq)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b[:-3], "truncated record"),
        (lambda b: b[:10], "truncated record: 10 bytes"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "checksum mismatch"),
        (lambda b: b"XXXX" + b[4:], "not a lumos token record"),
        (lambda b: b[:4] + (9).to_bytes(2, "little") + b[6:], "record format version 9"),
    ],
)
def test_damaged_records_are_reported(damage, message):
    data = damage(records.encode(_record()))
    with pytest.raises(records.RecordError, match=f"shard-3 record 17: {message}") as err:
        records.decode(data, shard="shard-3", index=17)
    assert (err.value.shard, err.value.index) == ("shard-3", 17)


def test_record_error_survives_pickling():  # raised in a Grain worker, re-raised here
    e = pickle.loads(pickle.dumps(records.RecordError("s", 3, "bad")))
    assert (e.shard, e.index, e.problem, str(e)) == ("s", 3, "bad", "s record 3: bad")


def test_problems_name_each_defect():
    r = _record()
    assert records.problems(r, V) == []
    bad_text = records.make_record(
        "x", "", [V.text_size], r.codes, fps=8, duration=1, height=16, width=24
    )
    assert "text token id out of range" in records.problems(bad_text, V)[0]
    bad_code = records.make_record(
        "x", "", [70], r.codes + V.visual_size, fps=8, duration=1, height=16, width=24
    )
    assert "visual code out of range" in records.problems(bad_code, V)[0]
    bad_grid = records.make_record("x", "", [70], r.codes, fps=8, duration=1, height=24, width=24)
    assert "code grid 2x3 does not match the stated size 24x24" in records.problems(bad_grid, V)[0]
    bad_fps = records.make_record("x", "", [70], r.codes, fps=500, duration=1, height=16, width=24)
    assert "fps=500 has no size token" in records.problems(bad_fps, V)[0]
    with pytest.raises(records.RecordError, match="f.ar record 2: text token id"):
        records.check(bad_text, V, shard="f.ar", index=2)


def test_array_record_source_locates_shard_and_index(tmp_path):
    recs = [_record(i) for i in range(5)]
    data = [records.encode(r) for r in recs]
    data[4] = data[4][:-1] + bytes([data[4][-1] ^ 0xFF])  # corrupt the second record of shard 1
    records.write_array_record(tmp_path / "t-0.array_record", data[:3])
    records.write_array_record(tmp_path / "t-1.array_record", data[3:])
    src = sources.open_sources(f"array_record:{tmp_path}/t-*.array_record")
    assert len(src) == 5 and src.locate(3) == ("t-1.array_record", 0)
    for i in range(4):
        _same(recs[i], src.read(i))
    with pytest.raises(records.RecordError, match="t-1.array_record record 1: checksum"):
        src.read(4)
    src2 = pickle.loads(pickle.dumps(src))  # what Grain ships to its workers
    _same(recs[2], src2.read(2))


def test_truncated_shard_and_bad_specs(tmp_path):
    path = tmp_path / "cut.array_record"
    records.write_array_record(path, [_record(i) for i in range(20)])
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ValueError, match="cut.array_record: cannot open as an ArrayRecord"):
        sources.open_sources(f"array_record:{path}")
    with pytest.raises(FileNotFoundError, match="no files match"):
        sources.open_sources(f"array_record:{tmp_path}/nothing-*")
    with pytest.raises(ValueError, match="expected KIND:ARG"):
        sources.open_sources("parquet:/x")
