# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Scan token-record sources up front and list every bad record.

  python -m lumos_jax.data.check --sources=array_record:/data/v-*.array_record \\
      [--config=configs/t2v.py:0.5b]

Opens every shard on its own (one that does not open is reported with the reason and
the scan goes on) and reads every record: container errors, CRC mismatches and format
defects are listed as `FILE record INDEX: REASON`, one line each. With --config, each
record is also checked as the training pipeline checks it: against the config's
vocabulary (ids and codes in range, size tokens, code grid vs pixel size) and against
its stream's bucket length (a record longer than data.streams.NAME.seq_len is named with
that key and the length it needs). A shard's stream is --stream, else the config stream
whose sources name it, else its file name (`video-...`, `image-...` as prepare writes
them), else `image` for one-frame records and `video` for the others. Config overrides
as train takes them (`--config.data.streams.video.seq_len=1024`) are applied first. The
last line sums up; the exit code is 1 when anything is bad, else 0. A training run with
data.skip_bad_records=False stops at the first bad record; this lists them all first.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

from lumos_jax import cli, layout
from lumos_jax.data import pipeline, records, sources
from lumos_jax.progress import Progress


def _parts(spec: str, vocab, tfds_data_dir):
    """-> [(name, source or None, why it did not open)]: one per ArrayRecord shard (so a
    bad one does not hide the others), one for a TFDS or pickle spec."""
    kind, _, arg = spec.partition(":")
    if kind != "array_record":
        try:
            return [(spec, sources.open_source(spec, tfds_data_dir=tfds_data_dir, vocab=vocab), "")]
        except (ValueError, OSError) as e:
            return [(spec, None, cli.one_line(e))]
    paths = sorted(glob.glob(os.path.expanduser(arg)))
    if not paths:
        raise FileNotFoundError(f"--sources={spec}: no files match {arg!r}")
    out = []
    for path in paths:
        try:
            out.append((path, sources.ArrayRecordSource([path]), ""))
        except ValueError as e:
            out.append((path, None, sources.open_problem(path, e.__cause__ or e)))
    return out


def _stream_of(name: str, spec: str, record, lengths: dict, given: str, config_specs: dict) -> str:
    """The config stream whose bucket a record of shard `name` (of `spec`) goes to."""
    if given:
        return given
    if spec in config_specs:
        return config_specs[spec]
    prefix = os.path.basename(name).split("-", 1)[0]
    if prefix in lengths:
        return prefix
    return "image" if record.num_frames == 1 and "image" in lengths else "video"


def _check_one(record, vocab, lengths, stream, name, index) -> None:
    records.check(record, vocab, shard=name, index=index)
    if stream in lengths:
        problem = pipeline.length_problem(record, stream, lengths[stream])
        if problem:
            raise records.RecordError(name, index, problem)


def scan(
    specs,
    vocab: layout.Vocab | None = None,
    tfds_data_dir: str | None = None,
    report=print,
    *,
    lengths: dict | None = None,
    stream: str = "",
    config_specs: dict | None = None,
) -> dict:
    """Reads every record of `specs`; `report` gets one line per problem. With `lengths`
    ({stream: seq_len}), a record longer than its stream's bucket is a problem too.
    -> {"records", "shards", "bad": [(file, index, reason)], "unopened": [(file, why)]}"""
    lengths, config_specs = lengths or {}, config_specs or {}
    parts = [
        (*p, spec)
        for spec in sources.parse_specs(specs)
        for p in _parts(spec, vocab, tfds_data_dir)
    ]
    result = {"records": 0, "shards": len(parts), "bad": [], "unopened": []}
    total = sum(len(src) for _, src, _, _ in parts if src is not None)
    progress = Progress("check", total, every=max(1, total // 10))
    for name, src, why, spec in parts:
        if src is None:
            result["unopened"].append((name, why))
            report(f"{name}: does not open ({why})")
            continue
        for index in range(len(src)):
            try:
                record = src.read(index)
                if vocab is not None:
                    s = _stream_of(name, spec, record, lengths, stream, config_specs)
                    _check_one(record, vocab, lengths, s, name, index)
            except records.RecordError as e:
                result["bad"].append((name, index, e.problem))
                report(f"{name} record {index}: {e.problem}")
            result["records"] += 1
            progress.update(result["records"])
    return result


def summary(result: dict, checked_vocab: bool) -> str:
    what = (
        "format, checksums, vocabulary ranges and bucket lengths"
        if checked_vocab
        else "format and checksums (no --config: vocabulary ranges not checked)"
    )
    return (
        f"checked {result['records']} records in {result['shards']} shards ({what}): "
        f"{len(result['bad'])} bad records, {len(result['unopened'])} shards that do "
        f"not open"
    )


def _stream_settings(config, stream: str) -> dict:
    streams = config.data.streams
    if stream and stream not in streams:
        raise cli.UsageError(f"--stream={stream}: the config has streams {sorted(streams)}")
    return dict(
        lengths={n: int(streams[n].seq_len) for n in streams},
        stream=stream,
        config_specs={streams[n].sources: n for n in streams if streams[n].sources},
    )


def apply_overrides(config, overrides):
    """`--config.a.b=VALUE` arguments (checked by cli.check_config_overrides) applied to
    a loaded config, each value parsed as the type of the one it replaces."""
    for arg in overrides:
        key, _, text = arg[len("--config.") :].partition("=")
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            node = node[part]
        current = node[leaf]
        if isinstance(current, bool):
            value = text.lower() in ("true", "t", "1")
        elif isinstance(current, (int, float)):
            value = type(current)(text)
        else:
            value = text
        with config.unlocked():
            node[leaf] = value
    return config


def main(argv=None) -> int:
    cli.process_defaults()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--sources",
        required=True,
        help="comma-separated array_record:GLOB, tfds:NAME[:SPLIT], lumos_pkl:GLOB",
    )
    p.add_argument(
        "--config",
        default="",
        help="FILE[:ARG] whose vocab the records must fit (e.g. configs/t2v.py:tiny)",
    )
    p.add_argument(
        "--stream",
        default="",
        help="config stream (bucket) of every record, e.g. video; default: see above",
    )
    p.add_argument("--tfds_data_dir", default=None)
    p.add_argument(
        "-v", "--verbosity", type=int, default=0, help="1: show the traceback of an error"
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    a, rest = p.parse_known_args(argv)
    overrides = [x for x in rest if x.startswith("--config.")]
    if len(overrides) != len(rest):
        p.error(f"unrecognized arguments: {' '.join(x for x in rest if x not in overrides)}")
    with cli.errors_as_one_line("lumos_jax.data.check", verbose=a.verbosity >= 1):
        vocab, kw = None, {}
        if a.config:
            cli.check_config_overrides([f"--config={a.config}", *overrides])
            config = apply_overrides(cli.load_config_file(a.config), overrides)
            vocab = layout.vocab_from_config(config.vocab)
            kw = _stream_settings(config, a.stream)
        elif overrides or a.stream:
            raise cli.UsageError("--config.KEY and --stream need --config=FILE[:ARG]")
        result = scan(a.sources, vocab, a.tfds_data_dir, **kw)
    print(summary(result, vocab is not None), flush=True)
    return 1 if result["bad"] or result["unopened"] else 0


if __name__ == "__main__":
    sys.exit(main())
