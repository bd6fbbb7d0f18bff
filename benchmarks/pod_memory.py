# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Per-chip memory and FLOPs of the real train step on a 48-chip TPU v5p pod and on the
48-device CPU mesh (the paper's 48 GPUs), compiled ahead of time from this machine.

  python benchmarks/pod_memory.py                       # 1b, 3.6b x 256p, 384p x both
  python benchmarks/pod_memory.py --presets=3.6b --resolutions=384p --topologies=v5p:4x4x3

Needs the libtpu wheel matching jax for the TPU rows (`pip install '.[tpu]'`). Batch 1
sequence per chip; 7 latent frames (~12.8k tokens at 256p, ~28.7k at 384p, bucketed).
Each row is compiled with chunked loss + blockwise attention and again with both off.
"""
import argparse
import json
import os
import re
import sys

P = argparse.ArgumentParser(description=__doc__.splitlines()[0])
P.add_argument("--presets", default="1b,3.6b")
P.add_argument("--resolutions", default="256p,384p")
P.add_argument("--topologies", default="v5p:4x4x3,cpu:48")
P.add_argument("--naive", default="yes", choices=["yes", "no"],
               help="also compile with chunked loss and blockwise attention switched off")
ARGS = P.parse_args()
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=48")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from lumos_jax import config_lib  # noqa: E402
from lumos_jax.compile_check import (GIB, HBM_GIB, compile_step, default_fsdp_mesh,  # noqa: E402
                                     topology_devices)


def row(preset, res, topology, devices, efficient):
    c = config_lib.experiment("t2v", f"{preset}-{res}")
    c.mesh.update(**default_fsdp_mesh(c, len(devices)))
    if not efficient:
        c.model.attention, c.loss.chunk = "dense", None
    seq = c.data.streams.video.seq_len
    r = compile_step(c, devices, len(devices), seq)
    return c, seq, r


def main():
    summary = {}
    print("| preset | res | topology | mesh d x f | loss/attention | args GiB | temps GiB | "
          "peak GiB/chip | HBM GiB | spare GiB | model TFLOP/step/chip |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for topology in ARGS.topologies.split(","):
        devices = topology_devices(topology)
        hbm = HBM_GIB[topology.split(":")[0]]
        for preset in ARGS.presets.split(","):
            for res in ARGS.resolutions.split(","):
                for efficient in (True, False) if ARGS.naive == "yes" else (True,):
                    label = "chunked/blockwise" if efficient else "full/dense"
                    try:
                        c, seq, r = row(preset, res, topology, devices, efficient)
                    except Exception as e:  # noqa: BLE001  the TPU compiler refuses OOM steps
                        m = re.search(r"temporaries \(([\d.]+)G\) exceeds available HBM", str(e))
                        if not m:
                            raise
                        print(f"| {preset} | {res} | {topology} | - | {label} | - | {m.group(1)} "
                              f"| does not fit: the compiler needs {m.group(1)} GiB of "
                              f"temporaries | {hbm:.0f} | - | - |", flush=True)
                        summary[f"{preset}_{res}_{topology.split(':')[0]}_"
                                f"{'eff' if efficient else 'naive'}_peak_gib"] = float(m.group(1))
                        continue
                    from lumos_jax.model.config import ModelConfig
                    from lumos_jax.train_step import model_flops_per_token
                    tf = model_flops_per_token(ModelConfig.from_dict(c.model.to_dict()),
                                               seq) * seq / 1e12
                    peak = r.peak_bytes / GIB
                    print(f"| {preset} | {res} ({seq}) | {topology} | {c.mesh.data}x"
                          f"{c.mesh.fsdp} | {label} | {r.argument_bytes / GIB:.2f} | "
                          f"{r.temp_bytes / GIB:.2f} | {peak:.2f} | {hbm:.0f} | "
                          f"{hbm - peak:.2f} | {tf:.1f} |", flush=True)
                    key = f"{preset}_{res}_{topology.split(':')[0]}_{'eff' if efficient else 'naive'}"
                    summary[f"{key}_peak_gib"] = round(peak, 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
