# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Per-device memory of the full train step, compiled ahead of time (nothing executes).

  python benchmarks/memory.py                  # 1b and 3.6b at 384p x 7 latent frames
  python benchmarks/memory.py --presets=3.6b --resolution=256p --devices=48

Emulates a 48-device CPU mesh (the paper's 48 GPUs), batch 1 per device, and reads
XLA's compiled memory analysis: arguments, outputs, temporaries per device. Each preset
is compiled twice: as configured (chunked loss + blockwise attention) and with both
switched off, so the saving is visible. The 80 GB line is an H100/A100-80GB device.
"""

import argparse
import json
import os
import sys

P = argparse.ArgumentParser(description=__doc__.splitlines()[0])
P.add_argument("--presets", default="1b,3.6b")
P.add_argument("--resolution", default="384p", choices=["256p", "384p"])
P.add_argument("--devices", type=int, default=48)
P.add_argument("--task", default="t2v")
ARGS = P.parse_args()
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={ARGS.devices}"
)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import jax  # noqa: E402

from lumos_jax import config_lib  # noqa: E402
from lumos_jax.compile_check import GIB, compile_step, default_fsdp_mesh  # noqa: E402

DEVICE_GIB = 80.0


def measure(preset, efficient):
    c = config_lib.experiment(ARGS.task, f"{preset}-{ARGS.resolution}")
    c.mesh.update(**default_fsdp_mesh(c, ARGS.devices))
    if not efficient:
        c.model.attention = "dense"
        c.loss.chunk = None
    seq = c.data.streams.video.seq_len
    r = compile_step(c, jax.devices()[: ARGS.devices], ARGS.devices, seq)
    return c, seq, r


def main():
    rows, summary = [], {}
    for preset in ARGS.presets.split(","):
        for efficient in (True, False):
            c, seq, r = measure(preset, efficient)
            label = "chunked+blockwise" if efficient else "unchunked+dense"
            rows.append((preset, label, dict(c.mesh), seq, r))
            key = f"{preset}_{'eff' if efficient else 'naive'}"
            summary[f"{key}_peak_gib"] = round(r.peak_bytes / GIB, 2)
            print(
                f"{preset:>5} {label:<18} mesh {dict(c.mesh)} seq {seq}: args "
                f"{r.argument_bytes / GIB:.2f} out {r.output_bytes / GIB:.2f} alias "
                f"{r.alias_bytes / GIB:.2f} temp {r.temp_bytes / GIB:.2f} -> peak "
                f"{r.peak_bytes / GIB:.2f} GiB/device",
                flush=True,
            )
    print()
    print(
        f"| preset | step | mesh | seq | args GiB | temps GiB | peak GiB | fits {DEVICE_GIB:.0f} GB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for preset, label, mesh, seq, r in rows:
        fits = "yes" if r.peak_bytes / GIB < DEVICE_GIB else "no"
        print(
            f"| {preset} | {label} | {mesh['data']}x{mesh['fsdp']}x{mesh['tensor']} | {seq} | "
            f"{r.argument_bytes / GIB:.2f} | {r.temp_bytes / GIB:.2f} | "
            f"{r.peak_bytes / GIB:.2f} | {fits} |"
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
