# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""What the checkpoint checksums (SHA256SUMS) cost on save and on restore.

    python benchmarks/checkpoint_integrity.py [--preset 0.5b] [--fraction 0.125] [--repeats 2]

The state is the train state of a model preset (params + AdamW moments, the shapes
and dtypes Trainer.abstract_state() gives), filled with random bytes (compression
cannot shrink it); --fraction keeps the leaves, largest first, up to that share of
its bytes (1 = the whole state). On one CPU device, into a temp dir (--dir):
  save     Checkpointer.save + wait, without sums (hook disabled) and with them,
           alternating --repeats times, the best of each
  sums     checkpoint_integrity.write_sums on the saved step (what the hook does)
  restore  Checkpointer.restore of the step (no checks)
  verify   checkpoint_integrity.verify of the step (what restore_latest adds)
Files are fresh in the page cache for sums and verify (as after a save; a restore on a
cold node reads the files twice, once for verify). Prints a table, then one JSON line.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import jax
import numpy as np

from lumos_jax import checkpoint, checkpoint_integrity, config_lib, parallel
from lumos_jax.train_step import Trainer

GIB = 2**30


def abstract_state(preset: str):
    config = config_lib.experiment("t2v", preset)
    with config.unlocked():
        config.mesh.update(data=1, fsdp=1, tensor=1)
    return Trainer(config, parallel.make_mesh(dict(config.mesh))).abstract_state()


def random_state(abstract, fraction: float, seed: int = 0):
    """Random-byte arrays of the abstract leaves, largest first, up to `fraction` of the
    bytes; the others are left out (None). -> (state, bytes kept, bytes in all)."""
    leaves, treedef = jax.tree.flatten(abstract)
    sizes = [int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize for x in leaves]
    budget, kept, rng = fraction * sum(sizes), 0, np.random.default_rng(seed)
    out = [None] * len(leaves)
    for i in sorted(range(len(leaves)), key=lambda i: -sizes[i]):
        if kept + sizes[i] > budget and kept > 0:
            continue
        raw = rng.integers(0, 256, sizes[i], dtype=np.uint8)
        out[i] = jax.device_put(raw.view(np.dtype(leaves[i].dtype)).reshape(leaves[i].shape))
        kept += sizes[i]
    state = {str(i): x for i, x in enumerate(out) if x is not None}
    return state, kept, sum(sizes)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="0.5b")
    ap.add_argument("--fraction", type=float, default=0.125)
    ap.add_argument("--repeats", type=int, default=2, help="saves of each kind (best taken)")
    ap.add_argument("--dir", default=None, help="where to write (default: a temp dir)")
    args = ap.parse_args(argv)

    state, nbytes, total = random_state(abstract_state(args.preset), args.fraction)
    target = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), state
    )
    root = tempfile.mkdtemp(prefix="ckpt_bench_", dir=args.dir)
    try:
        ck = checkpoint.Checkpointer(os.path.join(root, "ck"), keep=2, async_save=False)
        hook = checkpoint.Checkpointer._write_sums
        save_plain = save_sums = float("inf")
        for r in range(args.repeats):  # alternating; the best of each (the first is cold)
            checkpoint.Checkpointer._write_sums = lambda self: None
            save_plain = min(
                save_plain, timed(lambda: ck.save(2 * r + 1, state, {}, force=True))[0]
            )
            checkpoint.Checkpointer._write_sums = hook
            save_sums = min(save_sums, timed(lambda: ck.save(2 * r + 2, state, {}, force=True))[0])
        step_dir = ck.step_dir(2 * args.repeats)
        sums_s, hashed = timed(lambda: checkpoint_integrity.write_sums(step_dir))
        restore_s, _ = timed(lambda: jax.block_until_ready(ck.restore(target, 2 * args.repeats)[1]))
        verify_s, verdict = timed(lambda: checkpoint_integrity.verify(step_dir))
        ck.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert verdict == ("ok", ""), verdict

    gib = nbytes / GIB
    rows = [
        ("save without sums", save_plain),
        ("save with sums", save_sums),
        ("sums alone (write_sums)", sums_s),
        ("restore (no checks)", restore_s),
        ("verify (sha256 of every file)", verify_s),
    ]
    print(
        f"{args.preset} train state: {total / GIB:.2f} GiB in all; benchmarked "
        f"{gib:.2f} GiB (--fraction {args.fraction}), {hashed / GIB:.2f} GiB of files, "
        f"{os.cpu_count()} CPUs"
    )
    for name, seconds in rows:
        print(f"  {name:32s} {seconds:8.2f} s  {gib / seconds:6.2f} GiB/s")
    print(
        json.dumps(
            {
                "preset": args.preset,
                "state_gib": round(gib, 3),
                "full_state_gib": round(total / GIB, 3),
                "save_s": round(save_plain, 3),
                "save_with_sums_s": round(save_sums, 3),
                "sums_s": round(sums_s, 3),
                "restore_s": round(restore_s, 3),
                "verify_s": round(verify_s, 3),
                # The save difference is within the disk's noise here; the sums' own time is not.
                "sums_pct_of_save": round(100 * sums_s / save_plain, 1),
                "restore_overhead_pct": round(100 * verify_s / restore_s, 1),
                "sha256_gib_per_s": round(hashed / GIB / sums_s, 3),
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
