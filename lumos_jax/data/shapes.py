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
import itertools
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
# Object box sides in grid cells (see CELL_PX): a small object is one 4x8x8 token of the
# demo tokenizer, a large one 2x2 tokens.
SIZE_CELLS = {"small": 1, "large": 2}
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
# Scenes are drawn on the token grid of the demo tokenizer (4x temporal, 8x8 spatial,
# causal: frame 0 alone, then groups of 4 frames), so every 4x8x8 token shows one of a
# few hundred patterns (`token_patterns`) that its codebook can hold exactly:
#   * object boxes have sides of whole cells and corners on the cell grid;
#   * motion moves a whole cell per latent frame: frame 0 alone, then each group of
#     TEMPORAL_STRIDE frames is still, so no token carries sub-token edges or in-token
#     motion; the clip steps by one cell every 4 frames (2 px/frame on average);
#   * backgrounds are plain (a texture would triple the patterns; render_background still
#     draws the textured ones the detector is tested on).
CELL_PX = 8  # pixels per cell at 64x64 (the tokenizer's spatial stride), scaled with the image
TEMPORAL_STRIDE = 4  # pixel frames per latent frame after the first
# A moving scene travels in its stated direction for at least this fraction of its
# latent steps before any bounce, so the first half of a clip shows the direction.
_UNBOUNCED_FRACTION = 0.6


def record_id(seed, split, index):
    """Stable record id of example `index` of `split` generated with `seed`."""
    return f"shapes_motion-{seed}-{split}-{index:08d}"


def example_rng(seed, split, index):
    """A generator that depends only on (seed, split, index): any example can be
    produced alone, in any order, on any shard."""
    if split not in _SPLIT_IDS:
        raise ValueError(f"split {split!r} is not one of {SPLITS}")
    return np.random.default_rng([int(seed), _SPLIT_IDS[split], int(index)])


def cell_for(height, width):
    """Pixels per grid cell: CELL_PX at 64x64 (one token of the 8x spatial tokenizer),
    scaled with the image (4 px at 32x32: small test images keep room for the scenes)."""
    return max(2, int(round(CELL_PX * min(height, width) / 64.0)))


def radius_for(size, height, width):
    """Object radius in pixels (half the box side) for a size name at this resolution."""
    return SIZE_CELLS[size] * cell_for(height, width) // 2


def latent_index(frame):
    """Latent frame of pixel frame `frame` under the causal temporal stride: frame 0
    alone, then frames 1-4, 5-8, ... (Cosmos/Lumos tokenizers, 1 + 4k frames)."""
    return (int(frame) + TEMPORAL_STRIDE - 1) // TEMPORAL_STRIDE


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
    background = {"color": str(rng.choice(list(BACKGROUNDS))), "texture": "plain"}
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
    if 2 * max(radii) > min(width, height):
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
                x0 = _on_lattice(rng, 0, width - 2 * r - 0, lattice)
                y0 = _on_lattice(rng, 0, height - 2 * r - 0, lattice)
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
    if not (r <= c[0] <= width - r and r <= c[1] <= height - r):
        return None
    return (c[0], c[1])


def trajectory(start, radii, motion, step, width, height, num_frames):
    """Centres [F, n, 2] of a rigid group moving `step` px per latent frame in `motion`:
    still within each latent frame (frame 0, frames 1-4, 5-8, ...), bouncing (velocity
    reversed) where the group's box meets the image border."""
    start = np.asarray(start, np.int64)
    centers = np.repeat(start[None], num_frames, axis=0)
    if motion == "static" or step == 0:
        return centers
    axis, sign = _axis_sign(motion)
    extent = width if axis == 0 else height
    r = np.asarray(radii)
    lo = -int(np.min(start[:, axis] - r))  # most negative allowed offset
    hi = extent - int(np.max(start[:, axis] + r))
    offsets, offset, velocity = [0], 0, sign * step
    for _ in range(latent_index(num_frames - 1)):
        offset += velocity
        if offset < lo:
            offset, velocity = 2 * lo - offset, -velocity
        elif offset > hi:
            offset, velocity = 2 * hi - offset, -velocity
        offsets.append(offset)
    centers[:, :, axis] += np.asarray([offsets[latent_index(t)] for t in range(num_frames)],
                                      np.int64)[:, None]
    return centers


def _layout(rng, spec, radii, width, height, num_frames):
    """(start centres [n, 2], motion, step in px per latent frame). A moving scene is laid
    out in a canvas shrunk by the room its first unbounced stretch needs; it falls back
    to static if that does not fit."""
    cell = cell_for(height, width)
    gap = cell  # on the cell grid any positive gap is a whole cell
    moving = spec["motion"] != "static" and num_frames > 1
    for step in ([cell] if moving else []) + [0]:
        motion = spec["motion"] if step else "static"
        need = step * math.ceil(_UNBOUNCED_FRACTION * latent_index(num_frames - 1))
        axis, sign = _axis_sign(motion) if step else (0, 1)
        size = [width, height]
        size[axis] -= need
        start = _place(rng, radii, spec.get("relation"), size[0], size[1], gap, lattice=cell)
        if start is not None:
            if sign < 0:
                start[:, axis] += need  # room lies on the side it moves towards
            return start, motion, step
    raise ValueError(f"cannot lay out {spec['objects']} in {width}x{height}; use a larger image")


