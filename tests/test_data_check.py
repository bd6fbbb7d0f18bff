"""python -m lumos_jax.data.check: every bad record of every shard, with file, index and
reason; a shard that does not open (cut at 64 KiB, not an ArrayRecord file) says why."""

import os
import subprocess
import sys

import numpy as np
import pytest

from lumos_jax import layout
from lumos_jax.data import check, records, sources

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = layout.compact_vocab()


def _records(n, seed=0):
    rng = np.random.default_rng(seed)
    return [
        records.random_record(
            rng, VOCAB, frames=5, height=64, width=64, text_len=40, record_id=f"r{i}"
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    records.write_array_record(d / "a-0.array_record", _records(4))
    data = [records.encode(r) for r in _records(5, seed=1)]
    data[1] = data[1][:-1] + bytes([data[1][-1] ^ 0xFF])  # payload byte: CRC mismatch
    data[3] = data[3][:30]  # cut inside its metadata
    wide = _records(1, seed=2)[0]
    data.append(
        records.encode(
            records.make_record(  # decodes, but a code is out of range
                "wide",
                "c",
                wide.text_ids,
                np.full_like(wide.codes, VOCAB.visual_size),
                fps=8,
                duration=2,
                height=64,
                width=64,
            )
        )
    )
    records.write_array_record(d / "a-1.array_record", data)
    big = d / "a-2.array_record"  # > 64 KiB, then cut at the first block boundary
    records.write_array_record(big, _records(120, seed=3))
    assert os.path.getsize(big) > 65536
    os.truncate(big, 65536)
    (d / "a-3.array_record").write_bytes(b"not a shard " * 10000)
    return str(d)


def test_every_bad_record_and_shard_is_listed(shards):
    lines = []
    result = check.scan(f"array_record:{shards}/a-*.array_record", VOCAB, report=lines.append)
    one = f"{shards}/a-1.array_record"
    assert result["records"] == 10 and result["shards"] == 4
    assert [(f, i) for f, i, _ in result["bad"]] == [(one, 1), (one, 3), (one, 5)]
    assert lines[0] == f"{one} record 1: checksum mismatch: the record is corrupt"
    assert lines[1].startswith(f"{one} record 3: truncated record: 30 bytes")
    assert lines[2].startswith(f"{one} record 5: visual code out of range [0, 1000)")
    assert lines[3] == (
        f"{shards}/a-2.array_record: does not open (its record index "
        f"(written at the end of the file when the writer closes) is missing "
        f"or damaged: the file ends after 65536 bytes, exactly 1 block of "
        f"64 KiB, as a write or copy cut short leaves it)"
    )
    # A foreign file of 120 KB: the reader's own reason.
    assert lines[4].startswith(
        f"{shards}/a-3.array_record: does not open (RuntimeError: Corrupted Riegeli/records file"
    )
    assert len(lines) == 5
    # Without a vocabulary only the format is checked: the out-of-range record passes.
    assert len(check.scan(f"array_record:{one}", None, report=lambda _: None)["bad"]) == 2


def test_the_pipeline_names_the_reason_a_cut_shard_does_not_open(shards):
    with pytest.raises(
        ValueError,
        match=r"a-2.array_record: cannot open as an ArrayRecord "
        r"shard \(its record index .* is missing or damaged",
    ):
        sources.open_sources(f"array_record:{shards}/a-2.array_record")


def test_cli_lists_problems_and_exits_1(shards, tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "lumos_jax.data.check",
            f"--sources=array_record:{shards}/a-*.array_record",
            "--config=configs/t2v.py:tiny",
            # The records' codebook, whatever the preset's (overrides as train takes them).
            f"--config.vocab.visual_size={VOCAB.visual_size}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1, r.stderr[-2000:]
    out = r.stdout.splitlines()
    assert len(out) == 6 and out[-1] == (
        "checked 10 records in 4 shards (format, checksums, vocabulary ranges and bucket "
        "lengths): 3 bad "
        "records, 2 shards that do not open"
    )
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "lumos_jax.data.check",
            f"--sources=array_record:{shards}/a-0.array_record",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ok.returncode == 0 and ok.stdout.splitlines() == [
        "checked 4 records in 1 shards (format and checksums (no --config: vocabulary "
        "ranges not checked)): 0 bad records, 0 shards that do not open"
    ]
    none = subprocess.run(
        [sys.executable, "-m", "lumos_jax.data.check", f"--sources=array_record:{tmp_path}/x-*"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert none.returncode == 1 and none.stderr.startswith(
        f"lumos_jax.data.check: error: --sources=array_record:{tmp_path}/x-*: no files match"
    )


def test_an_empty_reader_error_is_explained_from_the_file(tmp_path):
    """The reader raises RuntimeError('') when it finds no index: the file is read."""
    foreign = tmp_path / "f.array_record"
    foreign.write_bytes(b"\0" * 70000)
    assert sources.open_problem(str(foreign), RuntimeError("")).startswith(
        "it does not start with the ArrayRecord (Riegeli) file signature"
    )
    assert (
        sources.open_problem(str(foreign), RuntimeError("too short")) == "RuntimeError: too short"
    )


def test_config_applies_the_pipelines_bucket_lengths_naming_the_key(tmp_path, capsys):
    """Issue 26: check passed records that train then rejected as too long."""
    from lumos_jax import cli

    config = cli.load_config_file(os.path.join(ROOT, "configs", "t2v.py") + ":tiny")
    vocab = layout.vocab_from_config(config.vocab)
    seq_len = config.data.streams.video.seq_len
    rng = np.random.default_rng(0)
    frames = 1 + seq_len // layout.tokens_per_frame(4, 4)  # 32x32 px frames: too long
    long_ = records.random_record(rng, vocab, frames=frames, height=32, width=32, text_len=8)
    short = records.random_record(rng, vocab, frames=2, height=32, width=32, text_len=8)
    records.write_array_record(tmp_path / "video-train-00000.array_record", [short, long_])
    spec = f"array_record:{tmp_path}/video-train-*.array_record"
    args = [f"--sources={spec}", f"--config={ROOT}/configs/t2v.py:tiny"]
    assert check.main(args) == 1
    out = capsys.readouterr().out.splitlines()
    need = long_.sequence_length()
    assert "record 1: sequence of" in out[0] and f"bucket 'video' of {seq_len} tokens" in out[0]
    assert f"raise config data.streams.video.seq_len to >= {need}" in out[0]
    assert check.main([*args, f"--config.data.streams.video.seq_len={need}"]) == 0
    # Another stream named: its bucket applies.
    assert check.main([*args, "--stream=image"]) == 1
