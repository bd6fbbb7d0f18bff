# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Throughput of the full data pipeline (read, decode, check, layout, AR-DF mask, batch).

    python benchmarks/data_throughput.py [--seconds 8] [--workers 0,2] [--only builtin]

Two synthetic record shapes, written to ArrayRecord in a temp dir first:
  builtin  compact vocab, 64x64 px, 5 latent frames of 8x8 codes (ShapesMotion-like)
  384p     release vocab, 672x384 px, 7 latent frames of 48x84 codes (~28.6k tokens)
Prints a table, then (last line) one JSON object with the headline figures. Samples/s
count batch rows; tokens/s count bucket tokens (what the train step consumes).
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from lumos_jax import layout
from lumos_jax.data import config as data_config
from lumos_jax.data import pipeline, records

# name: (vocab config, frames, height, width, prompt ids, records, batch size)
CASES = {
    "builtin": (dict(kind="compact", text_tokens=448, visual_size=1000), 5, 64, 64, 48, 256, 16),
    "384p": (dict(kind="release", text_tokens=0, visual_size=0), 7, 384, 672, 60, 12, 2),
}


def write_records(case: str, directory: str) -> tuple[str, int]:
    """Writes the case's synthetic records; returns (source spec, bucket length)."""
    vocab_cfg, frames, height, width, text_len, n, _ = CASES[case]
    vocab = layout.vocab_from_config(_config_dict(vocab_cfg))
    rng = np.random.default_rng(0)
    path = os.path.join(directory, f"{case}.array_record")
    records.write_array_record(
        path,
        (
            records.random_record(
                rng,
                vocab,
                frames=frames,
                height=height,
                width=width,
                text_len=text_len,
                record_id=f"{case}-{i}",
            )
            for i in range(n)
        ),
    )
    return f"array_record:{path}", data_config.bucket_length(frames, height, width, text_len)


def _config_dict(d):
    import ml_collections  # pylint: disable=import-outside-toplevel

    return ml_collections.ConfigDict(d)


def make_config(case: str, spec: str, seq_len: int, workers: int):
    c = data_config.default_config()
    c.vocab = _config_dict(CASES[case][0])
    c.streams.image.weight = 0.0
    c.streams.video.sources, c.streams.video.seq_len = spec, seq_len
    c.batch_size, c.num_workers = CASES[case][6], workers
    return c


def measure(config, seconds: float, min_batches: int = 5) -> dict:
    """Times batches for `seconds` after a first one (which includes worker start-up)."""
    t0 = time.perf_counter()
    it = pipeline.make_iterator(config, process_index=0, process_count=1)
    first = next(it)
    startup = time.perf_counter() - t0
    real, batches = 0, 0
    t0 = time.perf_counter()
    while batches < min_batches or time.perf_counter() - t0 < seconds:
        batch = next(it)
        real += int((batch["segments"] != layout.PAD).sum())
        batches += 1
    dt = time.perf_counter() - t0
    it.close()
    rows, seq = first["tokens"].shape
    return dict(
        startup_s=startup,
        samples_per_s=batches * rows / dt,
        tokens_per_s=batches * rows * seq / dt,
        real_tokens_per_s=real / dt,
        seq=seq,
        batch=rows,
    )


def measure_train_step(spec: str, seq_len: int, steps: int = 5) -> float:
    """Samples/s the tiny t2v train step consumes on this machine (same batch shape)."""
    import jax  # pylint: disable=import-outside-toplevel

    from lumos_jax import config_lib, parallel  # pylint: disable=import-outside-toplevel
    from lumos_jax.train_step import Trainer  # pylint: disable=import-outside-toplevel

    c = config_lib.experiment("t2v", "tiny")
    c.data.streams.video.sources, c.data.streams.video.seq_len = spec, seq_len
    c.mesh.update(data=-1, fsdp=1, tensor=1)
    mesh = parallel.make_mesh(dict(c.mesh))
    trainer = Trainer(c, mesh)
    it = pipeline.make_iterator(c.data, process_index=0, process_count=1)
    batch = trainer.device_batch(next(it))
    it.close()
    with jax.set_mesh(mesh):
        state = trainer.init_state(0)
        step = trainer.jit_train_step()
        state, m = step(state, batch)
        jax.block_until_ready(m)
        t0 = time.perf_counter()
        for _ in range(steps):
            state, m = step(state, batch)
        jax.block_until_ready(m)
    return steps * batch["tokens"].shape[0] / (time.perf_counter() - t0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="timed seconds per run")
    parser.add_argument("--workers", default="0,2", help="comma-separated worker counts")
    parser.add_argument("--only", choices=sorted(CASES), help="run one case")
    parser.add_argument(
        "--no_train_step",
        action="store_true",
        help="skip timing the tiny train step (the consumption ratio)",
    )
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    cases = [args.only] if args.only else list(CASES)
    summary = {}
    print(
        f"{'case':8} {'workers':>7} {'batch':>5} {'seq':>6} {'start s':>8} "
        f"{'samples/s':>10} {'tokens/s':>11} {'real tok/s':>11}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            spec, seq_len = write_records(case, tmp)
            for w in workers:
                r = measure(make_config(case, spec, seq_len, w), args.seconds)
                print(
                    f"{case:8} {w:>7} {r['batch']:>5} {r['seq']:>6} {r['startup_s']:>8.2f} "
                    f"{r['samples_per_s']:>10.1f} {r['tokens_per_s']:>11.0f} "
                    f"{r['real_tokens_per_s']:>11.0f}",
                    flush=True,
                )
                summary[f"{case}_w{w}_samples_per_s"] = round(r["samples_per_s"], 2)
                summary[f"{case}_w{w}_tokens_per_s"] = round(r["tokens_per_s"])
            if case == "builtin" and not args.no_train_step:
                train = measure_train_step(spec, seq_len)
                ratio = summary[f"builtin_w{workers[0]}_samples_per_s"] / train
                print(
                    f"tiny t2v train step consumes {train:.1f} samples/s on this machine: "
                    f"the pipeline ({workers[0]} workers) delivers {ratio:.1f}x that"
                )
                summary["train_step_samples_per_s"] = round(train, 2)
                summary["pipeline_over_train_step"] = round(ratio, 1)
    summary["cpu_count"] = os.cpu_count()
    print(json.dumps(summary))
    sys.stdout.flush()


if __name__ == "__main__":  # required: Grain workers are spawned and re-import this file
    main()
