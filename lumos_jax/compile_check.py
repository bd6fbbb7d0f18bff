# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Ahead-of-time compile of the real train step for hardware we do not have.

  python -m lumos_jax.compile_check --config=configs/t2v.py:3.6b-384p --topology=v5p:4x4x3
  python -m lumos_jax.compile_check --config=configs/t2v.py:3.6b-384p --topology=cpu:48
  python -m lumos_jax.compile_check --config=configs/t2v.py:1b --topology=v5p:4x4x3 --sweep

The step compiled is `Trainer.train_step`, the function train.py runs. Inputs are
abstract (ShapeDtypeStruct with shardings), so nothing is allocated or executed. TPU
topologies need the `libtpu` wheel matching jax (`pip install .[tpu]`); `cpu:N` uses N
emulated host devices (the 48-GPU-shaped mesh).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import sys

import jax
from absl import flags
from jax.experimental import topologies
from ml_collections import config_flags

from lumos_jax import cli, parallel
from lumos_jax.model.config import ModelConfig
from lumos_jax.train_step import Trainer, model_flops_per_token

HBM_GIB = {"v5p": 95.0, "v5e": 16.0, "v6e": 32.0, "v4": 32.0, "cpu": 80.0}
# The device_kind of each chip in parallel.PEAK_BF16_TFLOPS; cpu:N stands for the
# paper's H100-class GPUs.
DEVICE_KIND = {
    "v5p": "TPU v5p",
    "v5e": "TPU v5 lite",
    "v6e": "TPU v6 lite",
    "v4": "TPU v4",
    "cpu": "H100",
}
GIB = 1024**3
DEFAULT_TOPOLOGY = "cpu:48"  # the paper's 48 GPUs as emulated host devices


@dataclasses.dataclass
class CompileReport:
    devices: int
    argument_bytes: int
    output_bytes: int
    alias_bytes: int
    temp_bytes: int
    flops: float | None

    @property
    def peak_bytes(self) -> int:
        """Live at once per device: inputs + outputs not aliased to donated inputs + temps."""
        return self.argument_bytes + self.output_bytes - self.alias_bytes + self.temp_bytes


def topology_devices(topology: str):
    """'v5p:4x4x3' -> mock TPU devices; 'cpu:N' -> N host devices (set before jax use)."""
    kind, _, shape = topology.partition(":")
    if kind == "cpu":
        n = int(shape)
        if len(jax.devices("cpu")) < n:
            raise ValueError(
                f"--topology={topology}: only {len(jax.devices('cpu'))} CPU devices "
                f"exist; start with XLA_FLAGS=--xla_force_host_platform_device_count"
                f"={n} (the CLI does this itself)"
            )
        return jax.devices("cpu")[:n]
    if kind not in HBM_GIB:
        raise ValueError(
            f"--topology={topology}: unknown chip {kind!r}; expected one of "
            f"{sorted(HBM_GIB)} (e.g. v5p:4x4x3) or cpu:N"
        )
    try:
        import libtpu  # noqa: F401  (local: a presence probe; libtpu is the optional [tpu] extra)
    except ImportError as e:
        raise RuntimeError(
            f"--topology={topology} needs the libtpu wheel matching jax: pip install '.[tpu]'"
        ) from e
    # Every jax process on a machine with libtpu installed takes libtpu's single-process
    # lockfile; a compile-only client must not be refused because another one runs.
    os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
    cli.tpu_compile_only_env(topology)
    chip_config = "megacore" if kind in ("v5p", "v4") else "default"
    try:
        topo = topologies.get_topology_desc(
            platform="tpu",
            topology_name=topology,
            chip_config_name=chip_config,
            chips_per_host_bounds=(2, 2, 1),
            num_slices=1,
        )
    except Exception as e:  # libtpu raises plain RuntimeErrors; name what was asked for
        raise RuntimeError(
            f"--topology={topology}: libtpu could not build it ({e}); check "
            "the name and that libtpu matches the installed jax"
        ) from e
    return topo.devices


