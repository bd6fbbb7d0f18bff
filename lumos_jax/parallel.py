# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Device mesh, logical-axis sharding rules and activation constraints.

Parameters and key activations carry logical axis names (e.g. ('embed', 'mlp')); a rule
table maps each logical name to mesh axes ('data', 'fsdp', 'context', 'tensor'). A mesh
axis is used at most once per array and only where it divides the dimension, otherwise
that dimension is replicated, so one rule table serves every model size and mesh shape.
'context' splits each sequence (activations' 'act_length', model/context_parallel.py)
and, like 'fsdp', shards the parameters.
Also what every step compiler shares about the devices: the peak-TFLOPs table (MFU,
compile_check estimates) and the fast-compile XLA options.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import numpy as np
from flax import nnx
from jax.experimental import mesh_utils
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

# context before tensor: both innermost, so a sequence's shards sit on one host's chips.
MESH_AXES = ("data", "fsdp", "context", "tensor")
# Parameters (and optimizer state) are fully sharded over these; 'context' devices hold
# different tokens of the same rows, so they can split the weights as fsdp devices do.
PARAM_SHARD_AXES = ("fsdp", "context")

# logical name -> mesh axes tried in order (MaxText-style). 'act_*' are activations.
DEFAULT_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vocab", ("tensor",)),
    ("embed", ("fsdp",)),
    ("mlp", ("tensor",)),
    ("heads", ("tensor",)),
    ("kv_heads", ("tensor",)),
    ("head_dim", ()),
    ("layers", ()),
    ("norm", ()),
    ("act_batch", ("data", "fsdp")),
    ("act_length", ("context",)),
    ("act_rows", ("data", "fsdp", "context")),  # [B * context, S / context] folds
    ("act_embed", ()),
    ("act_heads", ("tensor",)),
    ("act_kv_heads", ("tensor",)),
    ("act_mlp", ("tensor",)),
    ("act_vocab", ("tensor",)),
)

# XLA options for CPU smoke tests and short runs: compiles about 2x faster, runs slower.
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}

# bf16 dense peak TFLOPs per device by device_kind substring, for MFU figures and step
# time estimates; the first match wins ("H200" must come before "H20").
PEAK_BF16_TFLOPS = {
    "H100": 989.0,
    "H200": 989.0,
    "H20": 148.0,
    "A100": 312.0,
    "TPU v5p": 459.0,
    "TPU v5 lite": 197.0,
    "TPU v6 lite": 918.0,
    "TPU v4": 275.0,
}


def peak_bf16_tflops(device_kind: str) -> float | None:
    """The table's peak for a jax device_kind ('NVIDIA H100 80GB HBM3'), or None."""
    for name, tflops in PEAK_BF16_TFLOPS.items():
        if name.lower() in device_kind.lower():
            return tflops
    return None


def compiler_options(fast_compile: bool) -> dict | None:
    """jax.jit(compiler_options=...) for a `fast_compile` config switch."""
    return FAST_COMPILE if fast_compile else None


def make_mesh(shape: Mapping[str, int] | Sequence[int], devices=None) -> jax.sharding.Mesh:
    """Mesh over ('data', 'fsdp', 'context', 'tensor'); one entry may be -1 (fills the
    rest). A mapping may leave out 'context' and a sequence may have 3 entries (data,
    fsdp, tensor): context is then 1.

    Axes use AxisType.Auto so GSPMD propagates shardings from the step's in/out specs.
    """
    devices = list(jax.devices() if devices is None else devices)
    if isinstance(shape, Mapping):
        sizes = [shape.get(a, 1) if a == "context" else shape[a] for a in MESH_AXES]
    else:
        sizes = list(shape)
        if len(sizes) == len(MESH_AXES) - 1:
            sizes.insert(MESH_AXES.index("context"), 1)
    if len(sizes) != len(MESH_AXES):
        raise ValueError(f"mesh shape needs {len(MESH_AXES)} entries {MESH_AXES}, got {sizes}")
    if sizes.count(-1) > 1:
        raise ValueError(f"at most one mesh axis may be -1, got {sizes}")
    known = int(np.prod([s for s in sizes if s != -1]))
    if -1 in sizes:
        if len(devices) % known:
            raise ValueError(f"mesh {sizes}: {len(devices)} devices not divisible by {known}")
        sizes[sizes.index(-1)] = len(devices) // known
    if int(np.prod(sizes)) != len(devices):
        raise ValueError(
            f"mesh {dict(zip(MESH_AXES, sizes))} needs {int(np.prod(sizes))} "
            f"devices, {len(devices)} are available"
        )
    auto = (jax.sharding.AxisType.Auto,) * len(MESH_AXES)
    try:
        return jax.make_mesh(tuple(sizes), MESH_AXES, axis_types=auto, devices=devices)
    except NotImplementedError:
        # A TPU torus whose axes no product of matches an axis (context 8 on v5p 4x4x3):
        # split physical axes rather than refuse the mesh.
        grid = mesh_utils.create_device_mesh(sizes, devices, allow_split_physical_axes=True)
        return jax.sharding.Mesh(grid, MESH_AXES, axis_types=auto)


