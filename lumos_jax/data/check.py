# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Scan token-record sources up front and list every bad record.

  python -m lumos_jax.data.check --sources=array_record:/data/v-*.array_record \\
      [--config=configs/t2v.py:0.5b]

Opens every shard on its own (one that does not open is reported with the reason and
the scan goes on) and reads every record: container errors, CRC mismatches and format
defects are listed as `FILE record INDEX: REASON`, one line each. With --config, each
record is also checked against the config's vocabulary (ids and codes in range, size
tokens, code grid vs pixel size: what the pipeline would reject). The last line sums
up; the exit code is 1 when anything is bad, else 0. A training run with
data.skip_bad_records=False stops at the first bad record; this lists them all first.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

from lumos_jax import cli, layout
from lumos_jax.data import records, sources
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


def scan(
    specs, vocab: layout.Vocab | None = None, tfds_data_dir: str | None = None, report=print
) -> dict:
    """Reads every record of `specs`; `report` gets one line per problem.
    -> {"records", "shards", "bad": [(file, index, reason)], "unopened": [(file, why)]}"""
    parts = [p for spec in sources.parse_specs(specs) for p in _parts(spec, vocab, tfds_data_dir)]
    result = {"records": 0, "shards": len(parts), "bad": [], "unopened": []}
    total = sum(len(src) for _, src, _ in parts if src is not None)
    progress = Progress("check", total, every=max(1, total // 10))
    for name, src, why in parts:
        if src is None:
            result["unopened"].append((name, why))
            report(f"{name}: does not open ({why})")
            continue
        for index in range(len(src)):
            try:
                record = src.read(index)
                if vocab is not None:
                    records.check(record, vocab, shard=name, index=index)
            except records.RecordError as e:
                result["bad"].append((name, index, e.problem))
                report(f"{name} record {index}: {e.problem}")
            result["records"] += 1
            progress.update(result["records"])
    return result


def summary(result: dict, checked_vocab: bool) -> str:
    what = (
        "format, checksums and vocabulary ranges"
        if checked_vocab
        else "format and checksums (no --config: vocabulary ranges not checked)"
    )
    return (
        f"checked {result['records']} records in {result['shards']} shards ({what}): "
        f"{len(result['bad'])} bad records, {len(result['unopened'])} shards that do "
        f"not open"
    )


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
    p.add_argument("--tfds_data_dir", default=None)
    p.add_argument(
        "-v", "--verbosity", type=int, default=0, help="1: show the traceback of an error"
    )
    a = p.parse_args(argv)
    with cli.errors_as_one_line("lumos_jax.data.check", verbose=a.verbosity >= 1):
        vocab = None
        if a.config:
            vocab = layout.vocab_from_config(cli.load_config_file(a.config).vocab)
        result = scan(a.sources, vocab, a.tfds_data_dir)
    print(summary(result, vocab is not None), flush=True)
    return 1 if result["bad"] or result["unopened"] else 0


if __name__ == "__main__":
    sys.exit(main())
