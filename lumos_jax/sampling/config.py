# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Sampling config (`config.sampling`) and its validated, hashable form `Settings`.

`default_config(task, resolution)` is what `config_lib.experiment` puts in `c.sampling`;
it imports nothing heavy so configs stay cheap to load. `Settings.from_config` checks
every field and turns the ConfigDict into a frozen dataclass, which the sampler uses as
the static part of its compiled programs (same settings -> no recompilation).
"""

from __future__ import annotations

import dataclasses

import ml_collections

MODES = ("ardf_cache", "ardf_nocache", "next_token")
# Temperature annealing of the re-masking noise (tau of log p + tau * Gumbel):
#   linear   tau0 * (1 - (s+1)/T), restarted for every frame (MaskGIT's intent)
#   constant tau0 at every step
#   release  what the Lumos-1 release does: tau *= (1 - (s+1)/T) inside the step loop, so
#            the factors multiply up and are never reset; at the last step of frame 0 the
#            factor is 0, so every later frame is re-masked with tau = 0 (no noise).
ANNEALING = ("linear", "constant", "release")
# (height, width) in pixels of each experiment resolution (reference section 1 buckets).
RESOLUTIONS = {"96px": (96, 96), "256p": (256, 448), "384p": (384, 672)}


def default_config(task: str = "t2v", resolution: str = "96px") -> ml_collections.ConfigDict:
    """Release settings (50 steps, CFG 15 video / 16 image, history masking 0.7), except
    that the 96 px CPU preset samples images and videos with CFG 2.

    `frames` counts pixel frames (1 + 4k): 9 (3 latent) on the 96 px CPU preset, 25
    (7 latent, ~2 s at 12 fps) at paper scale, 1 for t2i (an image).
    The release's scales were tuned for 1-3.6 B models. On the shipped tiny model, tuned
    on the train split's prompts (benchmarks/guidance_sweep.py, seed 1; assets/README.md):
    CFG 16 turns its images into cell noise in the right colours, CFG 1-4 give coherent
    objects, and CFG 2 scored best there (which still misses the bar).
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"sampling resolution {resolution!r}: expected {sorted(RESOLUTIONS)}")
    height, width = RESOLUTIONS[resolution]
    tiny = resolution == "96px"
    frames = 1 if task == "t2i" else (9 if tiny else 25)
    return ml_collections.ConfigDict(
        dict(
            mode="ardf_cache",  # ardf_cache | ardf_nocache (baseline) | next_token (baseline)
            steps=50,  # masked-decoding steps per latent frame
            # CFG scale for videos: g * (cond - uncond) + uncond; 1 = no CFG
            guidance=2.0 if tiny else 15.0,
            # CFG scale when a single frame (an image) is generated
            guidance_image=2.0 if tiny else 16.0,
            temperature=1.0,  # softmax temperature of the token draw; 0 = greedy
            top_k=0,  # 0 = off
            top_p=1.0,  # 1 = off
            choice_temperature=4.5,  # tau0 of the re-masking noise (MaskGIT's value)
            anneal="linear",  # see ANNEALING; 'release' reproduces the compounding
            history_mask_ratio=0.7,  # finished frames enter the cache this much masked; 0 = off
            frames=frames,
            height=height,
            width=width,
            fps=1 if task == "t2i" else (8 if tiny else 12),
            duration=0,  # seconds (size token); 0 = round(frames / fps), 1 for images
            temporal_compression=4,  # pixel frames per latent frame after the first
            prompt_len=0,  # static prompt bucket (tokens incl. bos/separator/header); 0 = auto
            position_strides=(4, 8, 8),  # config_lib links it to config.data.position_strides
            cache_dtype="",  # KV cache dtype; '' = the model's compute dtype
            fast_compile=False,  # XLA optimisation level 0: CPU smoke tests compile ~2x faster
            seed=0,
            # CLI: tokenizer.json / sentencepiece .model (lumos_jax.tokenizer.text.load); the
            # tiny preset: the one next to its built-in records (lumos_jax.data.builtin).
            text_tokenizer="builtin:text_tokenizer" if tiny else "",
            # CLI: visual tokenizer workdir, step dir or .safetensors file; the tiny preset:
            # the shipped one its built-in records were made with.
            tokenizer_ckpt="builtin:visual_tokenizer" if tiny else "",
            # '' = the architecture recorded in the tokenizer workdir (tokenizer_config.json);
            # a Cosmos .safetensors file records none: dv4x8x8 is the release's.
            tokenizer_preset="" if tiny else "dv4x8x8",
        )
    )


