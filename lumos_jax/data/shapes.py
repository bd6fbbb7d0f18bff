# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""ShapesMotion: an embedded, procedural, captioned dataset of coloured shapes on the
token grid.

Every example is a pure function of (seed, split, index): `sample_meta` draws a scene
description (objects, layout, per-frame boxes, motion, background, caption) from a
per-example generator, and `render_clip` turns that metadata into pixels. Metadata is
plain JSON, so an evaluation can hold prompts without pixels and re-render a scene.

The world is drawn so that its tokens *factorise* (shared/design.md, "The built-in
world"): every 4x8x8 tube of the demo's tokenizer (and the 1x8x8 first frame) shows one
solid colour, an object's palette colour or the plain background, still within a latent
frame. Shapes are told apart by the *arrangement* of their cells (pixel art: a 3x3 block,
a 5x5 disc with cut corners, a 5-wide stepped triangle), and a moving group steps one cell
per latent frame. So a token's content never depends jointly on an object's colour and
its shape: the held-out colour-shape pairs use only tokens that training shows (red cells
come from red circles and squares, the triangle's arrangement from other colours), and
a patch codebook of the 11 solid cells reconstructs every scene exactly.

Geometry conventions (shared with `lumos_jax.evaluation.detector`):
  * pixel (row y, column x) covers [x, x+1) x [y, y+1); cells are CELL x CELL pixels;
  * boxes are (x0, y0, x1, y1) pixels with exclusive ends, so the centre is the mean;
  * y grows downwards: "up" and "above" mean smaller y.
"""

import functools
import json

import numpy as np

from lumos_jax.data import shapes_layout

SPLITS = ("train", "validation", "holdout")
_SPLIT_IDS = {"train": 0, "validation": 1, "holdout": 2}
CELL = 8  # px: one token of the 4x8x8 tokenizer
TEMPORAL = 4  # pixel frames per latent frame after the first (the causal tokenizer's)
# The built-in geometry: 12x12 cells (room for three 5x5 discs with gaps), and
# 9 frames = 3 latent frames (the start, then two one-cell steps).
SIZE = 96
VIDEO_FRAMES = 9
FPS = 8

# Object colours: every pair is >= 95 apart in RGB and >= 95 from every background.
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
# Cell masks (rows top to bottom); each touches all four sides of its box.
SHAPE_CELLS = {
    "square": ("###", "###", "###"),
    "circle": (".###.", "#####", "#####", "#####", ".###."),
    "triangle": ("..#..", ".###.", "#####"),
}
SIZES = ("regular",)  # one size per shape: the cell arrangements above
MOTIONS = ("static", "left", "right", "up", "down")
RELATIONS = ("left of", "right of", "above", "below")
KINDS = ("single", "pair", "relation", "count")
_KIND_PROBS = (0.35, 0.2, 0.25, 0.2)
NUMBER_WORDS = {1: "one", 2: "two", 3: "three"}

# Compositional hold-out: these colour-shape pairs never occur in train or
# validation; every holdout example contains at least one of them.
HOLDOUT_PAIRS = frozenset(
    {("red", "triangle"), ("blue", "square"), ("yellow", "circle"), ("cyan", "triangle")}
)


def record_id(seed, split, index):
    """Stable record id of example `index` of `split` generated with `seed`."""
    return f"shapes_motion-{seed}-{split}-{index:08d}"


def example_rng(seed, split, index):
    """A generator that depends only on (seed, split, index): any example can be
    produced alone, in any order, on any shard."""
    if split not in _SPLIT_IDS:
        raise ValueError(f"split {split!r} is not one of {SPLITS}")
    return np.random.default_rng([int(seed), _SPLIT_IDS[split], int(index)])


@functools.lru_cache(maxsize=None)
def cell_mask(shape):
    """bool [h, w] cells of a shape (read-only)."""
    if shape not in SHAPE_CELLS:
        raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")
    mask = np.asarray([[c == "#" for c in row] for row in SHAPE_CELLS[shape]])
    mask.setflags(write=False)
    return mask


def cell_size(shape):
    """(w, h) of a shape's box in cells."""
    h, w = cell_mask(shape).shape
    return w, h


def grid_size(height, width):
    """(columns, rows) of cells of an image; both sides must be whole cells."""
    if height % CELL or width % CELL:
        raise ValueError(f"ShapesMotion draws on {CELL}-px cells: {height}x{width} is not")
    return width // CELL, height // CELL


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
    if kind == "single":
        pairs = [first]
    elif kind == "count":
        pairs = [first] * int(rng.integers(2, 4))
    else:  # pair / relation: two distinct colour-shape pairs
        pairs = [first, _sample_pair(rng, holdout, {first})]
    return [{"shape": s, "color": c, "size": SIZES[0]} for c, s in pairs]


def sample_spec(rng, split, num_frames=VIDEO_FRAMES):
    """Draws what a scene shows (not where): kind, objects, relation, motion,
    background and whether the caption mentions the background."""
    kind = str(rng.choice(KINDS, p=_KIND_PROBS))
    objects = _sample_objects(rng, kind, split)
    relation = str(rng.choice(RELATIONS)) if kind == "relation" else None
    motion = str(rng.choice(MOTIONS)) if num_frames > 1 else "static"
    return {
        "kind": kind,
        "objects": objects,
        "relation": relation,
        "motion": motion,
        "background": {"color": str(rng.choice(list(BACKGROUNDS)))},
        "mention_background": bool(rng.random() < 0.5),
    }


def _object_phrase(obj):
    return ("an " if obj["color"][0] in "aeiou" else "a ") + f"{obj['color']} {obj['shape']}"


def caption(spec):
    """Caption from the grammar, e.g. "a red square moves left",
    "a blue circle above a green triangle", "three yellow circles"."""
    objs, kind, motion = spec["objects"], spec["kind"], spec.get("motion", "static")
    if kind == "count":
        o = objs[0]
        text = f"{NUMBER_WORDS[len(objs)]} {o['color']} {o['shape']}s"
    elif kind == "relation":
        text = f"{_object_phrase(objs[0])} {spec['relation']} {_object_phrase(objs[1])}"
    elif kind == "pair":
        text = f"{_object_phrase(objs[0])} and {_object_phrase(objs[1])}"
    else:
        text = _object_phrase(objs[0])
    if spec.get("mention_background"):
        text += f" on a {spec['background']['color']} background"
    if motion != "static":
        if kind == "relation":
            text += f", moving {motion}"
        else:
            text += (" moves " if len(objs) == 1 else " move ") + motion
    return text


# ------------------------------------------------------------------ metadata


def build_meta(rng, spec, height=SIZE, width=SIZE, num_frames=VIDEO_FRAMES, fps=FPS):
    """Full metadata (JSON-able dict) of a scene: spec + per-frame boxes [F][n][4] and
    centres [F][n][2] in pixels, the motion actually drawn (static when a move does not
    fit), speed (px per latent frame) and the caption."""
    cols, rows = grid_size(height, width)
    if (num_frames - 1) % TEMPORAL:
        raise ValueError(f"num_frames={num_frames}: expected 1 + {TEMPORAL}k")
    sizes = [cell_size(o["shape"]) for o in spec["objects"]]
    steps = (num_frames - 1) // TEMPORAL
    start, motion = shapes_layout.place_scene(rng, spec, sizes, cols, rows, steps)
    corners = shapes_layout.trajectory(start, sizes, motion, steps, cols, rows)
    latent = [shapes_layout.latent_index(t, TEMPORAL) for t in range(num_frames)]
    size = np.asarray(sizes)[None]
    boxes = np.concatenate([corners, corners + size], axis=-1)[latent] * CELL  # [F, n, 4]
    centers = (boxes[..., :2] + boxes[..., 2:]) // 2  # integers: boxes are whole cells
    meta = dict(
        spec,
        objects=[dict(o) for o in spec["objects"]],
        motion=motion,
        speed=CELL if motion != "static" else 0,
        count=len(spec["objects"]),
        height=height,
        width=width,
        num_frames=num_frames,
        fps=fps if num_frames > 1 else 1,
        centers=centers.tolist(),
        boxes=boxes.tolist(),
    )
    meta["caption"] = caption(meta)
    return meta


def sample_meta(seed, split, index, height=SIZE, width=SIZE, num_frames=VIDEO_FRAMES, fps=FPS):
    """Metadata of example `index` of `split`; a pure function of its arguments."""
    rng = example_rng(seed, split, index)
    meta = build_meta(rng, sample_spec(rng, split, num_frames), height, width, num_frames, fps)
    meta.update(id=record_id(seed, split, index), seed=int(seed), split=split, index=int(index))
    return meta


# ------------------------------------------------------------------ rendering


@functools.lru_cache(maxsize=None)
def pixel_mask(shape):
    """bool [h * CELL, w * CELL]: a shape's pixels in its box (read-only)."""
    mask = np.kron(cell_mask(shape), np.ones((CELL, CELL), bool))
    mask.setflags(write=False)
    return mask


def render_clip(meta):
    """uint8 [F, H, W, 3] frames of a scene described by `meta` (see build_meta)."""
    f, h, w = meta["num_frames"], meta["height"], meta["width"]
    background = np.asarray(BACKGROUNDS[meta["background"]["color"]], np.uint8)
    frames = np.broadcast_to(background, (f, h, w, 3)).copy()
    boxes = np.asarray(meta["boxes"], np.int64)
    for i, obj in enumerate(meta["objects"]):
        mask = pixel_mask(obj["shape"])
        color = np.asarray(PALETTE[obj["color"]], np.uint8)
        for t in range(f):
            x0, y0, x1, y1 = boxes[t, i]
            frames[t, y0:y1, x0:x1][mask] = color
    return frames


def generate_example(seed, split, index, height=SIZE, width=SIZE, num_frames=VIDEO_FRAMES, fps=FPS):
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
    """uint8 [N, F, H, W, 3] clips of the train split for fitting or training a visual
    tokenizer (its clip-source API: `lumos_jax.data.shapes:tokenizer_clips`); never the
    evaluator's validation or hold-out scenes."""
    clips = np.empty((num_clips, num_frames, height, width, 3), np.uint8)
    for i in range(num_clips):
        meta = sample_meta(seed, "train", i, height=height, width=width, num_frames=num_frames)
        clips[i] = render_clip(meta)
    return clips
