# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""ShapesMotion scene geometry: where objects start and how they move.

Object centres on the pixel grid with boxes `gap` apart, spatial relations that hold
unambiguously, box corners on a lattice, and trajectories that bounce off the border.
Conventions as in `lumos_jax.data.shapes` (x right, y down, boxes with exclusive ends).
"""

import math

import numpy as np

# A moving scene travels in its stated direction for at least this fraction of
# the clip before any bounce, so the first half of a clip shows the direction.
_UNBOUNCED_FRACTION = 0.6
_MARGIN = 0  # pixels kept free at the image border


def _on_lattice(rng, lo, hi, step):
    """A random multiple of `step` in [lo, hi], or None if there is none."""
    first, last = -(-lo // step), hi // step
    return None if first > last else int(rng.integers(first, last + 1)) * step


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
                c = _relative_center(rng, relation, placed[1], radii, gap, width, height, lattice)
            else:
                r = radii[i]
                x0 = _on_lattice(rng, _MARGIN, width - 2 * r - _MARGIN, lattice)
                y0 = _on_lattice(rng, _MARGIN, height - 2 * r - _MARGIN, lattice)
                c = None if x0 is None or y0 is None else (x0 + r, y0 + r)
            if c is None or not _separated(
                c, radii[i], list(placed.values()), [radii[j] for j in placed], gap
            ):
                break
            placed[i] = c
        else:
            return np.asarray([placed[i] for i in range(len(radii))], np.int64)
    return None


def _relative_center(rng, relation, anchor, radii, gap, width, height, lattice=1):
    """Centre of object 0 standing `relation` to an anchor centre, or None if outside.
    Offsets keep box corners on the lattice when the anchor's are."""
    axis, sign = axis_sign(relation)
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
    axis, sign = axis_sign(motion)
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


def place_scene(rng, spec, radii, width, height, num_frames, scale, lattice):
    """(start centres [n, 2], motion, speed) of a scene spec's objects. A moving scene is
    laid out in a canvas shrunk by the room its first unbounced stretch needs; the layout
    falls back to slower motion, then static, if it does not fit. Box corners start on
    multiples of `lattice`."""
    gap = max(3, int(round(3 * scale)))
    unit = max(1, int(round(scale)))  # 1 px/frame at 64 px, scaled with the image
    if spec["motion"] == "static" or num_frames == 1:
        speeds = [0]
    else:  # 1 or 2 units; if that does not fit, 1 unit, then static
        speeds = [int(rng.integers(1, 3)) * unit, unit, 0]
    for speed in speeds:
        motion = spec["motion"] if speed else "static"
        need = speed * math.ceil(_UNBOUNCED_FRACTION * (num_frames - 1)) if speed else 0
        need = -(-need // lattice) * lattice  # keeps the shifted start on the lattice
        axis, sign = axis_sign(motion) if speed else (0, 1)
        size = [width, height]
        size[axis] -= need
        start = _place(rng, radii, spec.get("relation"), size[0], size[1], gap, lattice=lattice)
        if start is not None:
            if sign < 0:
                start[:, axis] += need  # room lies on the side it moves towards
            return start, motion, speed
    raise ValueError(f"cannot lay out {spec['objects']} in {width}x{height}; use a larger image")
