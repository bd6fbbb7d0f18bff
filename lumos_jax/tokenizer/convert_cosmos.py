# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Cosmos-Tokenizer (DV) checkpoint <-> lumos_jax tokenizer parameters.

Cosmos ships `encoder.jit` (keys encoder.*, quant_conv.*) and `decoder.jit` (keys
post_quant_conv.*, decoder.*) as TorchScript; their merged state dict uses the same keys
as the full CausalDiscreteVideoTokenizer. Our NNX paths mirror those keys:
  torch  encoder.down.0.block.1.conv1.0.conv3d.weight [out, in, kt, kh, kw]
  ours   encoder/down/0/block/1/conv1/0/conv3d/kernel [kt, kh, kw, in, out]
  torch  *.norm.weight / *.norm.bias  ->  ours *.norm.scale / *.norm.bias
Cosmos builds every conv of a hybrid up/down-sampler even when that direction is off
(DV4x8x8: the encoder's second downsampler and the decoder's up.1 are identities); those
"unused" keys are accepted and dropped on import and written as zeros on export.

CLI (TorchScript needs torch; a safetensors input needs none):
  python -m lumos_jax.tokenizer.convert_cosmos --config=dv4x8x8 \
      --inputs=encoder.jit,decoder.jit --output=dv4x8x8.safetensors [--layout=ours|cosmos]
"""

import argparse
import os
import warnings
import zipfile
from typing import Iterable, Mapping

import jax
import numpy as np
from flax import nnx

from lumos_jax.model import safetensors_io
from lumos_jax.tokenizer import config as config_lib
from lumos_jax.tokenizer.config import TokenizerConfig
from lumos_jax.tokenizer.model import CausalVideoTokenizer, abstract_model

# Non-persistent buffers (Haar filters, FSQ tables) that TorchScript archives may carry.
_BUFFER_NAMES = {
    "wavelets",
    "_arange",
    "patch_size_buffer",
    "_levels",
    "_basis",
    "implicit_codebook",
}


# ---------------------------------------------------------------------------- names


def torch_key(path: tuple) -> str:
    """Our flat param path -> Cosmos state-dict key."""
    *parents, leaf = (str(p) for p in path)
    leaf = {"kernel": "weight", "scale": "weight"}.get(leaf, leaf)
    return ".".join(parents + [leaf])


def kernel_to_torch(k: np.ndarray) -> np.ndarray:
    """[kt, kh, kw, in, out] -> torch Conv3d [out, in, kt, kh, kw] (a view)."""
    return np.transpose(k, (4, 3, 0, 1, 2))


def kernel_from_torch(w: np.ndarray) -> np.ndarray:
    """torch Conv3d [out, in, kt, kh, kw] -> [kt, kh, kw, in, out] (a view)."""
    return np.transpose(w, (2, 3, 4, 1, 0))


def abstract_params(cfg: TokenizerConfig) -> nnx.State:
    """Parameter state with ShapeDtypeStruct leaves (nothing allocated). Read only."""
    return nnx.filter_state(abstract_model(cfg)[1], nnx.Param)


def unused_cosmos_keys(cfg: TokenizerConfig) -> dict[str, tuple[int, ...]]:
    """Keys (and torch shapes) of the resampler convs Cosmos builds but never calls."""
    out = {}
    kernels = {"conv_s": (1, 3, 3), "conv_t": (3, 1, 1), "conv3": (1, 1, 1)}

    def add(prefix, ch, spatial, temporal, names):
        used = {"conv_s": spatial, "conv_t": temporal, "conv3": spatial or temporal}
        for role, name in names.items():
            if not used[role]:
                out[f"{prefix}.{name}.conv3d.weight"] = (ch, ch) + kernels[role]
                out[f"{prefix}.{name}.conv3d.bias"] = (ch,)

    n_lv, ch, mult = len(cfg.channels_mult), cfg.channels, cfg.channels_mult
    for i in range(n_lv - 1):
        add(
            f"encoder.down.{i}.downsample",
            ch * mult[i],
            i < cfg.num_spatial_downs,
            i < cfg.num_temporal_downs,
            {"conv_s": "conv1", "conv_t": "conv2", "conv3": "conv3"},
        )
    for i in range(1, n_lv):
        spatial, temporal = cfg.decoder_up_flags(i)
        add(
            f"decoder.up.{i}.upsample",
            ch * mult[i],
            spatial,
            temporal,
            {"conv_t": "conv1", "conv_s": "conv2", "conv3": "conv3"},
        )
    return out


# ------------------------------------------------------------------------ conversion


def params_to_cosmos(
    params: nnx.State, cfg: TokenizerConfig | None = None, include_unused: bool = False
) -> dict[str, np.ndarray]:
    """Our Param state -> Cosmos-layout state dict (numpy; conv kernels transposed).

    With include_unused (needs cfg), the never-called resampler convs are added as zeros
    so that Cosmos's torch modules load the result with strict=True.
    """
    out = {}
    for path, var in nnx.to_flat_state(params):
        value = np.asarray(var.get_value())
        out[torch_key(path)] = kernel_to_torch(value) if path[-1] == "kernel" else value
    if include_unused:
        if cfg is None:
            raise ValueError("params_to_cosmos(include_unused=True) needs cfg")
        for key, shape in unused_cosmos_keys(cfg).items():
            out[key] = np.zeros(shape, np.float32)
    return out


def cosmos_to_params(
    state_dict: Mapping[str, np.ndarray], cfg: TokenizerConfig, dtype=np.float32
) -> nnx.State:
    """Cosmos-layout state dict -> our Param state (numpy leaves, metadata kept).

    Raises ValueError naming every missing, unexpected or wrongly shaped key.
    """
    unused = unused_cosmos_keys(cfg)
    remaining = {
        k: v
        for k, v in state_dict.items()
        if k.rsplit(".", 1)[-1] not in _BUFFER_NAMES and k not in unused
    }
    flat, errors = [], []
    for path, var in nnx.to_flat_state(abstract_params(cfg)):
        key = torch_key(path)
        if key not in remaining:
            errors.append(f"missing {key} (for {'/'.join(map(str, path))}, shape {var.shape})")
            continue
        value = np.asarray(remaining.pop(key), dtype)
        if path[-1] == "kernel" and value.ndim == 5:
            value = kernel_from_torch(value)
        if tuple(value.shape) != tuple(var.shape):
            errors.append(f"{key}: shape {tuple(value.shape)} (converted), expected {var.shape}")
            continue
        flat.append((path, var.replace(value=value)))
    errors += [f"unexpected {k} {tuple(np.shape(v))}" for k, v in sorted(remaining.items())]
    if errors:
        raise ValueError(
            f"Cosmos state dict does not match config ({len(errors)} problems):\n  "
            + "\n  ".join(errors[:50])
        )
    return nnx.from_flat_state(flat)


# ----------------------------------------------------------------------------- files


def _is_torchscript(path: str) -> bool:
    """TorchScript archives are zips holding code/ and constants.pkl; torch.save's are not."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith("constants.pkl") or "/code/" in n for n in z.namelist())