def default_fsdp_mesh(config, n: int, tensor: int = 1, context: int = 1) -> dict:
    """Full-shard FSDP over the n / (tensor x context) devices of each tensor-context group
    when the embedding width divides them; otherwise the largest dividing fsdp group with
    data parallelism across groups (hybrid sharding), e.g. 1b (embed 2048) on 48 devices
    -> data 3 x fsdp 16."""
    if tensor < 1 or n % tensor:
        raise ValueError(f"config mesh.tensor={tensor} does not divide the topology's {n} devices")
    if context < 1 or n % (tensor * context):
        raise ValueError(
            f"config mesh.context={context} x mesh.tensor={tensor} does not divide the "
            f"topology's {n} devices"
        )
    m = n // (tensor * context)
    e = config.model.embed_dim
    fsdp = m
    while fsdp > 1 and (e % fsdp or m % fsdp):
        fsdp -= 1
    return dict(data=m // fsdp, fsdp=fsdp, context=context, tensor=tensor)


def resolve_mesh(config, n: int) -> dict:
    """config.mesh with fsdp=-1 ("all devices", the paper presets: data 1) resolved for n
    devices (see default_fsdp_mesh); any other mesh is kept as given (make_mesh fills a -1
    in it). Updates config.mesh, returns it."""
    if config.mesh.fsdp == -1 and config.mesh.data == 1:
        m = config.mesh
        config.mesh.update(**default_fsdp_mesh(config, n, m.tensor, m.get("context", 1)))
    return dict(config.mesh)


def compile_step(config, devices, batch_size: int, seq_len: int) -> CompileReport:
    shape = dict(config.mesh)
    try:
        mesh = parallel.make_mesh(shape, devices=devices)
    except ValueError as e:
        raise ValueError(
            f"config mesh {shape} does not divide the topology's {len(devices)} devices: {e}"
        ) from e
    trainer = Trainer(config, mesh)
    with jax.set_mesh(mesh):
        lowered = trainer.jit_train_step().lower(
            trainer.abstract_state(), trainer.abstract_batch(batch_size, seq_len)
        )
        compiled = lowered.compile()
    mem = compiled.memory_analysis()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return CompileReport(
        len(devices),
        mem.argument_size_in_bytes,
        mem.output_size_in_bytes,
        mem.alias_size_in_bytes,
        mem.temp_size_in_bytes,
        (cost or {}).get("flops"),
    )


def _print_report(config, topology, report: CompileReport, batch, seq, mfu):
    kind = topology.split(":")[0]
    hbm = HBM_GIB[kind]
    cfg = ModelConfig.from_dict(config.model.to_dict())
    tokens = batch * seq
    flops = model_flops_per_token(cfg, seq) * tokens
    peak = parallel.peak_bf16_tflops(DEVICE_KIND[kind])
    step_s = flops / (report.devices * peak * 1e12 * mfu)
    print(
        f"topology {topology}: {report.devices} devices, mesh {dict(config.mesh)}, "
        f"attention {config.model.attention}"
    )
    print(
        f"  per device: arguments {report.argument_bytes / GIB:8.2f} GiB  outputs "
        f"{report.output_bytes / GIB:8.2f} GiB  aliased {report.alias_bytes / GIB:8.2f} GiB  "
        f"temporaries {report.temp_bytes / GIB:8.2f} GiB"
    )
    print(
        f"  peak {report.peak_bytes / GIB:.2f} GiB of {hbm:.0f} GiB "
        f"({'fits' if report.peak_bytes / GIB < hbm else 'DOES NOT FIT'}, "
        f"{hbm - report.peak_bytes / GIB:.2f} GiB spare)"
    )
    xla = f"{report.flops:.3e}" if report.flops else "n/a"
    # A Pallas kernel (splash) is a custom call: XLA's cost analysis counts it as 0 FLOPs.
    print(
        f"  model FLOPs/step {flops:.3e} (XLA cost analysis, per device, loops once, "
        f"Pallas kernels not counted: {xla})"
    )
    print(f"  at MFU {mfu:.0%}: {step_s:.2f} s/step, {tokens / step_s:,.0f} tokens/s")


def sweep(
    config,
    topology,
    devices,
    batch_per_device,
    seq,
    tensors=(1, 2, 4),
    remats=("full", "save_qkv", "dots_no_batch", "none"),
    micros=(1, 2),
):
    """Compile every (tensor, remat, micro-batches) combination; print which fit."""
    kind = topology.split(":")[0]
    n = len(devices)
    print(
        f"| mesh d x f x t | remat | micro-batches | peak GiB/chip | fits {HBM_GIB[kind]:.0f} GiB |"
    )
    print("|---|---|---|---|---|")
    rows = []
    for t in tensors:
        if n % t:
            continue
        for remat in remats:
            for micro in micros:
                c = copy.deepcopy(config)
                c.mesh.update(**default_fsdp_mesh(c, n, t))
                c.model.remat = remat
                c.train.micro_batches = micro
                batch = batch_per_device * micro * n // t
                try:
                    r = compile_step(c, devices, batch, seq)
                    peak = r.peak_bytes / GIB
                    fits = "yes" if peak < HBM_GIB[kind] else "no"
                except Exception as e:  # noqa: BLE001  (a failed compile is a table row)
                    peak, fits = float("nan"), f"compile failed: {str(e).splitlines()[0][:60]}"
                rows.append((dict(c.mesh), remat, micro, peak, fits))
                m = c.mesh
                print(
                    f"| {m.data}x{m.fsdp}x{m.tensor} | {remat} | {micro} | {peak:.2f} | {fits} |",
                    flush=True,
                )
    return rows


def main(argv):
    del argv
    FLAGS = flags.FLAGS
    config = FLAGS.config
    topology = FLAGS.topology
    devices = topology_devices(topology)
    resolve_mesh(config, len(devices))
    seq = FLAGS.seq_len or config.data.streams.video.seq_len
    # A sequence is split over mesh.context devices: batch_per_device whole sequences per
    # group of context devices.
    batch = FLAGS.batch_per_device * len(devices) // config.mesh.get("context", 1)
    if FLAGS.sweep:
        sweep(config, topology, devices, FLAGS.batch_per_device, seq)
        return
    report = compile_step(config, devices, batch, seq)
    _print_report(config, topology, report, batch, seq, FLAGS.mfu)


def _define_flags():
    config_flags.DEFINE_config_file("config", None, "Experiment config.", lock_config=True)
    flags.DEFINE_string("topology", DEFAULT_TOPOLOGY, "v5p:4x4x3, v5e:4x4, ... or cpu:N")
    flags.DEFINE_integer(
        "batch_per_device", 1, "Sequences per device (per mesh.context devices when > 1)."
    )
    flags.DEFINE_integer("seq_len", 0, "Tokens per sequence (0: the video stream's).")
    flags.DEFINE_float("mfu", 0.4, "MFU assumed for the step time estimate.")
    flags.DEFINE_bool(
        "sweep",
        False,
        "Table over tensor-parallel size, remat policy and "
        "micro-batches (each compiled; minutes per row at full size).",
    )


def _cpu_devices_from_argv(argv) -> None:
    """`--topology=cpu:N` (also the default) must size the host platform before jax
    initialises its backends."""
    topology = DEFAULT_TOPOLOGY
    for i, a in enumerate(argv):
        if a.startswith("--topology="):
            topology = a.split("=", 1)[1]
        elif a == "--topology" and i + 1 < len(argv):
            topology = argv[i + 1]
    kind, _, n = topology.partition(":")
    if kind == "cpu" and n.isdigit():
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={n}"
        )


if __name__ == "__main__":
    _cpu_devices_from_argv(sys.argv)
    cli.run(main, _define_flags)
