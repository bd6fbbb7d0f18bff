# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Data config (`config.data`) and bucket sizing.

`default_config()` is what `config_lib.experiment` puts in `c.data`; like model/config.py
and sampling/config.py it imports nothing heavy (no Grain), so configs stay cheap to load.
The pipeline that reads it is `lumos_jax.data.pipeline`.
"""

from __future__ import annotations

import ml_collections

from lumos_jax import layout


def _stream(sources_spec: str, seq_len: int, weight: float) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(dict(sources=sources_spec, seq_len=seq_len, weight=weight))


def default_config() -> ml_collections.ConfigDict:
    """`config.data` with CPU-sized defaults (compact vocabulary, 96x96 px, 3 latent frames)."""
    c = ml_collections.ConfigDict()
    c.vocab = ml_collections.ConfigDict(dict(kind="compact", text_tokens=448, visual_size=1000))
    # Streams = resolution buckets. sources: comma-separated `array_record:GLOB`,
    # `tfds:NAME[:SPLIT]`, `lumos_pkl:GLOB`; weight: batches drawn in proportion (0 = off).
    c.streams = ml_collections.ConfigDict()
    c.streams.image = _stream("", 256, 1.0)  # 96x96 image: 160 frame tokens + prompt
    # 3 frames x 160 + prompt (530 at most for ShapesMotion), rounded up to 128: splash's block.
    c.streams.video = _stream("", 640, 1.0)
    c.tfds_data_dir = ""
    c.batch_size = 8  # global; each JAX process gets batch_size / process_count rows
    c.seed = 0
    c.shuffle = True
    c.num_epochs = 0  # 0: repeat forever (training)
    c.num_workers = 0  # Grain worker processes (mp_prefetch); 0 = in this process
    c.worker_buffer_size = 2  # batches buffered per worker process
    c.read_threads = 2  # threads per process computing batches ahead
    c.prefetch_batches = 4  # batches computed ahead per process
    c.masking = ml_collections.ConfigDict(
        dict(
            mode="tube", schedule="cosine", min_ratio=0.7, mask_newlines=True, newline_labels=False
        )
    )  # see lumos_jax.data.ardf
    c.cfg_dropout = 0.1  # drop the text prefix: the sample starts at video_start
    c.position_strides = (4, 8, 8)  # must match the model's MM-RoPE scaling
    # The model's rope_variant (config_lib links the two): '1d' gives 1-D positions.
    c.rope_variant = "mmrope"
    c.skip_bad_records = False  # True: log + count each bad record and use the next one
    c.max_consecutive_skips = 100
    return c


def bucket_length(
    num_frames: int, height: int, width: int, max_text_ids: int, multiple: int = 128
) -> int:
    """Smallest multiple of `multiple` holding a sample with <= max_text_ids prompt ids."""
    n = 2 + max_text_ids + 3 + num_frames * layout.tokens_per_frame(height // 8, width // 8) + 2
    return -(-n // multiple) * multiple