def _load_torch_file(path: str) -> dict[str, np.ndarray]:
    try:
        import torch  # local: torch is the optional [convert] extra, only .pt/.jit need it
    except ImportError as e:
        raise ImportError(
            f"reading {path} needs torch (pip install '.[convert]'); or pass a .safetensors file"
        ) from e
    if _is_torchscript(path):
        with warnings.catch_warnings():  # torch 2.13 deprecates jit.load; Cosmos ships .jit
            warnings.simplefilter("ignore", DeprecationWarning)
            sd = torch.jit.load(path, map_location="cpu").state_dict()
    else:  # a plain torch.save'd state dict
        sd = torch.load(path, map_location="cpu", weights_only=True)
        sd = sd.get("state_dict", sd)
    return {k: v.detach().float().cpu().numpy() for k, v in sd.items()}


def _load_safetensors(path: str) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, np.float32) for k, v in safetensors_io.read_file(path).items()}


def load_state_dict(paths: str | Iterable[str]) -> dict[str, np.ndarray]:
    """Reads and merges state dicts from .jit/.pt/.pth (torch) or .safetensors files."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    merged = {}
    for path in paths:
        sd = _load_safetensors(path) if path.endswith(".safetensors") else _load_torch_file(path)
        clash = sorted(
            k for k in set(sd) & set(merged) if k.rsplit(".", 1)[-1] not in _BUFFER_NAMES
        )
        if clash:
            raise ValueError(f"{path} repeats keys already read: {clash[:5]}")
        merged.update(sd)
    return merged


def save_safetensors(tensors: Mapping[str, np.ndarray], path: str) -> None:
    safetensors_io.write_file(path, dict(tensors))


def params_to_flat_dict(params: nnx.State) -> dict[str, np.ndarray]:
    """Our Param state -> {'encoder.conv_in.0.conv3d.kernel': array} (our layout)."""
    return {".".join(map(str, p)): np.asarray(v.get_value()) for p, v in nnx.to_flat_state(params)}


def load_params_file(model: CausalVideoTokenizer, path: str) -> CausalVideoTokenizer:
    """Loads a safetensors file in our layout (written by this CLI) into `model`."""
    tensors = _load_safetensors(path)
    flat, missing = [], []
    for p, var in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        key = ".".join(map(str, p))
        if key not in tensors or tuple(tensors[key].shape) != tuple(var.shape):
            missing.append(f"{key} {var.shape}")
            continue
        flat.append((p, var.replace(value=jax.device_put(tensors.pop(key).astype(var.dtype)))))
    if missing or tensors:
        raise ValueError(
            f"{path}: missing/misshaped {missing[:10]}, unexpected {sorted(tensors)[:10]}"
        )
    nnx.update(model, nnx.from_flat_state(flat))
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="dv4x8x8", help=f"one of {sorted(config_lib.PRESETS)}")
    ap.add_argument("--inputs", required=True, help="comma-separated .jit/.pt/.safetensors")
    ap.add_argument("--output", required=True, help="output .safetensors path")
    ap.add_argument("--layout", default="ours", choices=["ours", "cosmos"])
    args = ap.parse_args(argv)
    cfg = config_lib.get(args.config)
    params = cosmos_to_params(load_state_dict(args.inputs.split(",")), cfg)  # validates
    tensors = (
        params_to_flat_dict(params)
        if args.layout == "ours"
        else params_to_cosmos(params, cfg, include_unused=True)
    )
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    save_safetensors(tensors, args.output)
    n = sum(int(np.prod(v.shape)) for v in tensors.values())
    print(f"wrote {len(tensors)} tensors ({n:,} values, {args.layout} layout) to {args.output}")


if __name__ == "__main__":
    main()
