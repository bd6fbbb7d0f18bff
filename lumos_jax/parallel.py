# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Device mesh, logical-axis sharding rules and activation constraints.

Parameters and key activations carry logical axis names (e.g. ('embed', 'mlp')); a rule
table maps each logical name to mesh axes ('data', 'fsdp', 'tensor'). A mesh axis is
used at most once per array and only where it divides the dimension, otherwise that
dimension is replicated, so one rule table serves every model size and mesh shape.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

MESH_AXES = ("data", "fsdp", "tensor")

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
    ("act_length", ()),
    ("act_embed", ()),
    ("act_heads", ("tensor",)),
    ("act_kv_heads", ("tensor",)),
    ("act_mlp", ("tensor",)),
    ("act_vocab", ("tensor",)),
)


def make_mesh(shape: Mapping[str, int] | Sequence[int], devices=None) -> jax.sharding.Mesh:
    """Mesh over ('data', 'fsdp', 'tensor'); one entry may be -1 (fills the rest).

    Axes use AxisType.Auto so GSPMD propagates shardings from the step's in/out specs.
    """
    devices = list(jax.devices() if devices is None else devices)
    sizes = [shape[a] for a in MESH_AXES] if isinstance(shape, Mapping) else list(shape)
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
        raise ValueError(f"mesh {dict(zip(MESH_AXES, sizes))} needs {int(np.prod(sizes))} "
                         f"devices, {len(devices)} are available")
    auto = (jax.sharding.AxisType.Auto,) * len(MESH_AXES)
    return jax.make_mesh(tuple(sizes), MESH_AXES, axis_types=auto, devices=devices)


def logical_to_spec(axes: Sequence[str | None], shape: Sequence[int] | None = None,
                    mesh_shape: Mapping[str, int] | None = None,
                    rules=DEFAULT_RULES) -> P:
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


def param_spec(axes: Sequence[str | None], shape: Sequence[int],
               mesh_shape: Mapping[str, int], rules=DEFAULT_RULES) -> P:
    """Spec of a parameter: the logical rules, then FSDP on any dimension it divides.

    FSDP shards every parameter over the 'fsdp' axis; when the rule's own dimension is
    not divisible (e.g. embed 2048 on 48 devices) the largest divisible one is used, so
    parameters stay sharded on meshes of any shape that some dimension fits.
    """
    spec = list(logical_to_spec(axes, shape, mesh_shape, rules))
    n = mesh_shape.get("fsdp", 1)
    used = {a for s in spec if s is not None for a in ((s,) if isinstance(s, str) else s)}
    if n > 1 and "fsdp" not in used:
        def prod(s):
            names = () if s is None else (s,) if isinstance(s, str) else s
            return int(np.prod([mesh_shape[a] for a in names])) if names else 1
        for i in sorted(range(len(shape)), key=lambda i: -shape[i]):
            if shape[i] % (prod(spec[i]) * n) == 0:
                cur = spec[i]
                spec[i] = "fsdp" if cur is None else (
                    (cur, "fsdp") if isinstance(cur, str) else (*cur, "fsdp"))
                break
    return P(*spec)


def constrain(x, axes: Sequence[str | None], rules=DEFAULT_RULES):
    """with_sharding_constraint by logical names; a no-op outside a mesh context."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty:
        return x
    spec = logical_to_spec(axes, x.shape, dict(mesh.shape), rules)
    return jax.lax.with_sharding_constraint(x, spec)


def param_axes(tree):
    """Pytree of nnx Variables -> pytree (same structure) of logical axis tuples."""
    from flax import nnx  # local: keeps this module importable without flax state

    def axes_of(v):
        meta = v.get_metadata() if isinstance(v, nnx.Variable) else {}
        return meta.get("axes", (None,) * np.ndim(v))

    return jax.tree.map(axes_of, tree, is_leaf=lambda x: isinstance(x, nnx.Variable))


def tree_shardings(tree, mesh: jax.sharding.Mesh, rules=DEFAULT_RULES):
    """NamedSharding for every Variable/array leaf, from its logical axes and shape."""
    from flax import nnx

    def sharding_of(v):
        meta = v.get_metadata() if isinstance(v, nnx.Variable) else {}
        shape = np.shape(v[...] if isinstance(v, nnx.Variable) else v)
        axes = meta.get("axes", (None,) * len(shape))
        return NamedSharding(mesh, param_spec(axes, shape, dict(mesh.shape), rules))

    return jax.tree.map(sharding_of, tree, is_leaf=lambda x: isinstance(x, nnx.Variable))
