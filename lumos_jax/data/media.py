# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Raw media -> uint8 frames at a resolution bucket: decoding (PyAV for videos, pillow
for images), frame-rate resampling, bucket choice, centre crop and resize.

Frames are uint8 numpy [F, H, W, 3] (RGB) throughout. Every decoding failure is a
`MediaError` naming the file, so `prepare` can report and count it.
"""

from __future__ import annotations

import os

import av
import numpy as np
from PIL import Image, ImageOps

VIDEO_EXTS = (".mp4", ".webm", ".mov", ".avi", ".mkv", ".m4v", ".gif", ".mpg", ".mpeg")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


class MediaError(ValueError):
    """A file that cannot be turned into frames: `path` and `problem`."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = str(path), problem


def media_kind(path: str) -> str | None:
    """'video', 'image' or None (not a media file) from the file extension."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext in VIDEO_EXTS:
        return "video"
    if ext in IMAGE_EXTS:
        return "image"
    return None


def valid_frame_count(available: int, temporal_compression: int = 4) -> int:
    """Largest 1 + k * tc <= available (what a causal tokenizer accepts); 0 if none."""
    if available < 1:
        return 0
    return 1 + (available - 1) // temporal_compression * temporal_compression


def resample_indices(times: np.ndarray, end: float, fps: float, max_frames: int) -> np.ndarray:
    """Source frame per output frame at `fps`, starting at the first frame.

    times: [N] presentation times (s, ascending) of the decoded frames; end: time the
    last frame stops showing. Output frame k (time t0 + k/fps) shows the source frame on
    screen then (the last one starting at or before it). Returns int [K], K <= max_frames,
    stopping where the video ends.
    """
    times = np.asarray(times, np.float64)
    targets = times[0] + np.arange(max_frames) / float(fps)
    targets = targets[targets < end - 1e-6]
    # 1e-6 s of slack: timestamps are rounded to the stream's time base.
    return np.searchsorted(times, targets + 1e-6, side="right") - 1


def video_duration(path: str) -> float:
    """Seconds of a video file's first video stream (container duration as fallback)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(path, "no video stream")
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / 1e6  # microseconds (av.time_base)
    except MediaError:
        raise
    except Exception as e:  # PyAV raises many types
        raise MediaError(path, f"cannot read ({type(e).__name__}: {e})") from None
    raise MediaError(path, "the file records no duration")


def decode_video(
    path: str, *, fps: float, max_frames: int, start: float = 0.0, end: float = 0.0
) -> np.ndarray:
    """Decodes up to `max_frames` frames resampled to `fps` -> uint8 [K, h, w, 3], from
    `start` seconds into the file up to `end` (0: the end of the file).

    Only the needed part of the file is decoded (a seek to the keyframe before `start`).
    """
    frames, times = [], []
    horizon = (max_frames - 1) / float(fps)  # last output time after the first frame
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(path, "no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # frame + slice threads in FFmpeg
            rate = float(stream.average_rate or stream.guessed_rate or 25)
            if start > 0 and stream.time_base is not None:
                container.seek(int(start / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                t = frame.time if frame.time is not None else len(frames) / rate
                if t < start - 1e-6:
                    continue  # decoded from the keyframe before the window
                if end and t >= end - 1e-6:
                    break
                if times and t <= times[-1]:
                    continue  # duplicate or out-of-order timestamp: keep the first
                frames.append(frame.to_ndarray(format="rgb24"))
                times.append(t)
                if t - times[0] > horizon:
                    break  # the next output frame would not use any later frame
    except MediaError:
        raise
    except Exception as e:  # PyAV raises many types (InvalidDataError, OSError, ...)
        raise MediaError(path, f"cannot decode ({type(e).__name__}: {e})") from None
    if not frames:
        raise MediaError(
            path, "no decodable video frames" + (f" after {start:g} s" if start else "")
        )
    stop = times[-1] + 1.0 / rate
    idx = resample_indices(np.asarray(times), min(stop, end) if end else stop, fps, max_frames)
    return np.stack([frames[i] for i in idx])


def load_image(path: str) -> np.ndarray:
    """An image file -> uint8 [1, h, w, 3] (EXIF orientation applied, RGB)."""
    try:
        with Image.open(str(path)) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            return np.asarray(im, np.uint8)[None]
    except Exception as e:  # pillow raises UnidentifiedImageError, OSError, ...
        raise MediaError(path, f"cannot decode image ({type(e).__name__}: {e})") from None


def bucket_size(width: int, height: int, target: int, multiple: int = 32) -> tuple[int, int]:
    """(W, H) resolution bucket of a width x height source for a target size.

    The short side is scaled so the area matches target^2 and floored to a multiple of
    `multiple`; the long side keeps the aspect ratio and is floored too. So the patch
    count is at most (target / multiple)^2 (reference section 1): 16:9 at target 352
    -> 448x256, at 528 -> 672x384; a square source at 64 -> 64x64.
    """
    if width < 1 or height < 1:
        raise ValueError(f"bad source size {width}x{height}")
    short, long_ = sorted((width, height))
    aspect = long_ / short
    s = max(multiple, int(target / aspect**0.5) // multiple * multiple)
    n = max(multiple, int(s * aspect) // multiple * multiple)
    return (n, s) if width >= height else (s, n)


def center_crop_resize(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 [F, h, w, 3] -> uint8 [F, height, width, 3]: the largest centred crop with
    the target aspect ratio, then a bicubic resize (pillow filters antialias downscales)."""
    f, h, w, _ = frames.shape
    if w * height > h * width:  # too wide: crop columns
        cw, ch = max(1, round(h * width / height)), h
    else:
        cw, ch = w, max(1, round(w * height / width))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    crop = frames[:, y0 : y0 + ch, x0 : x0 + cw]
    if (cw, ch) == (width, height):
        return np.ascontiguousarray(crop)
    out = np.empty((f, height, width, 3), np.uint8)
    for i in range(f):
        im = Image.fromarray(crop[i]).resize((width, height), Image.Resampling.BICUBIC)
        out[i] = np.asarray(im)
    return out


def load_frame(path: str, width: int, height: int) -> np.ndarray:
    """One image as a training frame, uint8 [height, width, 3]: decoded as data
    preparation decodes images (EXIF orientation, RGB), then the same centred crop and
    bicubic resize as the training clips (the image-to-video first frame)."""
    return center_crop_resize(load_image(path), width, height)[0]


def to_bucket(
    frames: np.ndarray, *, target: int | None = None, size: tuple[int, int] | None = None
) -> np.ndarray:
    """Crops/resizes frames [F, h, w, 3] to `size` (W, H) or to the bucket for `target`."""
    if size is None:
        if target is None:
            raise ValueError("to_bucket needs a target size or an explicit (W, H)")
        size = bucket_size(frames.shape[2], frames.shape[1], target)
    return center_crop_resize(frames, *size)
