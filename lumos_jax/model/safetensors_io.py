# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Hugging Face checkpoint directories through the `safetensors` library.

The library reads and writes the files (header, dtypes, bounds checks); this module keeps
only what it does not do: the sharded layout (`model-0000i-of-0000n.safetensors` plus
`model.safetensors.index.json` with a {"weight_map": {name: file}} table, written last),
atomic writes, and lazy reading, so a 7 GB checkpoint is not read into RAM up front.
"""

from __future__ import annotations

import collections.abc
import json
import os

# Imported for its side effect: it registers numpy's "bfloat16" dtype name, which
# safetensors' numpy reader and writer use for BF16 tensors (safetensors 0.8; its
# bytes-level `safetensors.numpy.load` has no BF16 at all, so files go through safe_open).
import ml_dtypes
import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

BF16 = np.dtype(ml_dtypes.bfloat16)
INDEX_NAME = "model.safetensors.index.json"


class _LazyTensors(collections.abc.Mapping):
    """name -> numpy array, each read from its file when first asked for."""

    def __init__(self, files: dict[str, str]):
        self._files = files  # tensor name -> path of the file that holds it

    def __getitem__(self, name: str) -> np.ndarray:
        # Not cached: a converter reads each tensor once and keeps only its converted copy.
        with safe_open(self._files[name], framework="numpy") as f:
            return f.get_tensor(name)

    def __iter__(self):
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


def _names(path: str) -> list[str]:
    """The tensor names of one file; opening checks its header and that its data is whole."""
    try:
        with safe_open(path, framework="numpy") as f:
            return list(f.keys())
    except SafetensorError as e:
        raise ValueError(
            f"{path}: not a readable safetensors file ({e}; truncated download?)"
        ) from e


def read_file(path: str) -> collections.abc.Mapping[str, np.ndarray]:
    """All tensors of one .safetensors file (read lazily, one tensor at a time)."""
    return _LazyTensors({name: path for name in _names(path)})


def read_checkpoint(directory: str) -> collections.abc.Mapping[str, np.ndarray]:
    """All tensors of a Hugging Face checkpoint directory (single file or sharded)."""
    index = os.path.join(directory, INDEX_NAME)
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = sorted(p for p in os.listdir(directory) if p.endswith(".safetensors"))
        if any("-of-" in p for p in files):
            raise ValueError(
                f"{directory}: sharded safetensors files without {INDEX_NAME}: "
                "the checkpoint is incomplete (the index is written last)"
            )
    if not files:
        raise FileNotFoundError(f"{directory}: no .safetensors files (or {INDEX_NAME})")
    where: dict[str, str] = {}
    for name in files:
        path = os.path.join(directory, name)
        where.update({t: path for t in _names(path)})
    return _LazyTensors(where)


def write_file(path: str, tensors: dict[str, np.ndarray], metadata: dict | None = None):
    """Write atomically: a partly written file is never left under the final name."""
    arrays = {name: np.ascontiguousarray(t) for name, t in tensors.items()}
    meta = {str(k): str(v) for k, v in metadata.items()} if metadata else None
    tmp = path + ".tmp"
    try:
        save_file(arrays, tmp, metadata=meta)
    except (SafetensorError, TypeError, ValueError) as e:
        dtypes = sorted({str(a.dtype) for a in arrays.values()})
        raise ValueError(
            f"{path}: cannot store tensors of dtypes {dtypes} in safetensors ({e})"
        ) from e
    os.replace(tmp, path)


def write_checkpoint(
    directory: str, tensors: dict[str, np.ndarray], max_shard_bytes: int = 4 << 30
):
    """Write shards of at most `max_shard_bytes` plus the index when there is more than one."""
    os.makedirs(directory, exist_ok=True)
    shards: list[dict[str, np.ndarray]] = [{}]
    size = 0
    for name in sorted(tensors):
        nbytes = np.asarray(tensors[name]).nbytes
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensors[name]
        size += nbytes
    if len(shards) == 1:
        write_file(os.path.join(directory, "model.safetensors"), shards[0], {"format": "pt"})
        return
    weight_map = {}
    for i, shard in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        write_file(os.path.join(directory, fname), shard, {"format": "pt"})
        weight_map.update({k: fname for k in shard})
    total = sum(np.asarray(t).nbytes for t in tensors.values())
    with open(os.path.join(directory, INDEX_NAME), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
