# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""ShapesMotion generator and its TFDS builder."""

import itertools
import json
import math
import time

import numpy as np
import pytest

from lumos_jax.data import shapes, shapes_layout
from lumos_jax.evaluation import geneval


def _metas(n, split="train", seed=0, **kw):
    return [shapes.sample_meta(seed, split, i, **kw) for i in range(n)]


def test_examples_are_deterministic_and_independent():
    a = [shapes.generate_example(3, "train", i) for i in (5, 1, 9)]
    b = [shapes.generate_example(3, "train", i) for i in (9, 5, 1)]
    for x, y in zip(a, [b[1], b[2], b[0]]):
        assert np.array_equal(x["video"], y["video"])
        assert x["metadata"] == y["metadata"] and x["id"] == y["id"]
    other = shapes.generate_example(4, "train", 5)
    assert other["metadata"] != a[0]["metadata"]
    assert shapes.record_id(3, "train", 5) == a[0]["id"] == "shapes_motion-3-train-00000005"


def test_record_fields_and_json_metadata_rerenders_the_clip():
    ex = shapes.generate_example(0, "validation", 7)
    assert ex["video"].shape == (17, 64, 64, 3) and ex["video"].dtype == np.uint8
    assert ex["num_frames"] == 17 and ex["fps"] == 8
    meta = json.loads(ex["metadata"])
    assert meta["caption"] == ex["caption"] and meta["split"] == "validation"
    assert np.array_equal(shapes.render_clip(meta), ex["video"])


def test_images_are_static_one_frame_clips():
    for meta in _metas(30, num_frames=1):
        assert meta["num_frames"] == 1 and meta["fps"] == 1 and meta["motion"] == "static"
        assert shapes.render_clip(meta).shape == (1, 64, 64, 3)
    spec = shapes.sample_spec(np.random.default_rng(0), "train", num_frames=17)
    spec["motion"] = "left"
    meta = shapes.build_meta(np.random.default_rng(0), spec, num_frames=1)
    assert meta["motion"] == "static" and not meta["caption"].endswith("left")


def test_holdout_pairs_never_in_train_or_validation():
    for split in ("train", "validation"):
        for meta in _metas(300, split):
            pairs = {(o["color"], o["shape"]) for o in meta["objects"]}
            assert not pairs & shapes.HOLDOUT_PAIRS, meta["caption"]
    for meta in _metas(100, "holdout"):
        assert (meta["objects"][0]["color"], meta["objects"][0]["shape"]) in shapes.HOLDOUT_PAIRS
    with pytest.raises(ValueError, match="split"):
        shapes.sample_meta(0, "test", 0)


def test_palette_and_backgrounds_are_well_separated():
    pal = np.array(list(shapes.PALETTE.values()), float)
    for a, b in itertools.combinations(pal, 2):
        assert np.linalg.norm(a - b) >= 95
    for bg in shapes.BACKGROUNDS.values():
        for shade in (-shapes.TEXTURE_AMPLITUDE, 0, shapes.TEXTURE_AMPLITUDE):
            assert np.linalg.norm(pal - (np.array(bg) + shade), axis=1).min() >= 95


def _check_layout(meta):
    h, w, f = meta["height"], meta["width"], meta["num_frames"]
    boxes = np.asarray(meta["boxes"])  # [F, n, 4]
    assert boxes.shape == (f, meta["count"], 4) and meta["count"] == len(meta["objects"])
    assert (boxes[..., :2] >= 0).all()
    assert (boxes[..., 2] <= w).all() and (boxes[..., 3] <= h).all()
    # Every fourth frame (the last pixel frame of each latent frame) has all box edges on
    # the lattice: 4 px at 64x64, 2 px at 32x32.
    lattice = shapes.lattice_for(h, w)
    assert lattice == {64: 4, 32: 2}.get(min(h, w), lattice)
    assert (boxes[::4] % lattice == 0).all(), meta["caption"]
    for t in range(f):
        for i, j in itertools.combinations(range(meta["count"]), 2):
            a, b = boxes[t, i], boxes[t, j]
            gap = max(b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3])
            assert gap >= 3, (meta["caption"], t)
        if meta["relation"]:
            assert geneval.relative_position(boxes[t, 0], boxes[t, 1]) == {meta["relation"]}


