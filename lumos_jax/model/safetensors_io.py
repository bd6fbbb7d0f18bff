# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Read and write safetensors files with numpy only (bf16 through ml_dtypes).

Format (huggingface/safetensors spec): 8-byte little-endian header size, a JSON header
{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the raw
little-endian tensor bytes. Sharded checkpoints add `model.safetensors.index.json`
with a {"weight_map": {name: file}} table. Reading memory-maps, so a 7 GB checkpoint
is not copied into RAM until a tensor is used.
"""
from __future__ import annotations

import json
import os
import struct

import ml_dtypes
import numpy as np

_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16,
           "BF16": ml_dtypes.bfloat16, "I64": np.int64, "I32": np.int32, "I16": np.int16,
           "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}
INDEX_NAME = "model.safetensors.index.json"


def read_file(path: str) -> dict[str, np.ndarray]:
    """All tensors of one .safetensors file (memory-mapped, read-only)."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: not a safetensors file (shorter than 8 bytes)")
        (n,) = struct.unpack("<Q", raw)
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: corrupt safetensors header ({e})") from e
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        if end > data.size:
            raise ValueError(f"{path}: tensor {name} ends at byte {end} but the file holds "
                             f"{data.size} data bytes (truncated download?)")
        dtype = np.dtype(_DTYPES[info["dtype"]])
        out[name] = data[begin:end].view(dtype).reshape(info["shape"])
    return out


def read_checkpoint(directory: str) -> dict[str, np.ndarray]:
    """All tensors of a Hugging Face checkpoint directory (single file or sharded)."""
    index = os.path.join(directory, INDEX_NAME)
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = sorted(p for p in os.listdir(directory) if p.endswith(".safetensors"))
        if any("-of-" in p for p in files):
            raise ValueError(f"{directory}: sharded safetensors files without {INDEX_NAME}: "
                             "the checkpoint is incomplete (the index is written last)")
    if not files:
        raise FileNotFoundError(f"{directory}: no .safetensors files (or {INDEX_NAME})")
    out: dict[str, np.ndarray] = {}
    for name in files:
        out.update(read_file(os.path.join(directory, name)))
    return out


def write_file(path: str, tensors: dict[str, np.ndarray], metadata: dict | None = None):
    """Write atomically: a partly written file is never left under the final name."""
    header, offset, arrays = {}, 0, []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        if a.dtype not in _NAMES:
            raise ValueError(f"tensor {name}: dtype {a.dtype} cannot be stored in safetensors")
        header[name] = {"dtype": _NAMES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        arrays.append(a)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * ((-len(blob)) % 8)  # 8-byte alignment of the data section
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for a in arrays:
            f.write(a.tobytes())
    os.replace(tmp, path)


def write_checkpoint(directory: str, tensors: dict[str, np.ndarray],
                     max_shard_bytes: int = 4 << 30):
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
