# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""ShapesMotion scene geometry on the token grid: where objects start and how they move.

Everything here is in *cells* (one cell = one 8x8 px token of the 4x8x8 tokenizer): object
boxes are whole cells, at least `gap` cells apart, spatial relations hold unambiguously
under GenEval's rule, and a moving group steps one cell per latent frame (pixel frame 0
alone, then each group of 4 frames still), bouncing off the border. Conventions as in
`lumos_jax.data.shapes`: x right, y down, boxes (x0, y0, x1, y1) with exclusive ends.
"""

import math

import numpy as np

# A moving scene travels in its stated direction for at least this fraction of its
# latent steps before any bounce, so the first half of a clip shows the direction.
_UNBOUNCED_FRACTION = 0.6
# Relations: the off-axis centre offset is at most this fraction of the on-axis one, so
# GenEval's rule (offset shrunk by 0.1 x the box sizes, then a > 0.5 share) holds.
_MAX_ACROSS = 0.3


def axis_sign(direction):
    """(axis, sign) of a motion or relation word; axis 0 is x, 1 is y."""
    return {
        "left": (0, -1),
        "left of": (0, -1),
        "right": (0, 1),
        "right of": (0, 1),
        "up": (1, -1),
        "above": (1, -1),
        "down": (1, 1),
        "below": (1, 1),
    }[direction]


def latent_index(frame, temporal=4):
    """Latent frame holding pixel frame `frame` of a causal tokenizer (frame 0 alone)."""
    return 0 if frame == 0 else (frame - 1) // temporal + 1


def box_of(corner, size):
    """(x0, y0, x1, y1) of a box with top-left `corner` (x, y) and `size` (w, h)."""
    return (corner[0], corner[1], corner[0] + size[0], corner[1] + size[1])


def _apart(a, b, gap):
    """Whether boxes a and b leave at least `gap` empty cells between them on some axis."""
    return max(b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3]) >= gap


def _relation_holds(a, b, relation, gap):
    """Box a stands `relation` to box b: wholly on that side, >= gap apart, and the
    off-axis centre offset <= _MAX_ACROSS of the on-axis one."""
    axis, sign = axis_sign(relation)
    along = sign * ((a[axis] + a[axis + 2]) - (b[axis] + b[axis + 2])) / 2
    across = abs((a[1 - axis] + a[3 - axis]) - (b[1 - axis] + b[3 - axis])) / 2
    lo, hi = (b[axis + 2], a[axis]) if sign > 0 else (a[axis + 2], b[axis])
    return hi - lo >= gap and along > 0 and across <= _MAX_ACROSS * along


def _corners(size, width, height):
    """Every top-left corner (x, y) keeping a box of `size` inside width x height."""
    xs, ys = np.arange(width - size[0] + 1), np.arange(height - size[1] + 1)
    return [(int(x), int(y)) for y in ys for x in xs]


def _place(rng, sizes, relation, width, height, gap, tries=200):
    """Top-left corners [n, 2] (x, y) of boxes of `sizes` [(w, h)] inside a width x height
    canvas, every pair `gap` apart; box 0 stands `relation` to box 1 if given (chosen
    among all corners where it holds). None when no layout was found."""
    if any(w > width or h > height for w, h in sizes):
        return None
    order = list(range(1, len(sizes))) + [0] if relation else list(range(len(sizes)))
    for _ in range(tries):
        boxes = {}
        for i in order:
            options = _corners(sizes[i], width, height)
            if relation and i == 0:
                options = [
                    c
                    for c in options
                    if _relation_holds(box_of(c, sizes[0]), boxes[1], relation, gap)
                ]
            options = [
                c
                for c in options
                if all(_apart(box_of(c, sizes[i]), b, gap) for b in boxes.values())
            ]
            if not options:
                break
            boxes[i] = box_of(options[rng.integers(len(options))], sizes[i])
        else:
            return np.asarray([boxes[i][:2] for i in range(len(sizes))], np.int64)
    return None


def trajectory(start, sizes, motion, steps, width, height):
    """Top-left corners [steps + 1, n, 2] of a rigid group moving one cell per latent step
    in `motion`, reversing where the group's box meets the border."""
    start = np.asarray(start, np.int64)
    corners = np.repeat(start[None], steps + 1, axis=0)
    if motion == "static":
        return corners
    axis, sign = axis_sign(motion)
    extent = width if axis == 0 else height
    size = np.asarray(sizes)[:, axis]
    lo = -int(np.min(start[:, axis]))  # most negative offset keeping the group inside
    hi = extent - int(np.max(start[:, axis] + size))
    offset, velocity = 0, sign
    for t in range(1, steps + 1):
        if not lo <= offset + velocity <= hi:
            velocity = -velocity
        offset += velocity
        corners[t, :, axis] += offset
    return corners


def place_scene(rng, spec, sizes, width, height, latent_steps, gap=1):
    """(start corners [n, 2], motion) of a scene spec's objects on a width x height cell
    grid. A moving scene is laid out in a canvas shrunk by the room its unbounced stretch
    needs, on the side it moves away from; if that does not fit it becomes static."""
    motions = [spec["motion"], "static"] if spec["motion"] != "static" and latent_steps else []
    for motion in motions or ["static"]:
        need = math.ceil(_UNBOUNCED_FRACTION * latent_steps) if motion != "static" else 0
        axis, sign = axis_sign(motion) if motion != "static" else (0, 1)
        size = [width, height]
        size[axis] -= need
        start = _place(rng, sizes, spec.get("relation"), size[0], size[1], gap)
        if start is not None:
            if sign < 0:
                start[:, axis] += need  # the free room lies on the side it moves towards
            return start, motion
    raise ValueError(
        f"cannot lay out {spec['objects']} on {width}x{height} cells; use a larger image"
    )
