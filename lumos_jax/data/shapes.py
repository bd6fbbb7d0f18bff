# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""ShapesMotion: an embedded, procedural, captioned dataset of coloured shapes.

Every example is a pure function of (seed, split, index): `sample_meta` draws a
scene description (objects, layout, per-frame centres, motion, background,
caption) from a per-example generator, and `render_clip` turns that metadata
into pixels. Metadata is plain JSON, so an evaluation can hold prompts without
pixels and re-render a scene when it needs a reference. Where objects start and how
they move (placement, relations, bouncing trajectories) is `shapes_layout`.

Geometry conventions (shared with `lumos_jax.evaluation.detector`):
  * pixel (row y, column x) covers [x, x+1) x [y, y+1); an object with integer
    centre (cx, cy) and radius r fills a subset of the box [cx-r, cx+r) x
    [cy-r, cy+r), and always touches all four sides of that box;
  * boxes are (x0, y0, x1, y1) with exclusive ends, so the centre is the mean;
  * y grows downwards: "up" and "above" mean smaller y.
"""

import functools
import json
import math

import numpy as np

from lumos_jax.data import shapes_layout

SPLITS = ("train", "validation", "holdout")
_SPLIT_IDS = {"train": 0, "validation": 1, "holdout": 2}

# Object colours: every pair is >= 95 apart in RGB, and every background shade
# (texture included) is >= 95 from every one of them, so a detector with a
# colour-distance threshold of ~55 survives Gaussian noise of sigma 8.
PALETTE = {
    "red": (215, 25, 30),
    "orange": (250, 130, 20),
    "yellow": (235, 225, 35),
    "green": (30, 165, 55),
    "cyan": (35, 205, 215),
    "blue": (35, 65, 225),
    "purple": (135, 35, 190),
    "pink": (250, 125, 200),
}
BACKGROUNDS = {"gray": (128, 128, 128), "black": (20, 20, 20), "white": (235, 235, 235)}
SHAPES = ("circle", "square", "triangle")
SIZES = ("small", "large")
# radius / min(height, width): 6 and 10 px at 64x64 (boxes of 12 and 20 px, whole
# multiples of the lattice below), 3 and 5 px at 32x32.
SIZE_FRACTION = {"small": 0.094, "large": 0.156}
MOTIONS = ("static", "left", "right", "up", "down")
RELATIONS = ("left of", "right of", "above", "below")
TEXTURES = ("plain", "checker", "stripes")
KINDS = ("single", "pair", "relation", "count")
_KIND_PROBS = (0.35, 0.2, 0.25, 0.2)
NUMBER_WORDS = {1: "one", 2: "two", 3: "three"}

# Compositional hold-out: these colour-shape pairs never occur in train or
# validation; every holdout example contains at least one of them.
HOLDOUT_PAIRS = frozenset(
    {("red", "triangle"), ("blue", "square"), ("yellow", "circle"), ("cyan", "triangle")}
)
TEXTURE_AMPLITUDE = 12  # +- around the background colour; keeps it far from the palette
PAN_SPEED = 0.5  # background texture pixels per frame ("slowly panning")
# Object boxes start on a lattice of 4 px at 64x64 (scaled with the image; half of the
# 8 px a token of the 4x8x8 tokenizer covers), and every motion moves a whole lattice
# step per 4 frames, so on frames 0, 4, 8, ... every box edge is on the lattice. The
# 1000-code tokenizer must then tell ~2 edge offsets per token axis apart, not 8: the
# per-token patterns drop below its codebook size and reconstructions stay sharp.
_LATTICE = 4


def record_id(seed, split, index):
    """Stable record id of example `index` of `split` generated with `seed`."""
    return f"shapes_motion-{seed}-{split}-{index:08d}"


def example_rng(seed, split, index):
    """A generator that depends only on (seed, split, index): any example can be
    produced alone, in any order, on any shard."""
    if split not in _SPLIT_IDS:
        raise ValueError(f"split {split!r} is not one of {SPLITS}")
    return np.random.default_rng([int(seed), _SPLIT_IDS[split], int(index)])


def radius_for(size, height, width):
    """Object radius in pixels for a size name at this resolution."""
    return max(3, int(round(SIZE_FRACTION[size] * min(height, width))))


def lattice_for(height, width):
    """Pixel step of the lattice object boxes start on: 4 px at 64x64, 2 at 32x32. It
    divides both box sizes and the 4-frame travel of the slowest motion, so boxes stay
    on it every fourth frame (a coarser one where the image size makes these disagree)."""
    unit = max(1, int(round(min(height, width) / 64.0)))  # px per frame, as in place_scene
    sides = [2 * radius_for(z, height, width) for z in SIZES]
    return math.gcd(_LATTICE * unit, *sides)


# ------------------------------------------------------------------ scene specs


def _sample_pair(rng, allow_held, exclude=()):
    """A (colour, shape) pair not in `exclude`; held-out pairs only if allowed."""
    while True:
        pair = (str(rng.choice(list(PALETTE))), str(rng.choice(SHAPES)))
        if pair not in exclude and (allow_held or pair not in HOLDOUT_PAIRS):
            return pair


def _sample_objects(rng, kind, split):
    """Objects [{shape, color, size}] for a scene kind; holdout scenes start with
    a held-out pair, train/validation scenes never contain one."""
    holdout = split == "holdout"
    if holdout:
        held = sorted(HOLDOUT_PAIRS)
        first = held[rng.integers(len(held))]
    else:
        first = _sample_pair(rng, False)
    size = str(rng.choice(SIZES))
    if kind == "single":
        pairs, sizes = [first], [size]
    elif kind == "count":
        n = int(rng.integers(2, 4))
        pairs, sizes = [first] * n, [size] * n
    else:  # pair / relation: two distinct colour-shape pairs
        second = _sample_pair(rng, holdout, {first})
        pairs, sizes = [first, second], [size, str(rng.choice(SIZES))]
    return [{"shape": s, "color": c, "size": z} for (c, s), z in zip(pairs, sizes)]


def sample_spec(rng, split, num_frames=17):
    """Draws what a scene shows (not where): kind, objects, relation, motion,
    background and which optional phrases the caption mentions."""
    kind = str(rng.choice(KINDS, p=_KIND_PROBS))
    objects = _sample_objects(rng, kind, split)
    relation = str(rng.choice(RELATIONS)) if kind == "relation" else None
    motion = str(rng.choice(MOTIONS)) if num_frames > 1 else "static"
    texture = str(rng.choice(TEXTURES, p=(0.5, 0.25, 0.25)))
    background = {"color": str(rng.choice(list(BACKGROUNDS))), "texture": texture}
    return {
        "kind": kind,
        "objects": objects,
        "relation": relation,
        "motion": motion,
        "background": background,
        "mention_size": bool(kind == "single" and rng.random() < 0.5),
        "mention_background": bool(rng.random() < 0.5),
    }


def _object_phrase(obj, mention_size):
    words = f"{obj['size']} {obj['color']}" if mention_size else obj["color"]
    return ("an " if words[0] in "aeiou" else "a ") + f"{words} {obj['shape']}"


def caption(spec):
    """Caption from the grammar, e.g. "a red square moves left",
    "a blue circle above a green triangle", "three yellow circles"."""
    objs, kind, motion = spec["objects"], spec["kind"], spec.get("motion", "static")
    if kind == "count":
        o = objs[0]
        text = f"{NUMBER_WORDS[len(objs)]} {o['color']} {o['shape']}s"
    elif kind == "relation":
        first, second = _object_phrase(objs[0], False), _object_phrase(objs[1], False)
        text = f"{first} {spec['relation']} {second}"
    elif kind == "pair":
        text = f"{_object_phrase(objs[0], False)} and {_object_phrase(objs[1], False)}"
    else:
        text = _object_phrase(objs[0], spec.get("mention_size", False))
    if spec.get("mention_background"):
        bg = spec["background"]
        texture = {"plain": "", "checker": "checkered ", "stripes": "striped "}[bg["texture"]]
        text += f" on a {texture}{bg['color']} background"
    if motion != "static":
        if kind == "relation":
            text += f", moving {motion}"
        else:
            text += (" moves " if len(objs) == 1 else " move ") + motion
    return text


# ------------------------------------------------------------------ metadata


def build_meta(rng, spec, height=64, width=64, num_frames=17, fps=8):
    """Full metadata (JSON-able dict) of a scene: spec + radii, per-frame centres
    [F][n][2] and boxes [F][n][4], background pan, caption."""
    scale = min(height, width) / 64.0
    objects = [dict(o, radius=radius_for(o["size"], height, width)) for o in spec["objects"]]
    radii = [o["radius"] for o in objects]
    start, motion, speed = shapes_layout.place_scene(
        rng, spec, radii, width, height, num_frames, scale, lattice_for(height, width)
    )
    centers = shapes_layout.trajectory(start, radii, motion, speed, width, height, num_frames)
    r = np.asarray(radii)[None, :, None]
    boxes = np.concatenate([centers - r, centers + r], axis=-1)
    background = dict(spec["background"], period=max(4, int(round(8 * scale))), pan=[0.0, 0.0])
    if num_frames > 1 and background["texture"] != "plain":
        axis, sign = shapes_layout.axis_sign(str(rng.choice(MOTIONS[1:])))
        background["pan"][axis] = sign * PAN_SPEED * max(1.0, scale)
    meta = dict(
        spec,
        objects=objects,
        motion=motion,
        speed=speed,
        background=background,
        count=len(objects),
        height=height,
        width=width,
        num_frames=num_frames,
        fps=fps if num_frames > 1 else 1,
        centers=centers.tolist(),
        boxes=boxes.tolist(),
    )
    meta["caption"] = caption(meta)
    return meta


def sample_meta(seed, split, index, height=64, width=64, num_frames=17, fps=8):
    """Metadata of example `index` of `split`; a pure function of its arguments."""
    rng = example_rng(seed, split, index)
    meta = build_meta(rng, sample_spec(rng, split, num_frames), height, width, num_frames, fps)
    meta.update(id=record_id(seed, split, index), seed=int(seed), split=split, index=int(index))
    return meta


# ------------------------------------------------------------------ rendering


@functools.lru_cache(maxsize=None)
def shape_mask(shape, radius):
    """bool [2r, 2r]: pixels whose centres lie inside the shape; every shape
    touches all four sides of its box (the triangle points up)."""
    r = radius
    y, x = np.mgrid[0 : 2 * r, 0 : 2 * r] + 0.5
    if shape == "square":
        mask = np.ones((2 * r, 2 * r), bool)
    elif shape == "circle":
        mask = (x - r) ** 2 + (y - r) ** 2 <= r * r
    elif shape == "triangle":
        # +0.5 keeps a 2-pixel apex so the top row of the box is never empty.
        mask = np.abs(x - r) <= (y + 0.5) / 2
    else:
        raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")
    mask.setflags(write=False)
    return mask


def render_background(meta):
    """uint8 [F, H, W, 3]: plain colour, or a checker/stripe texture of +-amplitude
    panning by `pan` px/frame (integer steps, so frames stay exact)."""
    bg, f, h, w = meta["background"], meta["num_frames"], meta["height"], meta["width"]
    base = np.asarray(BACKGROUNDS[bg["color"]], np.int16)
    if bg["texture"] == "plain":
        return np.broadcast_to(base.astype(np.uint8), (f, h, w, 3)).copy()
    t = np.arange(f)
    ox = np.floor(bg["pan"][0] * t).astype(np.int64)[:, None, None]
    oy = np.floor(bg["pan"][1] * t).astype(np.int64)[:, None, None]
    xs = np.arange(w)[None, None, :] + ox
    ys = np.arange(h)[None, :, None] + oy
    p = bg["period"]
    if bg["texture"] == "checker":
        pattern = (xs // p + ys // p) % 2
    else:  # diagonal stripes
        pattern = ((xs + ys) // p) % 2
    shade = (2 * pattern - 1).astype(np.int16) * TEXTURE_AMPLITUDE
    return (base + shade[..., None]).astype(np.uint8)


def render_clip(meta):
    """uint8 [F, H, W, 3] frames of a scene described by `meta` (see build_meta)."""
    frames = render_background(meta)
    centers = np.asarray(meta["centers"], np.int64)
    for i, obj in enumerate(meta["objects"]):
        r = obj["radius"]
        mask = shape_mask(obj["shape"], r)
        color = np.asarray(PALETTE[obj["color"]], np.uint8)
        for t in range(meta["num_frames"]):
            cx, cy = centers[t, i]
            frames[t, cy - r : cy + r, cx - r : cx + r][mask] = color
    return frames


def generate_example(seed, split, index, height=64, width=64, num_frames=17, fps=8):
    """One record: video uint8 [F, H, W, 3], caption, fps, num_frames, metadata
    (JSON string), id."""
    meta = sample_meta(seed, split, index, height, width, num_frames, fps)
    return {
        "video": render_clip(meta),
        "caption": meta["caption"],
        "fps": meta["fps"],
        "num_frames": num_frames,
        "metadata": json.dumps(meta, sort_keys=True),
        "id": meta["id"],
    }


def tokenizer_clips(num_clips, num_frames, height, width, seed=0):
    """uint8 [N, F, H, W, 3] training clips for the visual tokenizer (its clip-source API:
    `--config.data.source=lumos_jax.data.shapes:tokenizer_clips`); a mix of videos and
    images of the train split, so both still and moving scenes are reconstructed."""
    clips = np.empty((num_clips, num_frames, height, width, 3), np.uint8)
    for i in range(num_clips):
        meta = sample_meta(seed, "train", i, height=height, width=width, num_frames=num_frames)
        clips[i] = render_clip(meta)
    return clips
