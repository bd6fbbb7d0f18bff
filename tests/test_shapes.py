# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""ShapesMotion on the token grid: generator, layout, motion, captions and TFDS builder.

Expected values come from hand-drawn cell masks, a separate cell-by-cell renderer and a
separate bounce simulation below, never from the module under test.
"""

import itertools
import json
import math
import re

import numpy as np
import pytest

from lumos_jax.data import shapes, shapes_layout
from lumos_jax.evaluation import geneval

CELL = 8  # px per cell, as the design fixes it (one token of the 4x8x8 tokenizer)
# The shapes drawn by hand, 1 = object cell (rows top to bottom).
HAND_MASKS = {
    "square": [
        [1, 1, 1],
        [1, 1, 1],
        [1, 1, 1],
    ],
    "circle": [
        [0, 1, 1, 1, 0],
        [1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1],
        [0, 1, 1, 1, 0],
    ],
    "triangle": [
        [0, 0, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [1, 1, 1, 1, 1],
    ],
}
COLORS = {
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
DIRECTIONS = {"left": (0, -1), "right": (0, 1), "up": (1, -1), "down": (1, 1)}


def _metas(n, split="train", seed=0, **kw):
    return [shapes.sample_meta(seed, split, i, **kw) for i in range(n)]


def _latent_starts(num_frames):
    """First pixel frame of each latent frame: 0, then 1, 5, 9, ..."""
    return [0] + list(range(1, num_frames, 4))


def _reference_render(meta):
    """uint8 [F, H, W, 3] drawn cell by cell from HAND_MASKS (a separate renderer)."""
    f, h, w = meta["num_frames"], meta["height"], meta["width"]
    cells = np.empty((f, h // CELL, w // CELL, 3), np.uint8)
    cells[:] = BACKGROUNDS[meta["background"]["color"]]
    for t in range(f):
        for obj, (x0, y0, x1, y1) in zip(meta["objects"], meta["boxes"][t]):
            mask = HAND_MASKS[obj["shape"]]
            assert (x1 - x0, y1 - y0) == (len(mask[0]) * CELL, len(mask) * CELL)
            assert x0 % CELL == 0 and y0 % CELL == 0
            for r, row in enumerate(mask):
                for c, on in enumerate(row):
                    if on:
                        cells[t, y0 // CELL + r, x0 // CELL + c] = COLORS[obj["color"]]
    return cells.repeat(CELL, axis=1).repeat(CELL, axis=2)


# ------------------------------------------------------------------ records


def test_examples_are_deterministic_and_independent():
    a = [shapes.generate_example(3, "train", i) for i in (5, 1, 9)]
    b = [shapes.generate_example(3, "train", i) for i in (9, 5, 1)]
    for x, y in zip(a, [b[1], b[2], b[0]]):
        assert np.array_equal(x["video"], y["video"])
        assert x["metadata"] == y["metadata"] and x["id"] == y["id"]
    # Another seed, split or index gives another example; the same triple the same one.
    assert shapes.generate_example(4, "train", 5)["metadata"] != a[0]["metadata"]
    assert shapes.generate_example(3, "validation", 5)["metadata"] != a[0]["metadata"]
    assert shapes.generate_example(3, "train", 6)["metadata"] != a[0]["metadata"]
    assert shapes.record_id(3, "train", 5) == a[0]["id"] == "shapes_motion-3-train-00000005"
    assert json.loads(a[0]["metadata"])["index"] == 5


def test_record_fields_and_json_metadata_rerenders_the_clip():
    for split, index in (("validation", 7), ("train", 0), ("holdout", 3)):
        ex = shapes.generate_example(0, split, index)
        assert ex["video"].shape == (9, 96, 96, 3) and ex["video"].dtype == np.uint8
        assert ex["num_frames"] == 9 and ex["fps"] == 8
        meta = json.loads(ex["metadata"])
        assert meta["caption"] == ex["caption"] and meta["split"] == split
        assert meta["id"] == ex["id"] and (meta["height"], meta["width"]) == (96, 96)
        assert np.array_equal(shapes.render_clip(meta), ex["video"])
        assert np.array_equal(_reference_render(meta), ex["video"])


def test_the_clip_matches_a_separate_cell_renderer():
    metas = _metas(40, "train", seed=11) + _metas(15, "validation") + _metas(15, "holdout")
    metas += _metas(10, "train", seed=4, num_frames=17, height=96, width=128)
    for meta in metas:
        assert np.array_equal(shapes.render_clip(meta), _reference_render(meta)), meta["id"]


def test_images_are_one_frame():
    for meta in _metas(30, num_frames=1) + _metas(10, "holdout", num_frames=1):
        assert meta["num_frames"] == 1 and meta["fps"] == 1 and meta["motion"] == "static"
        assert meta["speed"] == 0 and np.asarray(meta["boxes"]).shape[0] == 1
        assert shapes.render_clip(meta).shape == (1, 96, 96, 3)
        assert not re.search(r" (moves?|moving) ", meta["caption"] + " ")
    spec = shapes.sample_spec(np.random.default_rng(0), "train", num_frames=9)
    spec["motion"] = "left"
    meta = shapes.build_meta(np.random.default_rng(0), spec, num_frames=1)
    assert meta["motion"] == "static" and not meta["caption"].endswith("left")


def test_holdout_pairs_never_in_train_or_validation():
    for split in ("train", "validation"):
        for meta in _metas(300, split):
            pairs = {(o["color"], o["shape"]) for o in meta["objects"]}
            assert not pairs & shapes.HOLDOUT_PAIRS, meta["caption"]
    seen = set()
    for meta in _metas(150, "holdout") + _metas(50, "holdout", seed=5, num_frames=1):
        pairs = [(o["color"], o["shape"]) for o in meta["objects"]]
        assert pairs[0] in shapes.HOLDOUT_PAIRS, meta["caption"]
        seen.add(pairs[0])
    assert seen == shapes.HOLDOUT_PAIRS  # every held-out pair is shown
    assert all(c in COLORS and s in HAND_MASKS for c, s in shapes.HOLDOUT_PAIRS)
    with pytest.raises(ValueError, match="split"):
        shapes.sample_meta(0, "test", 0)


def test_tokenizer_clips_are_train_examples():
    clips = shapes.tokenizer_clips(3, 9, 96, 96, seed=2)
    for i, clip in enumerate(clips):
        assert np.array_equal(clip, shapes.generate_example(2, "train", i)["video"])


# ------------------------------------------------------------------ colours and cells


def test_palette_and_backgrounds_are_the_eleven_separated_colours():
    assert shapes.PALETTE == COLORS and shapes.BACKGROUNDS == BACKGROUNDS
    pal = np.array(list(COLORS.values()), float)
    for a, b in itertools.combinations(pal, 2):
        assert np.linalg.norm(a - b) >= 95
    for bg in BACKGROUNDS.values():
        assert np.linalg.norm(pal - np.array(bg), axis=1).min() >= 95
    assert len({*COLORS.values(), *BACKGROUNDS.values()}) == 11


def test_every_cell_is_solid_and_each_latent_frame_is_still():
    """The "tokens factorise" property: every 8x8 cell of every frame is one of the 11
    colours, and frames 1-4 (and 5-8, ...) of a clip are identical."""
    allowed = {*COLORS.values(), *BACKGROUNDS.values()}
    metas = _metas(60, "train", seed=3) + _metas(20, "validation") + _metas(20, "holdout")
    metas += _metas(10, "train", seed=8, num_frames=17)
    for meta in metas:
        video = shapes.render_clip(meta)
        f, h, w, _ = video.shape
        cells = video.reshape(f, h // CELL, CELL, w // CELL, CELL, 3)
        corner = cells[:, :, :1, :, :1]  # each cell's top-left pixel
        assert (cells == corner).all(), meta["id"]  # solid cells
        assert {tuple(c) for c in corner.reshape(-1, 3).tolist()} <= allowed
        bg = np.asarray(BACKGROUNDS[meta["background"]["color"]])
        for t in range(1, f):
            if (t - 1) % 4:  # not the first frame of its latent group
                assert np.array_equal(video[t], video[t - 1]), (meta["id"], t)
        # Objects never overlap: the background covers all but their hand-counted cells.
        covered = sum(np.sum(HAND_MASKS[o["shape"]]) for o in meta["objects"])
        assert (corner == bg).all(-1).sum() == f * ((h // CELL) * (w // CELL) - covered)


def test_cell_masks_as_drawn_by_hand():
    assert shapes.SHAPES == ("circle", "square", "triangle") and shapes.SIZES == ("regular",)
    sizes = {"square": (3, 3), "circle": (5, 5), "triangle": (5, 3)}  # (w, h) cells
    counts = {"square": 9, "circle": 21, "triangle": 9}
    for shape, hand in HAND_MASKS.items():
        mask = shapes.cell_mask(shape)
        assert mask.dtype == bool and np.array_equal(mask, np.asarray(hand, bool)), shape
        assert shapes.cell_size(shape) == sizes[shape] and mask.sum() == counts[shape]
        # Touches all four sides of its box: the box is the shape's extent.
        assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()
        pixels = shapes.pixel_mask(shape)
        assert pixels.shape == (len(hand) * CELL, len(hand[0]) * CELL)
        for y, x in itertools.product(range(pixels.shape[0]), range(pixels.shape[1])):
            assert pixels[y, x] == bool(hand[y // CELL][x // CELL])
        with pytest.raises(ValueError):
            mask[0, 0] = not mask[0, 0]  # shared, read-only
    with pytest.raises(ValueError, match="unknown shape"):
        shapes.cell_mask("star")


def test_geometry_must_be_whole_cells_and_latent_frames():
    assert shapes.grid_size(96, 128) == (16, 12)
    with pytest.raises(ValueError, match="8-px cells"):
        shapes.sample_meta(0, "train", 0, height=100, width=96)
    with pytest.raises(ValueError, match="num_frames"):
        shapes.sample_meta(0, "train", 0, num_frames=8)
    assert [shapes_layout.latent_index(t) for t in range(13)] == [0] + [1] * 4 + [2] * 4 + [3] * 4


# ------------------------------------------------------------------ layout and motion


def _gap_cells(a, b):
    """Empty cells between two pixel boxes along the axis where they are furthest apart."""
    return max(b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3]) // CELL


def _check_layout(meta):
    h, w, f = meta["height"], meta["width"], meta["num_frames"]
    boxes = np.asarray(meta["boxes"])  # [F, n, 4] pixels
    assert boxes.shape == (f, meta["count"], 4) and meta["count"] == len(meta["objects"])
    assert (boxes % CELL == 0).all()  # whole cells
    assert (boxes[..., :2] >= 0).all() and (boxes[..., 2] <= w).all() and (boxes[..., 3] <= h).all()
    centers = np.asarray(meta["centers"])
    assert np.array_equal(centers * 2, boxes[..., :2] + boxes[..., 2:])
    for i, obj in enumerate(meta["objects"]):
        hand = HAND_MASKS[obj["shape"]]
        assert obj["size"] == "regular" and obj["color"] in COLORS
        assert (boxes[:, i, 2:] - boxes[:, i, :2] == [len(hand[0]) * CELL, len(hand) * CELL]).all()
    for t in range(f):
        for i, j in itertools.combinations(range(meta["count"]), 2):
            assert _gap_cells(boxes[t, i], boxes[t, j]) >= 1, (meta["caption"], t)
        if meta["relation"]:
            assert geneval.relative_position(boxes[t, 0], boxes[t, 1]) == {meta["relation"]}
    pairs = [(o["color"], o["shape"]) for o in meta["objects"]]
    if meta["kind"] == "count":
        assert meta["count"] in (2, 3) and len(set(pairs)) == 1
    elif meta["kind"] in ("pair", "relation"):
        assert meta["count"] == 2 and pairs[0] != pairs[1]
    else:
        assert meta["count"] == 1


def _simulate(start, motion, steps, w, h):
    """Top-left cells [steps + 1, n, 2] of a rigid group of boxes [n, 4] (cells) starting
    at `start`: one cell per latent step, turning back where the next step would leave."""
    axis, sign = DIRECTIONS[motion]
    extent = (w, h)[axis]
    lo, hi = start[:, axis].min(), start[:, axis + 2].max()  # the group's extent
    out, offset, v = [start[:, :2].copy()], 0, sign
    for _ in range(steps):
        if not (0 <= lo + offset + v and hi + offset + v <= extent):
            v = -v
        offset += v
        corner = start[:, :2].copy()
        corner[:, axis] += offset
        out.append(corner)
    return np.stack(out)


def _check_motion(meta):
    f = meta["num_frames"]
    boxes = np.asarray(meta["boxes"]) // CELL  # cells
    starts = _latent_starts(f)
    for a, b in zip(starts[1:], starts[2:] + [f]):  # still within a latent frame
        assert (boxes[a:b] == boxes[a]).all(), meta["caption"]
    latent = boxes[starts]  # [L, n, 4]
    steps = np.diff(latent[..., :2], axis=0)  # [L - 1, n, 2] cells per latent frame
    if meta["motion"] == "static":
        assert meta["speed"] == 0 and not steps.any()
        return
    assert meta["speed"] == CELL
    axis, sign = DIRECTIONS[meta["motion"]]
    assert (steps == steps[:, :1]).all()  # a rigid group
    assert not steps[..., 1 - axis].any() and (np.abs(steps[..., axis]) == 1).all()
    unbounced = math.ceil(0.6 * (len(starts) - 1))
    assert (steps[:unbounced, 0, axis] == sign).all(), meta["caption"]
    expected = _simulate(
        latent[0], meta["motion"], len(starts) - 1, *shapes.grid_size(meta["height"], meta["width"])
    )
    assert np.array_equal(latent[..., :2], expected), meta["caption"]


def test_layouts_motion_and_relations_hold_for_many_scenes():
    metas = _metas(150, "train", seed=1) + _metas(50, "holdout", seed=2, num_frames=25)
    metas += _metas(50, "validation", seed=3) + _metas(30, "train", seed=4, num_frames=17)
    metas += _metas(20, "validation", height=96, width=128)
    assert {m["kind"] for m in metas} == set(shapes.KINDS)
    assert {m["motion"] for m in metas} == set(shapes.MOTIONS)
    assert {m["relation"] for m in metas} == {None, *shapes.RELATIONS}
    for meta in metas:
        _check_layout(meta)
        _check_motion(meta)
    # 9 frames = 3 latent frames: the unbounced stretch (ceil(0.6 x 2) = 2 steps) is the
    # whole clip, so a moving default clip goes exactly two cells in its direction.
    for meta in metas[:150]:
        if meta["motion"] != "static":
            axis, sign = DIRECTIONS[meta["motion"]]
            d = np.subtract(meta["boxes"][8], meta["boxes"][0])[:, axis]
            assert (d == 2 * CELL * sign).all()
    # A bounce does happen in longer clips.
    bounced = [
        m
        for m in metas[150:200]
        if m["motion"] != "static"
        and len(set(np.sign(np.diff(np.asarray(m["centers"])[:, 0], axis=0)).ravel()) - {0}) > 1
    ]
    assert bounced


def _feasible(sizes, relation, w, h):
    """Whether boxes of `sizes` [(w, h)] cells fit a w x h grid, every pair a cell apart,
    box 0 `relation` box 1 under GenEval's rule (brute force over every placement)."""

    def apart(a, b):
        return max(b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3]) >= 1

    def search(placed):
        if len(placed) == len(sizes):
            return True
        sw, sh = sizes[len(placed)]
        for y, x in itertools.product(range(h - sh + 1), range(w - sw + 1)):
            box = (x, y, x + sw, y + sh)
            if not all(apart(box, b) for b in placed):
                continue
            if relation and len(placed) == 1:
                if geneval.relative_position(placed[0], box) != {relation}:
                    continue
            if search(placed + [box]):
                return True
        return False

    return search([])


