# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The palette detector on the token grid: exact on ground truth (every evaluator prompt
included), stable under noise, and blind to strays, shapeless blobs and merged objects.

Expected values come from the scene metadata, hand-drawn cell masks and a separate
set-based IoU below, never from the detector itself."""

import itertools
from fractions import Fraction

import numpy as np
import pytest

from lumos_jax.data import shapes
from lumos_jax.evaluation import detector, geneval, vbench

CELL = 8
# Drawn by hand, as in test_shapes: "#" = object cell.
HAND = {
    "square": ("###", "###", "###"),
    "circle": (".###.", "#####", "#####", "#####", ".###."),
    "triangle": ("..#..", ".###.", "#####"),
}


def _cells(rows):
    """{(row, col)} of the "#" cells of a hand drawing."""
    return {(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch == "#"}


def _reference_iou(blob, template):
    """Best IoU of `template` cells slid over every offset against `blob` cells (sets)."""
    best = Fraction(0)
    rows = [r for r, _ in blob] + [r for r, _ in template]
    cols = [c for _, c in blob] + [c for _, c in template]
    for dy in range(-max(rows) - 1, max(rows) + 2):
        for dx in range(-max(cols) - 1, max(cols) + 2):
            moved = {(r + dy, c + dx) for r, c in template}
            inter = len(moved & blob)
            best = max(best, Fraction(inter, len(blob | moved)))
    return best


def _reference_names(blob):
    """The shapes a blob of cells is named by (all best ones where they tie), or {} if
    none matches at MIN_IOU."""
    scores = {s: _reference_iou(blob, _cells(HAND[s])) for s in HAND}
    best = max(scores.values())
    return {s for s, v in scores.items() if v == best} if best >= detector.MIN_IOU else set()


def _paint(cells, color="red", bg="gray", size=96):
    """uint8 [size, size, 3]: a plain background with the given cells {(row, col)} painted
    in one palette colour (cells may be several colours: {(row, col): colour})."""
    image = np.empty((size, size, 3), np.uint8)
    image[:] = shapes.BACKGROUNDS[bg]
    if not isinstance(cells, dict):
        cells = {rc: color for rc in cells}
    for (r, c), name in cells.items():
        image[r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL] = shapes.PALETTE[name]
    return image


def _at(shape, row, col):
    """Cells of a hand-drawn shape with its box's top-left cell at (row, col)."""
    return {(r + row, c + col) for r, c in _cells(HAND[shape])}


def _noisy(video, seed, sigma=8.0):
    x = np.asarray(video, np.float32)
    x = x + np.random.default_rng(seed).normal(0.0, sigma, x.shape)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _found(dets):
    return sorted((d.color, d.shape, d.box, d.size) for d in dets)


def _expected(meta, t):
    """(colour, shape, pixel box, size) of every object of frame t, from the metadata."""
    return sorted(
        (o["color"], o["shape"], tuple(meta["boxes"][t][i]), "regular")
        for i, o in enumerate(meta["objects"])
    )


def _check_frame(frame, meta, t):
    dets = detector.detect(frame)
    assert _found(dets) == _expected(meta, t), (meta.get("id"), t)
    for d in dets:
        x0, y0, x1, y1 = d.box
        assert d.center == ((x0 + x1) / 2, (y0 + y1) / 2)
        assert [d.center[0], d.center[1]] in np.asarray(meta["centers"][t], float).tolist()
        assert d.area == len(_cells(HAND[d.shape])) * CELL * CELL
    assert [d.area for d in dets] == sorted((d.area for d in dets), reverse=True)


# ------------------------------------------------------------------ exact on ground truth


def test_exact_on_random_renders_of_every_split_and_frame():
    metas = [shapes.sample_meta(i % 5, shapes.SPLITS[i % 3], i) for i in range(45)]
    metas += [shapes.sample_meta(7, shapes.SPLITS[i % 3], i, num_frames=1) for i in range(30)]
    metas += [shapes.sample_meta(3, "train", i, height=96, width=128) for i in range(6)]
    assert {m["kind"] for m in metas} == set(shapes.KINDS)
    for meta in metas:
        video = shapes.render_clip(meta)
        for t in range(meta["num_frames"]):
            _check_frame(video[t], meta, t)