def _check_motion(meta):
    centers = np.asarray(meta["centers"], float)  # [F, n, 2]
    steps = np.diff(centers, axis=0)
    if meta["motion"] == "static":
        assert not steps.any()
        return
    # Rigid group: every object takes the same step; steps only flip at a border.
    assert (steps == steps[:, :1]).all()
    axis = 0 if meta["motion"] in ("left", "right") else 1
    sign = -1 if meta["motion"] in ("left", "up") else 1
    along = steps[:, 0, axis]
    unbounced = math.ceil(0.6 * (meta["num_frames"] - 1))
    assert (along[:unbounced] == sign * meta["speed"]).all(), meta["caption"]
    assert not steps[:, 0, 1 - axis].any()


def test_layouts_motion_and_relations_hold_for_many_scenes():
    metas = _metas(150, "train", seed=1) + _metas(50, "holdout", seed=2, num_frames=25)
    metas += _metas(30, "validation", height=96, width=128, num_frames=9)
    kinds = {m["kind"] for m in metas}
    assert kinds == set(shapes.KINDS)
    for meta in metas:
        _check_layout(meta)
        _check_motion(meta)


def test_bounce_reverses_at_the_border():
    centers = shapes_layout.trajectory([[11, 30]], [5], "left", 2, 64, 64, 9)
    xs = centers[:, 0, 0].tolist()
    assert xs == [11, 9, 7, 5, 7, 9, 11, 13, 15]  # the box edge reaches x = 0, then back
    # Reflected, not clamped: an edge that would pass the border by 1 ends 1 inside.
    xs = shapes_layout.trajectory([[10, 30]], [5], "left", 2, 64, 64, 5)[:, 0, 0].tolist()
    assert xs == [10, 8, 6, 6, 8]
    assert centers[:, 0, 1].tolist() == [30] * 9


def test_captions_follow_the_grammar():
    def spec(kind, objs, motion="static", relation=None, bg=None, size=False):
        return {
            "kind": kind,
            "objects": [dict(color=c, shape=s, size=z) for c, s, z in objs],
            "relation": relation,
            "motion": motion,
            "mention_size": size,
            "mention_background": bg is not None,
            "background": {"color": bg or "gray", "texture": "plain"},
        }

    red, yellow = ("red", "square", "large"), ("yellow", "circle", "small")
    blue, green = ("blue", "circle", "small"), ("green", "triangle", "small")
    assert shapes.caption(spec("single", [red], "left")) == "a red square moves left"
    assert (
        shapes.caption(spec("relation", [blue, green], relation="above"))
        == "a blue circle above a green triangle"
    )
    assert shapes.caption(spec("count", [yellow] * 3)) == "three yellow circles"
    assert (
        shapes.caption(spec("single", [green], bg="gray", size=True))
        == "a small green triangle on a gray background"
    )
    assert (
        shapes.caption(
            spec("pair", [("orange", "circle", "large"), ("pink", "square", "large")], "up")
        )
        == "an orange circle and a pink square move up"
    )


def test_shape_masks_fill_their_boxes_as_expected():
    expected = {"square": 1.0, "circle": math.pi / 4, "triangle": 0.5}
    for shape, radius in itertools.product(shapes.SHAPES, (5, 8, 16)):
        mask = shapes.shape_mask(shape, radius)
        assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()
        assert abs(mask.mean() - expected[shape]) < 0.12, (shape, radius)


def test_rendered_pixels_are_palette_or_background_shades():
    def pack(rgb):  # [..., 3] -> one int per colour
        rgb = np.asarray(rgb, np.int64)
        return (rgb[..., 0] * 256 + rgb[..., 1]) * 256 + rgb[..., 2]

    allowed = {int(pack(c)) for c in shapes.PALETTE.values()}
    for bg in shapes.BACKGROUNDS.values():
        for d in (-shapes.TEXTURE_AMPLITUDE, 0, shapes.TEXTURE_AMPLITUDE):
            allowed.add(int(pack(np.asarray(bg) + d)))
    for meta in _metas(20, seed=5):
        assert set(np.unique(pack(shapes.render_clip(meta))).tolist()) <= allowed


def test_generation_is_fast():
    start = time.perf_counter()
    for i in range(200):
        shapes.generate_example(0, "train", i)
    per_minute = 200 / (time.perf_counter() - start) * 60
    assert per_minute > 2000, f"{per_minute:.0f} clips/minute"


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
    # A registered config through the public entry point, without download.
    shapes_tfds.build(tmp_path, "tiny")
    source = tfds.data_source("shapes_motion/tiny", data_dir=tmp_path, download=False)
    assert {k: len(v) for k, v in source.items()} == {"train": 64, "validation": 16, "holdout": 16}
    _assert_same(source["holdout"][15], shapes.generate_example(0, "holdout", 15))