def test_a_move_is_dropped_only_where_it_cannot_fit():
    """A stated motion becomes static only when the scene does not fit the grid shrunk by
    the two cells its moves need (e.g. two discs side by side need 5 + 1 + 5 = 11 > 10)."""
    dropped = 0
    for i in range(120):
        rng = shapes.example_rng(0, "train", i)
        spec = shapes.sample_spec(rng, "train")
        meta = shapes.sample_meta(0, "train", i)
        if spec["motion"] == meta["motion"]:
            continue
        assert meta["motion"] == "static" and not meta["caption"].endswith(spec["motion"])
        dropped += 1
        axis, _ = DIRECTIONS[spec["motion"]]
        grid = [12, 12]
        grid[axis] -= 2
        sizes = [shapes.cell_size(o["shape"]) for o in spec["objects"]]
        assert not _feasible(sizes, spec["relation"], *grid), meta["caption"]
    assert 0 < dropped < 20


def test_bounce_reverses_at_the_border():
    # A 3-cell square at x = 1 moving left in 12 cells: 0, then back 1, 2, 3.
    corners = shapes_layout.trajectory([[1, 4]], [(3, 3)], "left", 4, 12, 12)
    assert corners[:, 0, 0].tolist() == [1, 0, 1, 2, 3]
    assert corners[:, 0, 1].tolist() == [4] * 5
    # The group turns when its *group* box meets the border: a 5-wide disc at x = 6 and a
    # square at x = 0 moving down from y = 7 (disc bottom at 12) turn at once.
    start = [[6, 7], [0, 2]]
    corners = shapes_layout.trajectory(start, [(5, 5), (3, 3)], "down", 3, 12, 12)
    assert corners[:, :, 1].tolist() == [[7, 2], [6, 1], [5, 0], [6, 1]]
    assert corners[:, :, 0].tolist() == [[6, 0]] * 4
    assert (
        shapes_layout.trajectory(start, [(5, 5), (3, 3)], "static", 2, 12, 12).tolist()
        == [start] * 3
    )