def test_exact_on_every_geneval_reference_image():
    n = 0
    for split in ("validation", "holdout"):
        for prompt in geneval.make_prompts(split, per_task=24):
            image = geneval.reference_image(prompt)
            # The reference render's metadata, drawn as reference_image draws it (checked).
            meta = shapes.build_meta(np.random.default_rng([0, 11]), prompt["spec"], num_frames=1)
            assert np.array_equal(shapes.render_clip(meta)[0], image), prompt["prompt"]
            _check_frame(image, meta, 0)
            n += 1
    assert n == 136 + 88  # 20 + 20 + 4 x 24 validation prompts; 4 + 4 + 8 + 3 x 24 hold-out


def test_exact_on_every_frame_of_every_vbench_prompt():
    for split in ("validation", "holdout"):
        metas = vbench.make_prompts(split, 64)
        assert len(metas) == 64 and all(m["split"] == split for m in metas)
        for meta in metas:
            video = shapes.render_clip(meta)
            assert video.shape == (9, 96, 96, 3)
            for t in range(9):
                _check_frame(video[t], meta, t)


def test_gaussian_noise_sigma_8_keeps_detections_exact():
    metas = [shapes.sample_meta(1, shapes.SPLITS[i % 3], i) for i in range(30)]
    for k, meta in enumerate(metas):
        video = _noisy(shapes.render_clip(meta), k)
        assert np.abs(video.astype(int) - shapes.render_clip(meta)).max() > 24  # real noise
        for t in (0, 1, 5, 8):
            assert _found(detector.detect(video[t])) == _expected(meta, t), (meta["id"], t)


def test_every_colour_on_every_background_is_labelled_exactly():
    for bg in shapes.BACKGROUNDS:
        image = _paint(
            {(r + 2, c): color for r, color in enumerate(shapes.PALETTE) for c in (2, 3)}, bg=bg
        )
        labels = detector.palette_labels(image)
        expected = np.full((12, 12), -1)
        for r, color in enumerate(shapes.PALETTE):
            expected[r + 2, 2:4] = list(shapes.PALETTE).index(color)
        assert np.array_equal(labels, expected.repeat(CELL, 0).repeat(CELL, 1)), bg
        assert np.allclose(detector.background_color(image), shapes.BACKGROUNDS[bg])


# ------------------------------------------------------------------ what is not an object


def test_plain_backgrounds_and_noise_give_no_detection():
    for bg in shapes.BACKGROUNDS:
        assert detector.detect(_noisy(_paint(set(), bg=bg), 0)) == []
    noise = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    assert detector.detect(noise) == []


def test_a_lone_stray_cell_is_no_object():
    # One cell against a 9-cell shape: IoU <= 1/9 (square, triangle), 1/21 (circle).
    for bg in shapes.BACKGROUNDS:
        for r, c in ((0, 0), (5, 7), (11, 11)):
            assert detector.detect(_paint({(r, c)}, "blue", bg)) == []
    # Beside a real object, a stray cell of its colour (not touching it) or of another
    # colour (touching it) changes nothing.
    square = _at("square", 2, 2)
    for strays in ({(8, 8): "red"}, {(2, 5): "green"}, {(1, 2): "cyan", (9, 0): "red"}):
        dets = detector.detect(_paint({**{rc: "red" for rc in square}, **strays}))
        assert [(d.color, d.shape, d.box) for d in dets] == [("red", "square", (16, 16, 40, 40))]
    # A stray pixel, even in a cell of its own, is nothing.
    image = _paint(set())
    image[50, 50] = shapes.PALETTE["red"]
    assert detector.detect(image) == []


