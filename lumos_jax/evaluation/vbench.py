# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""mini-VBench: VBench-style dimensions for ShapesMotion clips, computed exactly.

VBench (Huang et al., 2024) scores videos with learned features (DINO, CLIP,
RAFT, AMT, GRiT). Here the same questions are answered with the palette
detector and plain pixel statistics, so every score is reproducible and in
[0, 1]. A dimension that does not apply to a prompt (e.g. spatial_relationship
without a relation) is None and is left out of the averages.

Quality: subject_consistency, background_consistency, temporal_flickering,
motion_smoothness, dynamic_degree. Semantic: object_class, multiple_objects,
color, spatial_relationship, motion_direction. Image-to-video: i2v_subject,
i2v_background (consistency of every frame with the given first frame).
"""

import collections

import numpy as np
from scipy import ndimage

from lumos_jax.data import shapes
from lumos_jax.evaluation import detector, geneval

QUALITY = (
    "subject_consistency",
    "background_consistency",
    "temporal_flickering",
    "motion_smoothness",
    "dynamic_degree",
)
SEMANTIC = ("object_class", "multiple_objects", "color", "spatial_relationship", "motion_direction")
I2V = ("i2v_subject", "i2v_background")
DIMENSIONS = QUALITY + SEMANTIC + I2V
_QUANTILES = np.linspace(0.02, 0.98, 25)  # describe a background's colour distribution
_DISTRIBUTION_SCALE = 64.0  # a shift of a quarter of the intensity range scores 0
_MAX_PAN = 2  # pixels searched per axis when compensating background pan


# ------------------------------------------------------------------ per-frame analysis


def analyse(video):
    """Detections and background masks of a clip.

    video: uint8 [F, H, W, 3]. Returns (list[list[Detection]], bool [F, H, W]);
    the background excludes object pixels dilated by 2 (their blurred rims).
    """
    dets, background = [], []
    for frame in np.asarray(video):
        labels = detector.palette_labels(frame)
        dets.append(detector.detect(frame, labels=labels))
        background.append(~ndimage.binary_dilation(labels >= 0, iterations=2))
    return dets, np.stack(background)


def _set_similarity(a, b):
    """Identity overlap of two detection lists in [0, 1]: objects are paired by
    (colour, shape), largest with largest; a pair adds min/max of its areas;
    the sum is divided by the larger list size. Two empty lists give 1."""
    if not a and not b:
        return 1.0
    groups = collections.defaultdict(lambda: ([], []))
    for side, dets in enumerate((a, b)):
        for d in dets:
            groups[(d.color, d.shape)][side].append(d.area)
    total = 0.0
    for xs, ys in groups.values():
        for x, y in zip(sorted(xs, reverse=True), sorted(ys, reverse=True)):
            total += min(x, y) / max(x, y)
    return total / max(len(a), len(b))


def _profile(frame, mask):
    """Colour distribution of masked pixels: float [Q, 3] per-channel quantiles,
    None if no pixel is masked."""
    pixels = frame[mask]
    if len(pixels) == 0:
        return None
    return np.quantile(pixels.astype(np.float32), _QUANTILES, axis=0)


def _profile_similarity(p1, p2):
    """1 - (1-D Wasserstein distance between the colour distributions, averaged
    over channels) / _DISTRIBUTION_SCALE, clipped to [0, 1]; 0 if either is empty.
    Noise and a panning texture keep the distribution; a flicker shifts it."""
    if p1 is None or p2 is None:
        return 0.0
    return float(max(0.0, 1.0 - np.abs(p1 - p2).mean() / _DISTRIBUTION_SCALE))


def _first_and_previous(similarity, n):
    """VBench's consistency pattern: mean over t >= 1 of the average similarity
    of frame t to frame 0 and to frame t - 1; None for a single frame."""
    if n < 2:
        return None
    return float(np.mean([(similarity(0, t) + similarity(t - 1, t)) / 2 for t in range(1, n)]))


# ------------------------------------------------------------------ quality


def subject_consistency(dets):
    """Same objects (colour, shape, area) across frames. dets: per-frame lists."""
    return _first_and_previous(lambda i, j: _set_similarity(dets[i], dets[j]), len(dets))


def background_consistency(video, background):
    """Background colour distribution stable across frames (a panning texture
    keeps it). video: uint8 [F, H, W, 3]; background: bool [F, H, W]."""
    profiles = [_profile(f, m) for f, m in zip(video, background)]
    return _first_and_previous(
        lambda i, j: _profile_similarity(profiles[i], profiles[j]), len(profiles)
    )


def _static_mae(a, b, mask_a, mask_b, max_shift=_MAX_PAN):
    """Smallest mean |a - b| over the pixels static in both frames, across
    integer shifts of b of up to `max_shift` (undoes a background pan); None
    if no shift leaves a static pixel. a, b: int16 [H, W, 3]; masks bool [H, W]."""
    h, w = mask_a.shape
    best = None
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            ya, yb = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
            xa, xb = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
            valid = mask_a[ya, xa] & mask_b[yb, xb]
            if valid.any():
                mae = float(np.abs(a[ya, xa] - b[yb, xb])[valid].mean())
                best = mae if best is None else min(best, mae)
    return best


def temporal_flickering(video, background):
    """1 - mean abs difference / 255 of consecutive frames over static pixels
    (VBench's mapping), after compensating background pan."""
    frames = np.asarray(video, np.int16)
    maes = [
        _static_mae(frames[t], frames[t + 1], background[t], background[t + 1])
        for t in range(len(frames) - 1)
    ]
    maes = [m for m in maes if m is not None]
    return 1.0 - float(np.mean(maes)) / 255.0 if maes else None


def motion_smoothness(video):
    """VBench's test with a linear interpolator: drop the odd frames, rebuild
    each as the mean of its neighbours, score 1 - mean abs error / 255."""
    v = np.asarray(video, np.float32)
    if len(v) < 3:
        return None
    rebuilt = (v[0:-2:2] + v[2::2]) / 2
    return 1.0 - float(np.abs(rebuilt - v[1:-1:2]).mean()) / 255.0


def _candidates(dets, obj, exclude=None):
    """Detections that may stand for a prompt object, largest first: colour and
    shape match, else shape only, else colour only (empty if none)."""
    dets = [d for d in dets if d is not exclude]
    for shape, color in ((obj["shape"], obj["color"]), (obj["shape"], None), (None, obj["color"])):
        found = detector.find(dets, shape=shape, color=color)
        if found:
            return found
    return []


def _best(dets, obj, exclude=None):
    """The largest candidate for a prompt object, or None."""
    found = _candidates(dets, obj, exclude)
    return found[0] if found else None


def track(dets, obj):
    """float [F, 2] box centres of a prompt object per frame, NaN where absent.
    Starts at the largest candidate, then follows the candidate nearest to the
    last position (identical objects must not swap identities)."""
    out = np.full((len(dets), 2), np.nan)
    last = None
    for t, frame_dets in enumerate(dets):
        found = _candidates(frame_dets, obj)
        if found:
            if last is not None:
                found = sorted(
                    found, key=lambda d: np.hypot(d.center[0] - last[0], d.center[1] - last[1])
                )
            out[t] = last = found[0].center
    return out


def motion_of(centers, height, width):
    """ "static", "left", "right", "up", "down" from a track [F, 2], or None if the
    object is seen in fewer than half the frames. Direction = displacement over
    the first half of the clip (ShapesMotion bounces only later); a move below
    5% of the image side counts as static."""
    seen = np.flatnonzero(~np.isnan(centers[:, 0]))
    if len(seen) < max(2, len(centers) / 2):
        return None
    threshold = max(2.0, 0.05 * min(height, width))
    disp = centers[seen] - centers[seen[0]]
    if np.abs(disp).max() < threshold:
        return "static"
    d = disp[seen <= len(centers) // 2][-1]
    if np.abs(d).max() < threshold:  # moved later only: take the farthest point
        d = disp[np.argmax(np.abs(disp).max(1))]
    axis = int(np.argmax(np.abs(d)))
    return ("left", "right", "up", "down")[2 * axis + int(d[axis] > 0)]


def dynamic_degree(meta, dets, height, width):
    """1 if the prompt asks for motion and its object moves; None for static prompts."""
    if meta.get("motion", "static") == "static" or len(dets) < 2:
        return None
    moved = motion_of(track(dets, meta["objects"][0]), height, width)
    return float(moved not in (None, "static"))


# ------------------------------------------------------------------ semantic


def motion_direction(meta, dets, height, width):
    """1 if the tracked object's direction equals the prompt's motion (static included)."""
    if len(dets) < 2:
        return None
    found = motion_of(track(dets, meta["objects"][0]), height, width)
    return float(found == meta.get("motion", "static"))


def object_class(meta, dets):
    """Fraction of frames showing every shape the prompt names."""
    need = {o["shape"] for o in meta["objects"]}
    return float(np.mean([all(detector.find(d, shape=s) for s in need) for d in dets]))


def multiple_objects(meta, dets):
    """Fraction of frames showing all objects of a two-object prompt; None otherwise."""
    if len({(o["color"], o["shape"]) for o in meta["objects"]}) < 2:
        return None
    need = collections.Counter(o["shape"] for o in meta["objects"])
    hits = [not (need - collections.Counter(x.shape for x in d)) for d in dets]
    return float(np.mean(hits))


def color(meta, dets):
    """Among frames where an object's shape is seen, the fraction where it has
    the prompt's colour (pooled over the prompt's objects); 0 if never seen."""
    seen = right = 0
    for obj in {(o["color"], o["shape"]): o for o in meta["objects"]}.values():
        for d in dets:
            same_shape = detector.find(d, shape=obj["shape"])
            seen += bool(same_shape)
            right += any(x.color == obj["color"] for x in same_shape)
    return right / seen if seen else 0.0


def spatial_relationship(meta, dets):
    """Fraction of frames where object 0 stands in the prompt's relation to
    object 1 (GenEval's rule); None without a relation."""
    if not meta.get("relation"):
        return None
    hits = []
    for d in dets:
        a = _best(d, meta["objects"][0])
        b = _best(d, meta["objects"][1], exclude=a) if a is not None else None
        hits.append(b is not None and meta["relation"] in geneval.relative_position(a.box, b.box))
    return float(np.mean(hits))


# ------------------------------------------------------------------ image-to-video


def i2v_scores(first_frame, video, dets, background):
    """(i2v_subject, i2v_background): every frame against the given first frame."""
    ref_dets, ref_bg = analyse(np.asarray(first_frame)[None])
    ref = _profile(np.asarray(first_frame), ref_bg[0])
    subject = np.mean([_set_similarity(ref_dets[0], d) for d in dets])
    back = np.mean([_profile_similarity(ref, _profile(f, m)) for f, m in zip(video, background)])
    return float(subject), float(back)


# ------------------------------------------------------------------ aggregation


def score_clip(meta, video, first_frame=None):
    """All dimensions of one clip: {name: float in [0, 1] or None}.

    meta: prompt metadata (objects, motion, relation; a ShapesMotion meta or
    spec works); video: uint8 [F, H, W, 3]; first_frame: uint8 [H, W, 3] for I2V.
    """
    video = np.asarray(video)
    if video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"video must be uint8 [F, H, W, 3], got shape {video.shape}")
    h, w = video.shape[1:3]
    dets, background = analyse(video)
    scores = {
        "subject_consistency": subject_consistency(dets),
        "background_consistency": background_consistency(video, background),
        "temporal_flickering": temporal_flickering(video, background),
        "motion_smoothness": motion_smoothness(video),
        "dynamic_degree": dynamic_degree(meta, dets, h, w),
        "object_class": object_class(meta, dets),
        "multiple_objects": multiple_objects(meta, dets),
        "color": color(meta, dets),
        "spatial_relationship": spatial_relationship(meta, dets),
        "motion_direction": motion_direction(meta, dets, h, w),
        "i2v_subject": None,
        "i2v_background": None,
    }
    if first_frame is not None:
        subject, back = i2v_scores(first_frame, video, dets, background)
        scores["i2v_subject"], scores["i2v_background"] = subject, back
    return scores


def aggregate(per_clip):
    """Means of per-clip score dicts, skipping None, plus quality_score,
    semantic_score (and i2v_score) and total = mean of all dimensions present."""
    out = {}
    for name in DIMENSIONS:
        values = [s[name] for s in per_clip if s.get(name) is not None]
        if values:
            out[name] = float(np.mean(values))
    groups = (("quality_score", QUALITY), ("semantic_score", SEMANTIC), ("i2v_score", I2V))
    for group, names in groups:
        present = [out[n] for n in names if n in out]
        if present:
            out[group] = float(np.mean(present))
    dims = [out[n] for n in DIMENSIONS if n in out]
    out["total"] = float(np.mean(dims)) if dims else float("nan")
    out["num_clips"] = len(per_clip)
    return out


def evaluate(samples):
    """mini-VBench over (meta, video) or (meta, video, first_frame) tuples."""
    return aggregate([score_clip(*sample) for sample in samples])


def make_prompts(
    split="validation",
    num=64,
    seed=0,
    height=shapes.SIZE,
    width=shapes.SIZE,
    num_frames=shapes.VIDEO_FRAMES,
):
    """Prompt metadata for T2V/I2V evaluation: ShapesMotion examples of `split`
    (their captions are the prompts; render_clip(meta)[0] is the I2V frame)."""
    return [shapes.sample_meta(seed, split, i, height, width, num_frames) for i in range(num)]