def test_direction_before_the_bounce_in_a_long_clip():
    """25 frames = 6 latent steps: ceil(0.6 x 6) = 4 steps in the stated direction first."""
    spec = {
        "kind": "single",
        "objects": [{"color": "red", "shape": "circle", "size": "regular"}],
        "relation": None,
        "motion": "left",
        "background": {"color": "black"},
        "mention_background": False,
    }
    seen = set()
    for seed in range(20):
        meta = shapes.build_meta(np.random.default_rng(seed), spec, num_frames=25)
        xs = [meta["boxes"][t][0][0] // CELL for t in _latent_starts(25)]
        assert [b - a for a, b in zip(xs, xs[1:])][:4] == [-1] * 4
        assert xs[0] >= 4 and min(xs) >= 0  # room for the unbounced stretch
        seen.add(tuple(xs))
    # With x0 = 4 the disc reaches 0 after 4 steps, then comes back: 4 3 2 1 0 1 2.
    assert (4, 3, 2, 1, 0, 1, 2) in seen


# ------------------------------------------------------------------ captions


def _spec(kind, objs, motion="static", relation=None, bg=None):
    return {
        "kind": kind,
        "objects": [dict(color=c, shape=s, size="regular") for c, s in objs],
        "relation": relation,
        "motion": motion,
        "mention_background": bg is not None,
        "background": {"color": bg or "gray"},
    }


def test_captions_follow_the_grammar():
    red, yellow = ("red", "square"), ("yellow", "circle")
    blue, green = ("blue", "circle"), ("green", "triangle")
    assert shapes.caption(_spec("single", [red], "left")) == "a red square moves left"
    assert (
        shapes.caption(_spec("relation", [blue, green], relation="above"))
        == "a blue circle above a green triangle"
    )
    assert (
        shapes.caption(_spec("relation", [blue, green], "down", "left of", bg="white"))
        == "a blue circle left of a green triangle on a white background, moving down"
    )
    assert shapes.caption(_spec("count", [yellow] * 3)) == "three yellow circles"
    assert shapes.caption(_spec("count", [red] * 2, "right")) == "two red squares move right"
    assert (
        shapes.caption(_spec("single", [green], bg="gray"))
        == "a green triangle on a gray background"
    )
    assert (
        shapes.caption(_spec("pair", [("orange", "circle"), ("pink", "square")], "up"))
        == "an orange circle and a pink square move up"
    )


_MOTION = r"(?P<motion>left|right|up|down)"
_BG = r"(?: on a (?P<bg>gray|black|white) background)?"


def _obj(n):
    return rf"(?P<art{n}>a|an) (?P<color{n}>\w+) (?P<shape{n}>circle|square|triangle)"


_GRAMMAR = {
    "single": re.compile(rf"^{_obj(0)}{_BG}(?: moves {_MOTION})?$"),
    "pair": re.compile(rf"^{_obj(0)} and {_obj(1)}{_BG}(?: move {_MOTION})?$"),
    "relation": re.compile(
        rf"^{_obj(0)} (?P<rel>left of|right of|above|below) {_obj(1)}{_BG}(?:, moving {_MOTION})?$"
    ),
    "count": re.compile(
        rf"^(?P<n>two|three) (?P<color0>\w+) (?P<shape0>circle|square|triangle)s{_BG}"
        rf"(?: move {_MOTION})?$"
    ),
}


def _parse(caption, kind):
    """(objects [(colour, shape)], relation, background or None, motion) of a caption."""
    m = _GRAMMAR[kind].match(caption)
    assert m, (kind, caption)
    g = m.groupdict()
    n = 1 if kind == "single" else 2
    objs = [(g[f"color{i}"], g[f"shape{i}"]) for i in range(n if kind != "count" else 1)]
    if kind == "count":
        objs = objs * {"two": 2, "three": 3}[g["n"]]
    else:
        for i, (color, _) in enumerate(objs):
            assert g[f"art{i}"] == ("an" if color == "orange" else "a"), caption
    assert all(c in COLORS for c, _ in objs), caption
    return objs, g.get("rel"), g["bg"], g["motion"] or "static"


def test_every_generated_caption_parses_back_to_its_scene():
    metas = _metas(200, "train", seed=6) + _metas(60, "holdout") + _metas(40, "train", num_frames=1)
    for meta in metas:
        objs, relation, bg, motion = _parse(meta["caption"], meta["kind"])
        assert objs == [(o["color"], o["shape"]) for o in meta["objects"]], meta["caption"]
        assert relation == meta["relation"] and motion == meta["motion"]
        assert bg == (meta["background"]["color"] if meta["mention_background"] else None)
    assert {m["mention_background"] for m in metas} == {True, False}


# ------------------------------------------------------------------ TFDS builder


def _assert_same(record, expected):
    assert np.array_equal(record["video"], expected["video"])
    for key in ("caption", "metadata", "id"):
        value = record[key]
        assert (value.decode() if isinstance(value, bytes) else value) == expected[key]
    assert int(record["fps"]) == expected["fps"]
    assert int(record["num_frames"]) == expected["num_frames"]


def test_tfds_builder_writes_array_record_that_reads_back_identically(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    from lumos_jax.data import shapes_tfds

    config = shapes_tfds.make_config(
        "unit", num_train=6, num_validation=3, num_holdout=2, num_frames=5, seed=9
    )
    builder = shapes_tfds.build(tmp_path, config)
    assert builder.info.file_format.value == "array_record"
    for split, n in config.split_sizes().items():
        source = builder.as_data_source(split=split)
        assert len(source) == n
        for i in range(n):
            _assert_same(source[i], shapes.generate_example(9, split, i, num_frames=5))
    # A registered config through the public entry point, without download: the built-in
    # geometry (96x96, 9 frames).
    shapes_tfds.build(tmp_path, "tiny")
    source = tfds.data_source("shapes_motion/tiny", data_dir=tmp_path, download=False)
    assert {k: len(v) for k, v in source.items()} == {"train": 64, "validation": 16, "holdout": 16}
    record = source["holdout"][15]
    assert record["video"].shape == (9, 96, 96, 3)
    _assert_same(record, shapes.generate_example(0, "holdout", 15))
    # Every registered config draws scenes that fit its geometry.
    for c in shapes_tfds.ShapesMotion.BUILDER_CONFIGS:
        assert (c.height, c.width, c.fps) == (96, 96, 8) and c.num_frames in (1, 9)
        for i in range(10):
            meta = shapes.sample_meta(c.seed, "train", i, c.height, c.width, c.num_frames, c.fps)
            assert shapes.render_clip(meta).shape == (c.num_frames, 96, 96, 3)