def logical_to_spec(
    axes: Sequence[str | None],
    shape: Sequence[int] | None = None,
    mesh_shape: Mapping[str, int] | None = None,
    rules=DEFAULT_RULES,
) -> P:
    """Logical axis names -> PartitionSpec, skipping mesh axes already used or not dividing."""
    table = dict(rules)
    used: set[str] = set()
    out = []
    for i, name in enumerate(axes):
        chosen = []
        size = None if shape is None else shape[i]
        for mesh_axis in table.get(name, ()) if name is not None else ():
            if mesh_axis in used or (mesh_shape is not None and mesh_axis not in mesh_shape):
                continue
            n = 1 if mesh_shape is None else mesh_shape[mesh_axis]
            prod = int(np.prod([mesh_shape[a] for a in chosen])) if mesh_shape else 1
            if size is not None and size % (prod * n):
                continue
            chosen.append(mesh_axis)
        used.update(chosen)
        out.append(None if not chosen else chosen[0] if len(chosen) == 1 else tuple(chosen))
    return P(*out)


def param_spec(
    axes: Sequence[str | None],
    shape: Sequence[int],
    mesh_shape: Mapping[str, int],
    rules=DEFAULT_RULES,
) -> P:
    """Spec of a parameter: the logical rules, then FSDP on any dimension it divides.

    FSDP shards every parameter over the 'fsdp' axis, then over 'context' (when > 1); when
    the rule's own dimension is not divisible (e.g. embed 2048 on 48 devices) the largest
    divisible one is used, so parameters stay sharded on meshes of any shape that some
    dimension fits. 'context' joins the dimension 'fsdp' took when it divides it.
    """
    spec = list(logical_to_spec(axes, shape, mesh_shape, rules))

    def names(s):
        return () if s is None else (s,) if isinstance(s, str) else tuple(s)

    def prod(s):
        return int(np.prod([mesh_shape[a] for a in names(s)]))

    for axis in PARAM_SHARD_AXES:
        n = mesh_shape.get(axis, 1)
        if n == 1 or any(axis in names(s) for s in spec):
            continue
        order = sorted(range(len(shape)), key=lambda i: ("fsdp" not in names(spec[i]), -shape[i]))
        for i in order:
            if shape[i] % (prod(spec[i]) * n) == 0:
                cur = names(spec[i]) + (axis,)
                spec[i] = cur[0] if len(cur) == 1 else cur
                break
    return P(*spec)


def refuse_context(mesh, what: str) -> None:
    """One error line when `what` (e.g. sampling) is given a mesh that splits sequences."""
    c = 1 if mesh is None else dict(mesh.shape).get("context", 1)
    if c > 1:
        raise ValueError(
            f"{what} does not split sequences over devices: run it with config "
            f"mesh.context=1, not {c} (checkpoints load on any mesh)"
        )


def axis_size(name: str) -> int:
    """Size of mesh axis `name` in the mesh being traced under (1 outside a mesh)."""
    mesh = jax.sharding.get_abstract_mesh()
    return 1 if mesh.empty else dict(mesh.shape).get(name, 1)


def constrain(x, axes: Sequence[str | None], rules=DEFAULT_RULES):
    """with_sharding_constraint by logical names; a no-op outside a mesh context."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty:
        return x
    spec = logical_to_spec(axes, x.shape, dict(mesh.shape), rules)
    return jax.lax.with_sharding_constraint(x, spec)


def param_axes(tree):
    """Pytree of nnx Variables -> pytree (same structure) of logical axis tuples."""

    def axes_of(v):
        meta = v.get_metadata() if isinstance(v, nnx.Variable) else {}
        return meta.get("axes", (None,) * np.ndim(v))

    return jax.tree.map(axes_of, tree, is_leaf=lambda x: isinstance(x, nnx.Variable))


def shardings_from_axes(axes, shapes, mesh: jax.sharding.Mesh, rules=DEFAULT_RULES):
    """The one place parameters get their shardings (the trainer, the sampler, loaders).

    axes: pytree of logical-axis tuples; shapes: the same tree whose leaves have a
    `.shape` (arrays, ShapeDtypeStructs, nnx Variables) -> NamedShardings (param_spec).
    """
    mesh_shape = dict(mesh.shape)
    return jax.tree.map(
        lambda a, x: NamedSharding(mesh, param_spec(a, tuple(x.shape), mesh_shape, rules)),
        axes,
        shapes,
        is_leaf=lambda x: isinstance(x, tuple),
    )


def tree_shardings(tree, mesh: jax.sharding.Mesh, rules=DEFAULT_RULES):
    """NamedSharding for every Variable leaf of `tree`, from its logical axes and shape."""
    return shardings_from_axes(param_axes(tree), tree, mesh, rules)