# Blobs that match no shape: best IoU per shape, by hand (all below MIN_IOU = 0.8).
#   2x2 block (4 cells): square 4/9; triangle 4/9 (its rows 1-2, columns 1-2); circle 4/21.
#   12-cell line: square 3/(12 + 9 - 3) = 3/18; triangle 5/16 (its base); circle 5/28.
#   L of 5 cells down and 4 across the foot (9 cells): square 5/13 (the corner: 3 + 2);
#     triangle 5/13 (its base on the foot); circle 7/23 (the left column's 4 + the foot's 3).
#   a diagonal of 6 cells: every cell its own 4-connected blob (a lone cell, 1/9).
_SHAPELESS = {
    "2x2 block": ({(r, c) for r in (4, 5) for c in (4, 5)}, (4, 9), (4, 21), (4, 9)),
    "12-cell line": ({(6, c) for c in range(12)}, (3, 18), (5, 28), (5, 16)),
    "L": (
        {(r, 1) for r in range(5, 10)} | {(9, c) for c in range(2, 6)},
        (5, 13),
        (7, 23),
        (5, 13),
    ),
    "diagonal": ({(i, i + 2) for i in range(6)}, None, None, None),
}


@pytest.mark.parametrize("name", sorted(_SHAPELESS))
def test_a_blob_matching_no_shape_is_no_object(name):
    blob, *by_hand = _SHAPELESS[name]
    if by_hand[0]:
        for shape, iou in zip(("square", "circle", "triangle"), by_hand):
            assert _reference_iou(blob, _cells(HAND[shape])) == Fraction(*iou), (name, shape)
        assert _reference_names(blob) == set()
    for bg in shapes.BACKGROUNDS:
        assert detector.detect(_paint(blob, "purple", bg)) == [], (name, bg)


def test_two_touching_objects_of_one_colour_are_not_counted_as_two():
    """A merged blob is one detection at most. Where the detector names it, the name and
    box are what a separate IoU over the hand-drawn masks gives: e.g. two squares side by
    side (a 6x3 block) match the disc's middle rows best, 15 / (18 + 21 - 15) = 0.625, a
    square beside a disc matches the disc at 21/30 (so such a blob reads as one object)."""
    cases = {
        "two squares side by side": _at("square", 2, 2) | _at("square", 2, 5),
        "two squares stacked": _at("square", 2, 2) | _at("square", 5, 2),
        "two discs side by side": _at("circle", 1, 1) | _at("circle", 1, 6),
        "disc and square": _at("circle", 1, 1) | _at("square", 2, 6),
        "square on a triangle": _at("square", 1, 4) | _at("triangle", 4, 3),
        "two triangles side by side": _at("triangle", 4, 0) | _at("triangle", 4, 5),
    }
    for name, blob in cases.items():
        assert len(blob) > 9  # the pieces did not overlap away
        dets = detector.detect(_paint(blob, "orange", "black"))
        assert len(dets) <= 1, name
        assert all(d.color == "orange" and d.shape in _reference_names(blob) for d in dets), name
        rows, cols = [r for r, _ in blob], [c for _, c in blob]
        box = (min(cols) * CELL, min(rows) * CELL, (max(cols) + 1) * CELL, (max(rows) + 1) * CELL)
        assert all(d.box == box and d.area == len(blob) * 64 for d in dets), name
    side_by_side = cases["two squares side by side"]
    assert _reference_iou(side_by_side, _cells(HAND["circle"])) == Fraction(15, 24)
    # Touching objects of two colours are two blobs, two objects.
    two_colours = {rc: "red" for rc in _at("square", 2, 2)} | {
        rc: "blue" for rc in _at("square", 2, 5)
    }
    dets = detector.detect(_paint(two_colours))
    assert sorted((d.color, d.shape, d.box) for d in dets) == [
        ("blue", "square", (40, 16, 64, 40)),
        ("red", "square", (16, 16, 40, 40)),
    ]
    # The same pairs a cell apart are two objects each.
    apart = _at("square", 2, 2) | _at("square", 2, 6)
    assert [d.shape for d in detector.detect(_paint(apart))] == ["square", "square"]
    apart = _at("circle", 1, 0) | _at("circle", 1, 6)
    assert [d.shape for d in detector.detect(_paint(apart))] == ["circle", "circle"]


