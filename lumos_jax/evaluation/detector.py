# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Exact object detector for ShapesMotion frames (no learned weights).

Pipeline per frame: estimate the background colour (median of pixels far from
every palette colour); label each pixel with the palette colour it is at least
half made of (a blend of background and that colour); 4-connected components
per colour; each reduced to the 8-px grid cells it covers and named by the
shape whose cell arrangement (shapes.SHAPE_CELLS) matches it best, if any
matches well enough (MIN_IOU). Ground-truth renders are recovered exactly
(boxes included); Gaussian noise (sigma 8) leaves the results unchanged.
"""

from typing import NamedTuple

import numpy as np
from scipy import ndimage

from lumos_jax.data import shapes

_COLOR_NAMES = tuple(shapes.PALETTE)
_PALETTE = np.asarray([shapes.PALETTE[c] for c in _COLOR_NAMES], np.float32)  # [K, 3]
_PALETTE_SQ = (_PALETTE * _PALETTE).sum(-1)  # [K]

MAX_COLOR_DIST = 55.0  # background shades are >= 95 from every palette colour
# A blob is an object when some shape's cell arrangement, slid over it, covers it at this
# intersection-over-union or better (the shape is the best such match). Every ground-truth
# object matches its own shape at 1.0 and the others at <= 0.64; one cell added to or
# missing from a shape still matches it at >= 0.88. Below 0.8: a lone stray cell (1/9 of
# the smallest shape), and every blob of two same-colour shapes touching (the best of the
# 136 ways matches some shape at 0.77, a square on a triangle read as a disc): two merged
# objects are neither one object nor two (tests/test_detector.py).
MIN_IOU = 0.8
_CELL = shapes.CELL


class Detection(NamedTuple):
    """One detected object. box = (x0, y0, x1, y1), exclusive ends, pixels;
    center = box centre (x, y) as GenEval uses; area = pixel count."""

    color: str
    shape: str
    box: tuple
    center: tuple
    area: int
    size: str


def background_color(image, max_color_dist=MAX_COLOR_DIST):
    """float [3]: per-channel median of pixels far from every palette colour.

    image: uint8 [H, W, 3]. Falls back to mid gray when no such pixel exists.
    """
    # Every other row and column: the median needs no more, and this runs per frame.
    pixels = np.asarray(image[::2, ::2], np.float32).reshape(-1, 3)
    d2 = (pixels * pixels).sum(-1, keepdims=True) - 2 * pixels @ _PALETTE.T + _PALETTE_SQ
    far = pixels[d2.min(-1) > max_color_dist**2]
    return np.median(far, axis=0) if len(far) else np.full(3, 128.0, np.float32)


def palette_labels(image, max_color_dist=MAX_COLOR_DIST):
    """int [H, W]: index into PALETTE order of the object colour each pixel is
    made of, -1 for background.

    A pixel is modelled as a blend x = b + a (p - b) of the background colour b
    and a palette colour p (what blur or anti-aliasing produce); it belongs to
    the p with the smallest off-line residual if a >= 0.5 and the residual is
    within `max_color_dist`. Thresholding at half coverage keeps a blurred
    object's outline where the sharp one was. image: uint8 [H, W, 3].
    """
    b = background_color(image, max_color_dist)
    x = np.asarray(image, np.float32) - b  # [H, W, 3]
    d = _PALETTE - b  # [K, 3]
    dd = np.maximum((d * d).sum(-1), 1.0)  # [K]
    alpha = (x @ d.T) / dd  # [H, W, K]
    resid2 = (x * x).sum(-1, keepdims=True) - alpha**2 * dd
    ok = (alpha >= 0.5) & (alpha <= 1.5) & (resid2 <= max_color_dist**2)
    resid2 = np.where(ok, resid2, np.inf)
    labels = np.argmin(resid2, axis=-1)
    return np.where(np.isfinite(resid2.min(-1)), labels, -1)


def foreground_mask(image, max_color_dist=MAX_COLOR_DIST):
    """bool [H, W]: pixels at least half made of some object colour."""
    return palette_labels(image, max_color_dist) >= 0


def cell_mask_of(crop, y0, x0):
    """bool [rows, cols] cells of the grid a pixel mask covers at least half of; crop is
    the mask's box at pixel (y0, x0) of the image. Returns (cells, top cell, left cell)."""
    r0, c0 = y0 // _CELL, x0 // _CELL
    r1, c1 = -(-(y0 + crop.shape[0]) // _CELL), -(-(x0 + crop.shape[1]) // _CELL)
    full = np.zeros(((r1 - r0) * _CELL, (c1 - c0) * _CELL), bool)
    full[y0 - r0 * _CELL : y0 - r0 * _CELL + crop.shape[0], x0 - c0 * _CELL :][
        :, : crop.shape[1]
    ] = crop
    cover = full.reshape(r1 - r0, _CELL, c1 - c0, _CELL).mean((1, 3))
    return cover >= 0.5, r0, c0


def _best_iou(cells, template):
    """Highest IoU of a bool cell template slid over every offset that overlaps `cells`."""
    h, w = cells.shape
    th, tw = template.shape
    padded = np.zeros((h + 2 * th, w + 2 * tw), bool)
    padded[th : th + h, tw : tw + w] = cells
    n_cells, n_t, best = int(cells.sum()), int(template.sum()), 0.0
    for dy in range(h + th + 1):
        for dx in range(w + tw + 1):
            inter = int((padded[dy : dy + th, dx : dx + tw] & template).sum())
            best = max(best, inter / (n_cells + n_t - inter))
    return best


def classify_cells(cells):
    """(shape, IoU) of the shape whose cell arrangement best matches bool [h, w] cells."""
    scores = {s: _best_iou(cells, shapes.cell_mask(s)) for s in shapes.SHAPES}
    shape = max(shapes.SHAPES, key=lambda s: scores[s])
    return shape, scores[shape]


def size_name(side, height, width):
    """The world has one size per shape (its cell arrangement)."""
    del side, height, width
    return shapes.SIZES[0]


def _components(labels):
    """Blobs [(area, colour index, (y0, y1, x0, x1), bool crop)] of a label map."""
    out = []
    for k in np.flatnonzero(np.bincount(labels.ravel() + 1, minlength=len(_PALETTE) + 1)[1:]):
        components, n = ndimage.label(labels == k)
        areas = np.bincount(components.ravel(), minlength=n + 1)
        for j, slc in enumerate(ndimage.find_objects(components), start=1):
            if slc is None:
                continue
            box = (slc[0].start, slc[0].stop, slc[1].start, slc[1].stop)
            out.append((int(areas[j]), int(k), box, components[slc] == j))
    return out


def detect(image, max_color_dist=MAX_COLOR_DIST, min_iou=MIN_IOU, labels=None):
    """Objects in one RGB frame, largest first.

    image: uint8 [H, W, 3]; labels: optional precomputed palette_labels(image).
    Each 4-connected blob of one palette colour is reduced to the grid cells it covers
    (>= half of a cell) and named by the best-matching shape arrangement; blobs matching
    none at `min_iou` are dropped. Returns list[Detection].
    """
    h, w = image.shape[:2]
    if labels is None:
        labels = palette_labels(image, max_color_dist)
    found = []
    for area, k, (y0, y1, x0, x1), crop in sorted(_components(labels), key=lambda c: -c[0]):
        cells, _, _ = cell_mask_of(crop, y0, x0)
        if not cells.any():
            continue
        shape, iou = classify_cells(cells)
        if iou < min_iou:
            continue
        found.append(
            Detection(
                color=_COLOR_NAMES[k],
                shape=shape,
                box=(int(x0), int(y0), int(x1), int(y1)),
                center=((x0 + x1) / 2.0, (y0 + y1) / 2.0),
                area=area,
                size=size_name(max(x1 - x0, y1 - y0), h, w),
            )
        )
    return found


def expected_objects(meta, frame=0):
    """Ground-truth (color, shape, box, size) tuples of one frame of a scene's metadata."""
    return [
        (o["color"], o["shape"], tuple(meta["boxes"][frame][i]), o["size"])
        for i, o in enumerate(meta["objects"])
    ]


def find(detections, shape=None, color=None):
    """Detections matching an optional shape and colour, largest first."""
    return [
        d
        for d in detections
        if (shape is None or d.shape == shape) and (color is None or d.color == color)
    ]