@dataclasses.dataclass(frozen=True)
class Settings:
    """Validated sampling settings (hashable: the static half of the compiled sampler)."""

    mode: str
    steps: int
    guidance: float  # the scale in effect (guidance_image when latent_frames == 1)
    temperature: float
    top_k: int
    top_p: float
    choice_temperature: float
    anneal: str
    history_mask_ratio: float
    latent_frames: int
    frames: int  # pixel frames (the prompt template states them): 1 + tc (latent - 1)
    height: int
    width: int
    fps: int
    duration: int
    prompt_len: int
    strides: tuple[int, int, int]
    cache_dtype: str
    fast_compile: bool = False

    @property
    def rows(self) -> int:
        return self.height // 8

    @property
    def cols(self) -> int:
        return self.width // 8

    @classmethod
    def from_config(cls, c, *, max_size_value: int | None = None) -> "Settings":
        """Checks `config.sampling` (a ConfigDict or dict); errors name the bad key."""
        c = ml_collections.ConfigDict(dict(c)) if isinstance(c, dict) else c
        _check(c.mode in MODES, f"sampling.mode={c.mode!r}: expected one of {MODES}")
        _check(c.anneal in ANNEALING, f"sampling.anneal={c.anneal!r}: expected {ANNEALING}")
        _check(int(c.steps) >= 1, f"sampling.steps={c.steps} must be >= 1")
        _check(
            0.0 <= c.history_mask_ratio < 1.0,
            f"sampling.history_mask_ratio={c.history_mask_ratio} must be in [0, 1)",
        )
        _check(0.0 < c.top_p <= 1.0, f"sampling.top_p={c.top_p} must be in (0, 1]")
        _check(
            int(c.top_k) >= 0 and c.temperature >= 0,
            f"sampling.top_k={c.top_k} / temperature={c.temperature} must be >= 0",
        )
        tc = int(c.temporal_compression)
        _check(
            c.frames >= 1 and (c.frames - 1) % tc == 0,
            f"sampling.frames={c.frames} must be 1 + k * {tc} pixel frames (k >= 0)",
        )
        latent = 1 + (int(c.frames) - 1) // tc
        _check_resolution(int(c.height), int(c.width), max_size_value)
        fps = int(c.fps) if latent > 1 else 1
        duration = int(c.duration) or (1 if latent == 1 else max(1, round(c.frames / fps)))
        for name, v in (("fps", fps), ("duration", duration)):
            if max_size_value is not None and not 0 <= v < max_size_value:
                raise ValueError(
                    f"sampling.{name}={v} has no size token (values 0..{max_size_value - 1})"
                )
        guidance = float(c.guidance_image if latent == 1 else c.guidance)
        return cls(
            mode=c.mode,
            steps=int(c.steps),
            guidance=guidance,
            temperature=float(c.temperature),
            top_k=int(c.top_k),
            top_p=float(c.top_p),
            choice_temperature=float(c.choice_temperature),
            anneal=c.anneal,
            history_mask_ratio=float(c.history_mask_ratio),
            latent_frames=latent,
            frames=int(c.frames),
            height=int(c.height),
            width=int(c.width),
            fps=fps,
            duration=duration,
            prompt_len=int(c.prompt_len),
            strides=tuple(int(s) for s in c.position_strides),
            cache_dtype=str(c.cache_dtype),
            fast_compile=bool(c.fast_compile),
        )


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _check_resolution(height: int, width: int, max_size_value: int | None) -> None:
    """Size tokens carry H/32 and W/32, so both must be positive multiples of 32."""
    if height <= 0 or width <= 0 or height % 32 or width % 32:
        raise ValueError(
            f"unsupported resolution {width}x{height} (sampling.width x "
            f"sampling.height): both must be positive multiples of 32 px, e.g. "
            f"96x96, 448x256 or 672x384"
        )
    if max_size_value is not None and max(height, width) // 32 >= max_size_value:
        raise ValueError(
            f"unsupported resolution {width}x{height}: sizes above "
            f"{32 * (max_size_value - 1)} px have no size token in this vocabulary"
        )
