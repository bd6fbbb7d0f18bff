# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""ShapesMotion: an embedded, procedural, captioned dataset of coloured shapes.

Every example is a pure function of (seed, split, index): `sample_meta` draws a
scene description (objects, layout, per-frame centres, motion, background,
caption) from a per-example generator, and `render_clip` turns that metadata
into pixels. Metadata is plain JSON, so an evaluation can hold prompts without
pixels and re-render a scene when it needs a reference.

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
# A moving scene travels in its stated direction for at least this fraction of
# the clip before any bounce, so the first half of a clip shows the direction.
_UNBOUNCED_FRACTION = 0.6
_MARGIN = 0  # pixels kept free at the image border
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
    unit = max(1, int(round(min(height, width) / 64.0)))  # px per frame, as in _layout
    sides = [2 * radius_for(z, height, width) for z in SIZES]
    return math.gcd(_LATTICE * unit, *sides)


def _on_lattice(rng, lo, hi, step):
    """A random multiple of `step` in [lo, hi], or None if there is none."""
    first, last = -(-lo // step), hi // step
    return None if first > last else int(rng.integers(first, last + 1)) * step


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
        "kind": kind, "objects": objects, "relation": relation, "motion": motion,
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


# ------------------------------------------------------------------ layout


def _axis_sign(direction):
    """(axis, sign) of a motion or relation word; axis 0 is x, 1 is y."""
    return {"left": (0, -1), "left of": (0, -1), "right": (0, 1), "right of": (0, 1),
            "up": (1, -1), "above": (1, -1), "down": (1, 1), "below": (1, 1)}[direction]


def _separated(c, r, centers, radii, gap):
    """Whether box (c, r) is at least `gap` pixels from every placed box."""
    for c2, r2 in zip(centers, radii):
        d = max(abs(c[0] - c2[0]), abs(c[1] - c2[1])) - (r + r2)
        if d < gap:
            return False
    return True


def _place(rng, radii, relation, width, height, gap, tries=300, lattice=1):
    """Integer centres [n, 2] (x, y) with every box inside a width x height canvas
    and `gap` apart; objects[0] stands `relation` to objects[1] if given, with
    the off-axis offset <= 0.3x the on-axis one (unambiguous under GenEval's
    rule); box corners (centre - radius) are multiples of `lattice`. Returns None
    when no layout was found."""
    if 2 * (max(radii) + _MARGIN) > min(width, height):
        return None
    # With a relation, object 0 is placed last, relative to object 1.
    order = list(range(1, len(radii))) + [0] if relation else list(range(len(radii)))
    for _ in range(tries):
        placed = {}
        for i in order:
            if relation and i == 0:
                c = _relative_center(rng, relation, placed[1], radii, gap, width, height,
                                     lattice)
            else:
                r = radii[i]
                x0 = _on_lattice(rng, _MARGIN, width - 2 * r - _MARGIN, lattice)
                y0 = _on_lattice(rng, _MARGIN, height - 2 * r - _MARGIN, lattice)
                c = None if x0 is None or y0 is None else (x0 + r, y0 + r)
            if c is None or not _separated(c, radii[i], list(placed.values()),
                                           [radii[j] for j in placed], gap):
                break
            placed[i] = c
        else:
            return np.asarray([placed[i] for i in range(len(radii))], np.int64)
    return None


def _relative_center(rng, relation, anchor, radii, gap, width, height, lattice=1):
    """Centre of object 0 standing `relation` to an anchor centre, or None if outside.
    Offsets keep box corners on the lattice when the anchor's are."""
    axis, sign = _axis_sign(relation)
    min_d = radii[0] + radii[1] + gap
    # Object 0's corner (anchor corner + r1 +- offset - r0) is on the lattice iff each
    # signed offset is congruent to r0 - r1 modulo the lattice.
    d = (radii[0] - radii[1]) % lattice
    want = (sign * d) % lattice
    along = _on_lattice(rng, min_d - want, min_d + max(width, height) // 2 - want, lattice)
    along = along + want
    limit = int(0.3 * along)
    across = _on_lattice(rng, -limit - d, limit - d, lattice)
    if across is None:
        return None
    across += d
    c = [0, 0]
    c[axis] = anchor[axis] + sign * along
    c[1 - axis] = anchor[1 - axis] + across
    r = radii[0]
    inside_x = r + _MARGIN <= c[0] <= width - r - _MARGIN
    if not (inside_x and r + _MARGIN <= c[1] <= height - r - _MARGIN):
        return None
    return (c[0], c[1])


def trajectory(start, radii, motion, speed, width, height, num_frames):
    """Centres [F, n, 2] of a rigid group moving `speed` px/frame in `motion`,
    bouncing (velocity reversed) where the group's box meets the image border."""
    start = np.asarray(start, np.int64)
    centers = np.repeat(start[None], num_frames, axis=0)
    if motion == "static" or speed == 0:
        return centers
    axis, sign = _axis_sign(motion)
    extent = width if axis == 0 else height
    r = np.asarray(radii)
    lo = _MARGIN - int(np.min(start[:, axis] - r))  # most negative allowed offset
    hi = extent - _MARGIN - int(np.max(start[:, axis] + r))
    offset, velocity = 0, sign * speed
    for t in range(1, num_frames):
        offset += velocity
        if offset < lo:
            offset, velocity = 2 * lo - offset, -velocity
        elif offset > hi:
            offset, velocity = 2 * hi - offset, -velocity
        centers[t, :, axis] += offset
    return centers


def _layout(rng, spec, radii, width, height, num_frames, scale):
    """(start centres [n, 2], motion, speed). A moving scene is laid out in a
    canvas shrunk by the room its first unbounced stretch needs; the layout
    falls back to slower motion, then static, if it does not fit."""
    gap = max(3, int(round(3 * scale)))
    unit = max(1, int(round(scale)))  # 1 px/frame at 64 px, scaled with the image
    lattice = lattice_for(height, width)
    if spec["motion"] == "static" or num_frames == 1:
        speeds = [0]
    else:  # 1 or 2 units; if that does not fit, 1 unit, then static
        speeds = [int(rng.integers(1, 3)) * unit, unit, 0]
    for speed in speeds:
        motion = spec["motion"] if speed else "static"
        need = speed * math.ceil(_UNBOUNCED_FRACTION * (num_frames - 1)) if speed else 0
        need = -(-need // lattice) * lattice  # keeps the shifted start on the lattice
        axis, sign = _axis_sign(motion) if speed else (0, 1)
        size = [width, height]
        size[axis] -= need
        start = _place(rng, radii, spec.get("relation"), size[0], size[1], gap,
                       lattice=lattice)
        if start is not None:
            if sign < 0:
                start[:, axis] += need  # room lies on the side it moves towards
            return start, motion, speed
    raise ValueError(f"cannot lay out {spec['objects']} in {width}x{height}; use a larger image")


# ------------------------------------------------------------------ metadata


def build_meta(rng, spec, height=64, width=64, num_frames=17, fps=8):
    """Full metadata (JSON-able dict) of a scene: spec + radii, per-frame centres
    [F][n][2] and boxes [F][n][4], background pan, caption."""
    scale = min(height, width) / 64.0
    objects = [dict(o, radius=radius_for(o["size"], height, width)) for o in spec["objects"]]
    radii = [o["radius"] for o in objects]
    start, motion, speed = _layout(rng, spec, radii, width, height, num_frames, scale)
    centers = trajectory(start, radii, motion, speed, width, height, num_frames)
    r = np.asarray(radii)[None, :, None]
    boxes = np.concatenate([centers - r, centers + r], axis=-1)
    background = dict(spec["background"], period=max(4, int(round(8 * scale))), pan=[0.0, 0.0])
    if num_frames > 1 and background["texture"] != "plain":
        axis, sign = _axis_sign(str(rng.choice(MOTIONS[1:])))
        background["pan"][axis] = sign * PAN_SPEED * max(1.0, scale)
    meta = dict(spec, objects=objects, motion=motion, speed=speed, background=background,
                count=len(objects), height=height, width=width, num_frames=num_frames,
                fps=fps if num_frames > 1 else 1,
                centers=centers.tolist(), boxes=boxes.tolist())
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
    y, x = np.mgrid[0:2 * r, 0:2 * r] + 0.5
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
            frames[t, cy - r:cy + r, cx - r:cx + r][mask] = color
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
