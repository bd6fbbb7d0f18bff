# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Architecture configs of the causal video tokenizer.

`dv4x8x8` mirrors Cosmos-Tokenizer's `discrete_video` config (NVIDIA, Apache-2.0) with
temporal_compression 4 and spatial_compression 8, the tokenizer Lumos-1 uses.
`tiny` is the same code at CPU size: it still compresses 4x in time and 8x in space.
"""

import dataclasses
import math
from typing import Any, Mapping

from lumos_jax.tokenizer import fsq


@dataclasses.dataclass(frozen=True)
class TokenizerConfig:
    """Hyper-parameters; field names follow Cosmos's config keys where one exists."""

    in_channels: int = 3
    out_channels: int = 3
    channels: int = 128
    channels_mult: tuple[int, ...] = (2, 4, 4)
    num_res_blocks: int = 2
    # Level attention is built where the nominal `resolution // patch_size // 2**level` is
    # listed here; with resolution 1024 and patch 4 Cosmos's [32] never matches (mid only).
    attn_resolutions: tuple[int, ...] = (32,)
    resolution: int = 1024
    patch_size: int = 4
    z_channels: int = 16
    z_factor: int = 1
    embedding_dim: int = 6
    levels: tuple[int, ...] = (8, 8, 8, 5, 5, 5)
    spatial_compression: int = 8
    temporal_compression: int = 4
    legacy_mode: bool = False
    dtype: str = "float32"  # compute dtype; params are kept in param_dtype
    param_dtype: str = "float32"

    def __post_init__(self):
        if self.embedding_dim != len(self.levels):
            raise ValueError(
                f"TokenizerConfig.embedding_dim={self.embedding_dim} must equal "
                f"len(levels)={len(self.levels)} (no FSQ projections)"
            )
        if self.num_spatial_downs < 0 or self.num_spatial_downs > len(self.channels_mult) - 1:
            raise ValueError(
                f"spatial_compression={self.spatial_compression} needs "
                f"{self.num_spatial_downs} learned downsamples; channels_mult "
                f"{self.channels_mult} allows at most {len(self.channels_mult) - 1}"
            )
        if self.num_temporal_downs < 0 or self.num_temporal_downs > len(self.channels_mult) - 1:
            raise ValueError(
                f"temporal_compression={self.temporal_compression} needs "
                f"{self.num_temporal_downs} learned downsamples; channels_mult "
                f"{self.channels_mult} allows at most {len(self.channels_mult) - 1}"
            )
        ups = [self.decoder_up_flags(i) for i in range(1, len(self.channels_mult))]
        if (sum(s for s, _ in ups), sum(t for _, t in ups)) != (
            self.num_spatial_downs,
            self.num_temporal_downs,
        ):
            raise ValueError(
                f"TokenizerConfig: with channels_mult={self.channels_mult} Cosmos's "
                f"decoder schedule upsamples (space, time) {ups} (levels 1..), which "
                f"does not undo {self.num_spatial_downs} spatial and "
                f"{self.num_temporal_downs} temporal downsamples; add a level"
            )

    def decoder_up_flags(self, i_level: int) -> tuple[bool, bool]:
        """(spatial_up, temporal_up) of decoder level i_level > 0, Cosmos's DecoderFactorized
        schedule (the temporal ups sit one level later than the mirror image unless legacy)."""
        rev = len(self.channels_mult) - i_level - 1
        n_t, n_s = self.num_temporal_downs, self.num_spatial_downs
        temporal = rev < n_t if self.legacy_mode else 0 < rev < n_t + 1
        spatial = temporal or (rev < n_s and n_s > n_t)
        return spatial, temporal

    @property
    def num_spatial_downs(self) -> int:
        return int(math.log2(self.spatial_compression)) - int(math.log2(self.patch_size))

    @property
    def num_temporal_downs(self) -> int:
        return int(math.log2(self.temporal_compression)) - int(math.log2(self.patch_size))

    @property
    def codebook_size(self) -> int:
        return fsq.codebook_size(self.levels)

    def latent_frames(self, num_frames: int) -> int:
        return latent_frames(num_frames, self.temporal_compression)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TokenizerConfig":
        """Accepts a dict or ml_collections ConfigDict (lists become tuples)."""
        kw = {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in dict(d).items()}
        unknown = set(kw) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown TokenizerConfig keys {sorted(unknown)}")
        return cls(**kw)


def latent_frames(num_frames: int, temporal_compression: int) -> int:
    """Latent frames of a causal tokenizer for `num_frames` pixel frames: 1 + (F - 1) / t
    (every visual tokenizer kind: the FSQ model and the patch codebook)."""
    if num_frames < 1 or (num_frames - 1) % temporal_compression:
        raise ValueError(f"num_frames={num_frames} must be 1 + k * {temporal_compression} (k >= 0)")
    return 1 + (num_frames - 1) // temporal_compression


def dv4x8x8() -> TokenizerConfig:
    """Cosmos-Tokenizer-DV4x8x8 (the released Lumos-1 visual tokenizer)."""
    return TokenizerConfig()


def tiny() -> TokenizerConfig:
    """CPU-sized: 16 channels, 2 levels, 1000 codes; still 4x temporal, 8x spatial."""
    return TokenizerConfig(
        channels=16,
        channels_mult=(1, 2),
        num_res_blocks=1,
        z_channels=8,
        embedding_dim=4,
        levels=(8, 5, 5, 5),
    )


def small() -> TokenizerConfig:
    """The ShapesMotion tokenizer (assets/tokenizer_shapes): `tiny` with 64 channels at both
    levels. The 4x4x4 Haar patch feeds 192 coefficients to the first conv; 16 channels
    there blur every edge (16 dB on ShapesMotion), 64 keep shapes. Same 1000 codes."""
    return dataclasses.replace(tiny(), channels=64, channels_mult=(1, 1))


PRESETS = {"dv4x8x8": dv4x8x8, "small": small, "tiny": tiny}


def get(name: str) -> TokenizerConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown tokenizer preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()