def test_cross_iou_table_between_the_three_shapes():
    # By hand (cells: square 9, circle 21, triangle 9; IoU = I / (A + B - I)):
    #   circle-square: the 3x3 block fits inside the disc: I = 9, 9 / (21 + 9 - 9) = 9/21
    #   square-triangle: the block over the triangle's middle 3 columns covers
    #     1 + 3 + 3 = 7 cells: 7 / (9 + 9 - 7) = 7/11 (= 0.636)
    #   circle-triangle: the triangle fits in the disc's top 3 rows (.###. holds ..#..):
    #     I = 9, 9 / (21 + 9 - 9) = 9/21 (= 0.429)
    #   every shape against itself: 1.
    table = {
        ("circle", "square"): Fraction(9, 21),
        ("square", "triangle"): Fraction(7, 11),
        ("circle", "triangle"): Fraction(9, 21),
    }
    for a, b in itertools.product(shapes.SHAPES, repeat=2):
        expected = Fraction(1) if a == b else table[tuple(sorted((a, b)))]
        assert _reference_iou(_cells(HAND[a]), _cells(HAND[b])) == expected, (a, b)
        got = detector._best_iou(shapes.cell_mask(a), shapes.cell_mask(b))
        assert got == pytest.approx(float(expected), abs=1e-12), (a, b)
    for shape in shapes.SHAPES:
        assert detector.classify_cells(shapes.cell_mask(shape)) == (shape, 1.0)
    # A lone cell (1/9 at best) is below the threshold; a whole shape (1) is not.
    assert Fraction(1, 9) < detector.MIN_IOU <= 1


# ------------------------------------------------------------------ find


def test_find_filters_and_orders_by_area():
    # A disc (21 cells), then a square and a triangle (9 each) of two colours.
    scene = {rc: "green" for rc in _at("circle", 0, 0)}
    scene |= {rc: "green" for rc in _at("square", 0, 8)}
    scene |= {rc: "blue" for rc in _at("triangle", 8, 0)}
    scene |= {rc: "blue" for rc in _at("square", 7, 7)}
    dets = detector.detect(_paint(scene, bg="white"))
    assert [d.area for d in dets] == [21 * 64, 9 * 64, 9 * 64, 9 * 64]
    assert dets[0][:3] == ("green", "circle", (0, 0, 40, 40))
    squares = detector.find(dets, shape="square")  # equal areas: any order
    assert sorted(d.box for d in squares) == [(56, 56, 80, 80), (64, 0, 88, 24)]
    assert {(d.color, d.shape) for d in dets[1:]} == {
        ("green", "square"),
        ("blue", "square"),
        ("blue", "triangle"),
    }
    assert [(d.color, d.shape) for d in detector.find(dets, color="green")] == [
        ("green", "circle"),
        ("green", "square"),
    ]
    assert [d.box for d in detector.find(dets, shape="square", color="blue")] == [(56, 56, 80, 80)]
    assert detector.find(dets, shape="triangle", color="green") == []
    assert detector.find(dets) == dets


def test_every_pair_of_touching_same_colour_shapes_is_no_object():
    """MIN_IOU = 0.8 is above the best match of any two touching shapes (0.77): such a
    blob counts as no object, never as a third shape (e.g. two squares as a disc)."""
    for a in shapes.SHAPES:
        for b in shapes.SHAPES:
            ha, wa = shapes.cell_mask(a).shape
            for dr in range(-shapes.cell_mask(b).shape[0], ha + 1):
                for dc in range(-shapes.cell_mask(b).shape[1], wa + 1):
                    first, second = _at(a, 5, 5), _at(b, 5 + dr, 5 + dc)
                    blob = first | second
                    touching = any(
                        abs(r1 - r2) + abs(c1 - c2) == 1 for r1, c1 in first for r2, c2 in second
                    )
                    inside = all(0 <= r < 12 and 0 <= c < 12 for r, c in blob)
                    if first & second or not touching or not inside:
                        continue
                    assert detector.detect(_paint(blob, "orange", "black")) == [], (a, b, dr, dc)
