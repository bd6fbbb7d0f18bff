# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Writing and reading generated samples: mp4 (PyAV, H.264), gif and png (Pillow).

Frames are uint8 [F, H, W, 3]; `to_uint8` converts the tokenizer's [-1, 1] floats.
A gif merges identical consecutive frames into one longer frame (Pillow does this; the
playback is the same); the mp4 keeps every frame.
"""

from __future__ import annotations

import av
import numpy as np
from PIL import Image, ImageSequence

from lumos_jax.pixels import to_uint8  # noqa: F401  (re-exported: video_io.to_uint8)


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames [F, H, W, 3], got {frames.dtype} {frames.shape}")
    return frames


def write_mp4(path: str, frames, fps: int) -> str:
    """H.264 (yuv420p, so H and W must be even) at `fps` frames per second."""
    frames = _check_frames(frames)
    h, w = frames.shape[1:3]
    if h % 2 or w % 2:
        raise ValueError(f"mp4 (yuv420p) needs even frame sizes, got {w}x{h}")
    with av.open(path, mode="w") as container:
        stream = container.add_stream("libx264", rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "18"}  # near-lossless: samples are small
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():  # flush the encoder's delayed frames
            container.mux(packet)
    return path


def write_gif(path: str, frames, fps: int) -> str:
    """Looping gif, 1000 / fps ms per frame."""
    frames = _check_frames(frames)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(
        path, save_all=True, append_images=images[1:], loop=0, duration=max(1, round(1000 / fps))
    )
    return path


def write_png(path: str, frame) -> str:
    frame = np.asarray(frame)
    _check_frames(frame[None])
    Image.fromarray(frame).save(path)
    return path


def read_video(path: str) -> np.ndarray:
    """An mp4, gif or png back as uint8 [F, H, W, 3] (tests, evaluation)."""
    if path.endswith(".mp4"):
        with av.open(path) as container:
            return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    with Image.open(path) as im:
        return np.stack([np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)])
