# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Per-chip memory and FLOPs of the real train step on a 48-chip TPU v5p pod and on the
48-device CPU mesh (the paper's 48 GPUs), compiled ahead of time from this machine.

  python benchmarks/pod_memory.py                       # 1b, 3.6b x 256p, 384p x both
  python benchmarks/pod_memory.py --presets=3.6b --resolutions=384p --topologies=v5p:4x4x3
  python benchmarks/pod_memory.py --context_table=yes --presets=3.6b --resolutions=384p \
      --topologies=v5p:4x4x3 --frames=7,14,28,56 --contexts=1,2,4,8   # issue 24

Needs the libtpu wheel matching jax for the TPU rows (`pip install '.[tpu]'`). Batch 1
sequence per chip; 7 latent frames (~12.8k tokens at 256p, ~28.7k at 384p, bucketed).
Each row is compiled with chunked loss and the attention 'auto' resolves to on that
topology (splash on TPU, blockwise on the CPU mesh), with chunked loss + blockwise where
'auto' is something else, and (--naive=yes) with unchunked loss + dense attention.
FLOP columns: XLA's cost analysis of the compiled step (per chip; loop bodies counted
once, so blockwise's block loops count one block, and a Pallas call counts 0); for splash
also the kernels' own matmul FLOPs counted from the blocks they visit (forward twice
under full remat, dq and dkv backward kernels).

--context_table=yes: context parallelism instead: clips of --frames latent frames (384p:
4,084 tokens a frame, bucketed to 512) with each sequence split over mesh.context = c
chips (fsdp 48 / c, batch 48 / c sequences: one sequence per c chips), blockwise attention
at every c (splash takes no split sequence), full remat, chunked loss.
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
P.add_argument(
    "--naive",
    default="yes",
    choices=["yes", "no"],
    help="also compile with unchunked loss and dense attention",
)
P.add_argument("--context_table", default="no", choices=["yes", "no"])
P.add_argument("--frames", default="7,14,28,56", help="latent frames (context table)")
P.add_argument("--contexts", default="1,2,4,8", help="mesh.context values (context table)")
ARGS = P.parse_args()
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=48"
)
os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import context_balance  # noqa: E402  (this folder: the 384p clip lengths)

from lumos_jax import config_lib  # noqa: E402
from lumos_jax.compile_check import GIB, HBM_GIB, compile_step, default_fsdp_mesh, topology_devices  # noqa: E402
from lumos_jax.model import attention_choice, splash  # noqa: E402
from lumos_jax.model.config import ModelConfig  # noqa: E402
from lumos_jax.train_step import model_flops_per_token  # noqa: E402


def config_for(preset, res, devices, attention, chunked):
    c = config_lib.experiment("t2v", f"{preset}-{res}")
    c.mesh.update(**default_fsdp_mesh(c, len(devices)))
    c.model.attention = attention
    attention_choice.resolve(c, devices)
    if not chunked:
        c.loss.chunk = None
    return c


def splash_kernel_tflop(cfg: ModelConfig, seq: int) -> float:
    """Matmul FLOPs the splash kernels run for one sequence's train step (see docstring)."""
    block, part_a, part_b = splash.visited_blocks(seq, cfg.max_frame_tokens)
    per_block = 2 * block * block * cfg.head_dim  # one [b, D] x [D, b] matmul
    fwd_matmuls = 2 * (2 if cfg.remat == "full" else 1)  # QK^T, PV; again under remat
    bwd_matmuls = 3 + 4  # dq kernel: QK^T, dO V^T, dS K; dkv: QK^T, P^T dO, dO V^T, dS^T Q
    n = cfg.num_layers * cfg.num_heads * (part_a + part_b)
    return n * per_block * (fwd_matmuls + bwd_matmuls) / 1e12


def variants(preset, res, devices):
    """(label, attention, chunked loss) rows: 'auto', blockwise if auto differs, naive."""
    auto = config_for(preset, res, devices, "auto", True).model.attention
    rows = [(f"chunked/{auto} (auto)", "auto", True)]
    if auto != "blockwise":
        rows.append(("chunked/blockwise", "blockwise", True))
    if ARGS.naive == "yes":
        rows.append(("full/dense", "dense", False))
    return rows


