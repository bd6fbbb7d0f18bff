# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""`model.attention="auto"`: the attention path a run uses, and why (logged once).

Rules, from the platform of the devices the step runs on and S = every active bucket's
sequence length (`config.data.streams.*.seq_len`):
  gpu  cudnn (cuDNN flash attention through jax.nn.dot_product_attention), unless cuDNN
       refuses the shape (jax's own checks, jax/_src/cudnn/fused_attention_stablehlo.py):
       compute dtype not bfloat16/float16; head_dim not a multiple of 8 or above 128
       (256 from Hopper, compute capability 9.0); an odd S (the Lumos mask goes in as a
       bias, which cuDNN trains only with even lengths). And one limit of ours: that
       [S, S] mask + bf16 bias (3 bytes an entry per sequence) above
       DENSE_SCORES_MAX_BYTES (1 GiB: S > 18,918, so the 384p videos; S / mesh.context
       queries per device on a context mesh). Then the fallback.
  tpu  blockwise when mesh.context > 1 (splash's static mask covers indices 0..S-1 of an
       unsplit sequence, model/context_parallel.py); else splash (the Pallas kernel, lumos_jax.model.splash) when every S is a multiple of
       128 (its smallest block) and model.max_frame_tokens (its intra-frame band) is set;
       otherwise the fallback.
  cpu  dense up to CPU_DENSE_MAX_SEQ tokens, blockwise above (measured, see there).
Fallback: dense while one sequence's fp32 scores [heads, S, S] fit in
DENSE_SCORES_MAX_BYTES (XLA materialises them), blockwise above.
"""

from __future__ import annotations

from collections.abc import Sequence

from absl import logging

from lumos_jax import parallel
from lumos_jax.model.config import ModelConfig

# benchmarks/attention_paths.py, float32 forward + backward, tiny's heads 4/2 and
# head_dim 32, this 2-core CPU: S=256 (batch 16) dense 61.8 ms vs blockwise 77.4 ms;
# S=512 (16) 219 vs 307 ms; S=1024 (2) 141 vs 126 ms; S=2048 (2) 552 vs 349 ms.
# Dense up to 640: the crossover lies between 512 and 1024 (and the tiny video bucket is 640).
CPU_DENSE_MAX_SEQ = 640
DENSE_SCORES_MAX_BYTES = 1 << 30
SPLASH_MIN_BLOCK = 128
_LOGGED: set[tuple[str, str]] = set()


def _cudnn_refusal(
    cfg: ModelConfig, seq_lens: Sequence[int], capability: str | None, context: int = 1
):
    """Why cuDNN flash attention would refuse these shapes, or None if it takes them.
    On a context mesh each device masks its S / context queries against all S keys."""
    if cfg.dtype not in ("bfloat16", "float16"):
        return f"cuDNN needs bfloat16/float16, model.dtype={cfg.dtype}"
    hopper = capability is not None and float(capability) >= 9.0
    max_dim = 256 if hopper else 128
    if cfg.head_dim % 8 or cfg.head_dim > max_dim:
        return (
            f"cuDNN needs head_dim a multiple of 8 and <= {max_dim} on compute "
            f"capability {capability}, model.head_dim={cfg.head_dim}"
        )
    odd = [s for s in seq_lens if s % 2]
    if odd:
        return f"cuDNN trains a bias-masked attention only at even lengths, seq_len {odd}"
    bias = max(seq_lens) ** 2 * 3 // context  # bool mask + bf16 bias, [S/context, S]
    if bias > DENSE_SCORES_MAX_BYTES:
        return (
            f"the [S, S] mask + bias cuDNN is given would take {bias / 2**30:.1f} GiB "
            f"per sequence at S={max(seq_lens)} (mesh.context={context})"
        )
    return None


def _fallback(cfg: ModelConfig, seq_lens: Sequence[int]) -> tuple[str, str]:
    scores = cfg.num_heads * max(seq_lens) ** 2 * 4
    if scores <= DENSE_SCORES_MAX_BYTES:
        return "dense", f"fp32 scores of one sequence {scores / 2**20:.0f} MiB fit"
    return "blockwise", f"fp32 scores of one sequence {scores / 2**30:.1f} GiB would not fit"


def choose(
    cfg: ModelConfig,
    platform: str,
    seq_lens: Sequence[int],
    gpu_capability: str | None = None,
    context: int = 1,
) -> tuple[str, str]:
    """(path, reason) for model.attention='auto' on `platform` ('cpu' | 'gpu' | 'tpu'
    or a jax platform name such as 'cuda') at these bucket lengths, each sequence split
    over `context` devices (mesh.context)."""
    seq_lens = [int(s) for s in seq_lens]
    if not seq_lens:
        raise ValueError("attention choice: no sequence length (config.data.streams)")
    platform = "gpu" if platform in ("cuda", "rocm", "gpu") else platform
    if platform == "gpu":
        refusal = _cudnn_refusal(cfg, seq_lens, gpu_capability, context)
        if refusal is None:
            return "cudnn", "GPU: cuDNN flash attention takes these shapes"
        name, why = _fallback(cfg, seq_lens)
        return name, f"GPU: {refusal}; {why}"
    if platform == "tpu" and context > 1:
        return "blockwise", "TPU: splash takes no sequence split over mesh.context > 1"
    if platform == "tpu":
        bad = [s for s in seq_lens if s % SPLASH_MIN_BLOCK]
        if not bad and cfg.max_frame_tokens >= 2:
            return (
                "splash",
                f"TPU: splash attention (Pallas), frame band {cfg.max_frame_tokens} tokens",
            )
        why = (
            f"seq_len {bad} not a multiple of {SPLASH_MIN_BLOCK}"
            if bad
            else "model.max_frame_tokens=0 (splash needs the frame band)"
        )
        name, fb = _fallback(cfg, seq_lens)
        return name, f"TPU: splash refuses ({why}); {fb}"
    if max(seq_lens) <= CPU_DENSE_MAX_SEQ:
        return "dense", f"{platform}: dense is faster up to {CPU_DENSE_MAX_SEQ} tokens"
    return "blockwise", f"{platform}: blockwise is faster above {CPU_DENSE_MAX_SEQ} tokens"


def bucket_lengths(config) -> list[int]:
    """Sequence lengths of the experiment's active data streams (all if none is active)."""
    streams = config.data.streams
    active = [st.seq_len for st in streams.values() if st.weight > 0]
    return active or [st.seq_len for st in streams.values()]


def resolve(config, devices=None) -> str:
    """Replace config.model.attention='auto' (an experiment ConfigDict) by the path for
    `devices` (default: jax.devices()) and log the choice once; returns the path.

    Call before the config is written to the workdir, so config.json records it.
    """
    if config.model.attention != "auto":
        return config.model.attention
    import jax

    device = (list(devices) if devices is not None else jax.devices())[0]
    cfg = ModelConfig.from_dict(config.model.to_dict())
    name, why = choose(
        cfg,
        device.platform,
        bucket_lengths(config),
        getattr(device, "compute_capability", None),
        config.mesh.get("context", 1),
    )
    config.model.attention = name
    if (name, why) not in _LOGGED:
        _LOGGED.add((name, why))
        logging.info("model.attention=auto -> %s (%s)", name, why)
    return name


def context_platform() -> str:
    """Platform the code being traced compiles for: the context mesh's devices (a mock
    TPU topology on a CPU host says 'tpu'), else the default backend."""
    import jax

    mesh = jax.sharding.get_abstract_mesh()
    device = None if mesh.empty else mesh.abstract_device
    return device.platform if device is not None else jax.default_backend()


def layer_path(cfg: ModelConfig, seq_len: int, cached: bool) -> str:
    """The path one attention call takes: 'auto' (a model built without `resolve`, e.g.
    by a test or the sampler from a preset) is chosen here for this call's length; splash
    needs self-attention at positions 0..S-1, so calls over a KV cache and calls on a
    sequence split over 'context' use blockwise."""
    name = cfg.attention
    if name == "auto":
        name, _ = choose(cfg, context_platform(), [seq_len])
    if name == "splash" and (cached or parallel.axis_size("context") > 1):
        # splash's static mask covers indices 0..S-1; a split sequence (context
        # parallelism, model/context_parallel.py) runs blockwise on each shard
        name = "blockwise"
    return name