# ------------------------------------------------------------------ metadata


def build_meta(rng, spec, height=64, width=64, num_frames=17, fps=8):
    """Full metadata (JSON-able dict) of a scene: spec + radii, per-frame centres
    [F][n][2] and boxes [F][n][4], background pan, caption."""
    objects = [dict(o, radius=radius_for(o["size"], height, width)) for o in spec["objects"]]
    radii = [o["radius"] for o in objects]
    start, motion, step = _layout(rng, spec, radii, width, height, num_frames)
    centers = trajectory(start, radii, motion, step, width, height, num_frames)
    r = np.asarray(radii)[None, :, None]
    boxes = np.concatenate([centers - r, centers + r], axis=-1)
    background = dict(spec["background"], period=cell_for(height, width), pan=[0.0, 0.0])
    meta = dict(spec, objects=objects, motion=motion, step=step, background=background,
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


def tokenizer_scene(rng, height=64, width=64, num_frames=5, max_objects=10):
    """Metadata (for render_clip) of a dense scene for tokenizer training: up to
    `max_objects` objects of any colour-shape pair (hold-out pairs included) and size, on
    the cell grid with whole-cell gaps, moving together one cell per latent frame. Every
    cell is one of `token_patterns`, as in captioned scenes, but ~5x more cells show an
    object, so each training step sees more of the patterns the codebook must hold."""
    cell = cell_for(height, width)
    motion = str(rng.choice(MOTIONS)) if num_frames > 1 else "static"
    axis, sign = _axis_sign(motion) if motion != "static" else (0, 1)
    size = [width, height]
    size[axis] -= cell if motion != "static" else 0  # room for the group to move
    for n in range(int(rng.integers(max_objects // 2, max_objects + 1)), 0, -1):
        objects = [{"shape": str(rng.choice(SHAPES)), "color": str(rng.choice(list(PALETTE))),
                    "size": str(rng.choice(SIZES))} for _ in range(n)]
        for o in objects:
            o["radius"] = radius_for(o["size"], height, width)
        radii = [o["radius"] for o in objects]
        start = _place(rng, radii, None, size[0], size[1], cell, tries=20, lattice=cell)
        if start is not None:
            break
    if sign < 0 and motion != "static":
        start[:, axis] += cell
    return {"num_frames": num_frames, "height": height, "width": width, "objects": objects,
            "centers": trajectory(start, radii, motion, cell, width, height,
                                  num_frames).tolist(),
            "background": {"color": str(rng.choice(list(BACKGROUNDS))), "texture": "plain",
                           "period": cell, "pan": [0.0, 0.0]}}


def tokenizer_clips(num_clips, num_frames, height, width, seed=0):
    """uint8 [N, F, H, W, 3] training clips for the visual tokenizer (its clip-source API:
    `--config.data.source=lumos_jax.data.shapes:tokenizer_clips`): dense scenes
    (`tokenizer_scene`) of every colour-shape pair, as a tokenizer trained on generic
    video would see them; the t2v records never show the hold-out pairs (what the
    hold-out tests), and no clip is a captioned scene of any split."""
    rng = np.random.default_rng([int(seed), 97])
    return np.stack([render_clip(tokenizer_scene(rng, height, width, num_frames))
                     for _ in range(num_clips)]).astype(np.uint8)


def token_patterns(height=64, width=64):
    """Every distinct cell (token footprint) a scene at this resolution can show: bytes of
    uint8 [cell, cell, 3] pixels. Objects sit on the cell grid and never share a cell
    (gaps are whole cells), backgrounds are plain, and a latent frame is still, so each
    4x8x8 token repeats one of these; the tokenizer's codebook must hold them all."""
    cell = cell_for(height, width)
    patterns = set()
    for bg, shape, size, color in itertools.product(BACKGROUNDS, SHAPES, SIZES, PALETTE):
        r = radius_for(size, height, width)
        meta = {"num_frames": 1, "height": 2 * r, "width": 2 * r, "centers": [[[r, r]]],
                "objects": [{"shape": shape, "color": color, "radius": r}],
                "background": {"color": bg, "texture": "plain", "period": cell, "pan": [0, 0]}}
        frame = render_clip(meta)[0]
        for y, x in itertools.product(range(0, 2 * r, cell), repeat=2):
            patterns.add(frame[y:y + cell, x:x + cell].tobytes())
    for bg in BACKGROUNDS.values():
        patterns.add(np.broadcast_to(np.asarray(bg, np.uint8), (cell, cell, 3)).tobytes())
    return patterns