def context_cell(preset, res, topology, devices, frames, c, summary):
    """One row of the context table: compile, print, record in `summary`."""
    hbm = HBM_GIB[topology.split(":")[0]]
    cfg_dict = config_lib.experiment("t2v", f"{preset}-{res}")
    cfg_dict.mesh.update(**default_fsdp_mesh(cfg_dict, len(devices), context=c))
    cfg_dict.model.attention = "blockwise"
    seq, batch = context_balance.seq_len(frames), len(devices) // c
    cfg = ModelConfig.from_dict(cfg_dict.model.to_dict())
    model_tf = model_flops_per_token(cfg, seq) * seq * batch / len(devices) / 1e12
    key = f"{preset}_{res}_f{frames}_c{c}"
    head = f"| {frames} | {seq:,} | {c} | {cfg_dict.mesh.fsdp}x{c} | {batch} |"
    try:
        r = compile_step(cfg_dict, devices, batch, seq)
    except Exception as e:  # noqa: BLE001  the TPU compiler refuses OOM steps
        m = re.search(r"temporaries \(([\d.]+)G\) exceeds available HBM", str(e))
        if not m:
            raise
        print(f"{head} > {hbm:.0f} (temps {m.group(1)}) | no | - | {model_tf:.1f} |", flush=True)
        summary[f"{key}_fits"] = False
        return
    peak = r.peak_bytes / GIB
    fits = "yes" if peak < hbm else "no"
    xla = (r.flops or 0) / 1e12
    print(f"{head} {peak:.2f} | {fits} | {xla:.2f} | {model_tf:.1f} |", flush=True)
    summary.update({f"{key}_peak_gib": round(peak, 2), f"{key}_xla_tflop": round(xla, 3)})
    summary[f"{key}_fits"] = fits == "yes"


def context_table():
    summary = {}
    print(
        "| latent frames | tokens | context | mesh fsdp x context | sequences | peak GiB/chip "
        "| fits | XLA TFLOP/chip | model TFLOP/chip |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for topology in ARGS.topologies.split(","):
        devices = topology_devices(topology)
        for preset in ARGS.presets.split(","):
            for res in ARGS.resolutions.split(","):
                for frames in map(int, ARGS.frames.split(",")):
                    for c in map(int, ARGS.contexts.split(",")):
                        context_cell(preset, res, topology, devices, frames, c, summary)
    print(json.dumps(summary))


def main():
    if ARGS.context_table == "yes":
        return context_table()
    summary = {}
    print(
        "| preset | res | topology | mesh d x f | loss/attention | args GiB | temps GiB | "
        "peak GiB/chip | HBM GiB | spare GiB | model TFLOP/step/chip | XLA TFLOP/chip | "
        "splash kernels TFLOP/chip |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for topology in ARGS.topologies.split(","):
        devices = topology_devices(topology)
        kind = topology.split(":")[0]
        hbm = HBM_GIB[kind]
        for preset in ARGS.presets.split(","):
            for res in ARGS.resolutions.split(","):
                for label, attention, chunked in variants(preset, res, devices):
                    c = config_for(preset, res, devices, attention, chunked)
                    seq = c.data.streams.video.seq_len
                    key = f"{preset}_{res}_{kind}_{c.model.attention}" + (
                        "" if chunked else "_unchunked"
                    )
                    try:
                        r = compile_step(c, devices, len(devices), seq)
                    except Exception as e:  # noqa: BLE001  the TPU compiler refuses OOM steps
                        m = re.search(r"temporaries \(([\d.]+)G\) exceeds available HBM", str(e))
                        if not m:
                            raise
                        print(
                            f"| {preset} | {res} | {topology} | - | {label} | - | {m.group(1)} "
                            f"| does not fit: the compiler needs {m.group(1)} GiB of "
                            f"temporaries | {hbm:.0f} | - | - | - | - |",
                            flush=True,
                        )
                        summary[f"{key}_peak_gib"] = float(m.group(1))
                        continue
                    cfg = ModelConfig.from_dict(c.model.to_dict())
                    tf = model_flops_per_token(cfg, seq) * seq / 1e12
                    xla = (r.flops or 0) / 1e12
                    kern = splash_kernel_tflop(cfg, seq) if cfg.attention == "splash" else None
                    peak = r.peak_bytes / GIB
                    print(
                        f"| {preset} | {res} ({seq}) | {topology} | {c.mesh.data}x"
                        f"{c.mesh.fsdp} | {label} | {r.argument_bytes / GIB:.2f} | "
                        f"{r.temp_bytes / GIB:.2f} | {peak:.2f} | {hbm:.0f} | "
                        f"{hbm - peak:.2f} | {tf:.1f} | {xla:.1f} | "
                        f"{'-' if kern is None else f'{kern:.1f}'} |",
                        flush=True,
                    )
                    summary[f"{key}_peak_gib"] = round(peak, 2)
                    summary[f"{key}_xla_tflop"] = round(xla, 2)
                    if kern is not None:
                        summary[f"{key}_splash_kernel_tflop"] = round(kern, 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
