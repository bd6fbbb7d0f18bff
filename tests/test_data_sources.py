# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""TFDS token-record datasets and the release .pkl importer (incl. malicious pickles)."""

import io
import os
import pickle

import numpy as np
import pytest

from lumos_jax import layout
from lumos_jax.data import config as data_config
from lumos_jax.data import lumos_pkl, pipeline, records, records_tfds, sources

V = layout.compact_vocab()
R = layout.release_vocab()


def _recs(n, vocab=V, seed=0, frames=2):
    rng = np.random.default_rng(seed)
    return [
        records.random_record(
            rng, vocab, frames=frames, height=16, width=24, text_len=4 + i, record_id=f"r{i}"
        )
        for i in range(n)
    ]


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


def test_tfds_dataset_matches_array_record(tmp_path):
    recs = _recs(12)
    records.write_array_record(tmp_path / "t-0.array_record", recs[:7])
    records.write_array_record(tmp_path / "t-1.array_record", recs[7:])
    shards = sorted(str(p) for p in tmp_path.glob("t-*.array_record"))
    data_dir = str(tmp_path / "tfds")
    records_tfds.build("unit", {"train": shards, "validation": shards[:1]}, data_dir)
    src = sources.open_sources("tfds:lumos_token_records/unit:train", tfds_data_dir=data_dir)
    assert len(src) == 12 and src.locate(5) == ("tfds:lumos_token_records/unit:train", 5)
    for i, r in enumerate(recs):
        _same(r, src.read(i))
    assert len(sources.TfdsSource("lumos_token_records/unit", "validation", data_dir)) == 7
    src = pickle.loads(pickle.dumps(src))  # reopened lazily in a worker
    _same(recs[3], src.read(3))
    with pytest.raises(records.RecordError, match="unit:train record 99: unreadable"):
        src.parts[0].read(99)

    # Same records, same order -> the pipeline yields the same batches from either source.
    def batches(spec):
        c = data_config.default_config()
        c.streams.image.weight = 0.0
        c.streams.video.sources, c.streams.video.seq_len = spec, 128
        c.tfds_data_dir, c.batch_size, c.read_threads = data_dir, 4, 0
        it = pipeline.make_iterator(c, process_index=0, process_count=1)
        return [next(it) for _ in range(4)]

    for a, b in zip(
        batches(f"array_record:{tmp_path}/t-*.array_record"),
        batches("tfds:lumos_token_records/unit"),
    ):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


# ------------------------------------------------------------------ release .pkl importer
def _release_ids(rec, with_text=True):
    return layout.build_sequence(
        rec.text_ids,
        rec.codes,
        fps=rec.fps,
        duration=rec.duration,
        height=rec.height,
        width=rec.width,
        vocab=R,
        with_text=with_text,
    ).tokens.tolist()


def test_pkl_round_trip_with_placeholders(tmp_path):
    recs = _recs(3, R, seed=1, frames=3)
    ids = _release_ids(recs[0])
    as_dict = {
        "input_ids": ids[:5] + [-100] + ids[5:] + [R.pad] * 9,  # placeholder + padding
        "caption": "a red cube",
        "id": "sample-0",
    }
    (tmp_path / "a.pkl").write_bytes(pickle.dumps(as_dict))
    (tmp_path / "b.pkl").write_bytes(pickle.dumps(tuple(_release_ids(recs[1])), protocol=2))
    (tmp_path / "c.pkl").write_bytes(pickle.dumps(_release_ids(recs[2], with_text=False)))
    src = sources.open_sources(f"lumos_pkl:{tmp_path}/*.pkl", vocab=R)
    a, b, c = (src.read(i) for i in range(3))
    assert (a.record_id, a.caption, b.record_id, b.caption) == ("sample-0", "a red cube", "b", "")
    for rec, got in zip(recs, (a, b)):
        np.testing.assert_array_equal(got.text_ids, rec.text_ids)
        np.testing.assert_array_equal(got.codes, rec.codes)
        assert (got.fps, got.duration, got.height, got.width) == (
            rec.fps,
            rec.duration,
            rec.height,
            rec.width,
        )
    assert c.text_ids.size == 0
    np.testing.assert_array_equal(c.codes, recs[2].codes)
    out = tmp_path / "imported.array_record"
    assert lumos_pkl.convert([str(p) for p in sorted(tmp_path.glob("*.pkl"))], str(out), R) == 3
    _same(a, sources.open_sources(f"array_record:{out}").read(0))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t[:-2] + t[-1:], "expected video_end \\(9005\\) at token 31, found id 8710"),
        (lambda t: t[:-3] + t[-2:], "has no image_end"),
        (lambda t: t + [5, 6], "unexpected tokens after the final separator"),
        (lambda t: [5] + t[1:], "expected bos"),
        (lambda t: t[:3] + t[4:], "expected separator before video_start"),
        (lambda t: [x for x in t if x != 9004], "no video_start"),
        (lambda t: t[:20] + t[21:], "rows of unequal length"),
        (
            lambda t: [8804 + 5 if i == t.index(8197) + 1 else x for i, x in enumerate(t)],
            "size tokens .* disagree",
        ),
        (lambda t: [100 if x == 65536 + 7 else x for x in t], "not a visual id"),
    ],
)
def test_pkl_malformed_sequences(edit, message):
    rec = records.make_record(
        "x", "", [300, 301], np.full((2, 2, 3), 7), fps=4, duration=1, height=16, width=24
    )
    with pytest.raises(ValueError, match=message):
        lumos_pkl.import_pickle(pickle.dumps(edit(_release_ids(rec))), R, record_id="x")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalEvil:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


def _persistent_pickle():
    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return "ext" if obj == "x" else None

    buf = io.BytesIO()
    P(buf).dump(["x", 1])
    return buf.getvalue()


def test_malicious_pickles_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    loop = [1]
    loop.append(loop)
    evil = {
        "os.system": pickle.dumps({"input_ids": [1, 2], "x": _Evil(marker)}),
        "eval": pickle.dumps(_EvalEvil()),
        "numpy": pickle.dumps(np.arange(4)),
        "set": pickle.dumps({"input_ids": {1, 2}}),
        "persistent": _persistent_pickle(),
        "cycle": pickle.dumps(loop),
    }
    for name, data in evil.items():
        with pytest.raises(pickle.UnpicklingError, match="refused"):
            lumos_pkl.load_plain(data)
        (tmp_path / f"{name}.pkl").write_bytes(data)
    assert not marker.exists()  # nothing ran
    src = lumos_pkl.PklSource([str(tmp_path / "os.system.pkl")], R)
    with pytest.raises(records.RecordError, match="os.system.pkl record 0: refused: .*system"):
        src.read(0)
    with pytest.raises(ValueError, match="none of the token keys"):
        lumos_pkl.import_pickle(pickle.dumps({"foo": [1]}), R, record_id="x")
