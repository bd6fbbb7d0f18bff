# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""mini-GenEval and mini-VBench on hand-made cases with known answers.

Hand-made scenes are laid out in cells (8 px) on the 12x12 grid of a 96x96 frame; clips
move one cell per latent frame (pixel frame 0 alone, then 4 still frames per latent)."""

import numpy as np
import pytest

from lumos_jax.data import shapes
from lumos_jax.evaluation import geneval, vbench

CELL = 8
SIDE = {"square": (3, 3), "circle": (5, 5), "triangle": (5, 3)}  # (w, h) cells, by hand
LATENT_9 = [0, 1, 1, 1, 1, 2, 2, 2, 2]  # latent frame of each of 9 pixel frames


def _meta(objects, corners, motion="static", relation=None, bg="gray"):
    """Hand-made scene: objects [(colour, shape)], corners [F][n][(col, row)] in cells."""
    boxes = [
        [
            [c * CELL, r * CELL, (c + SIDE[s][0]) * CELL, (r + SIDE[s][1]) * CELL]
            for (c, r), (_, s) in zip(frame, objects)
        ]
        for frame in corners
    ]
    kind = "relation" if relation else ("single" if len(objects) == 1 else "pair")
    return {
        "kind": kind,
        "relation": relation,
        "motion": motion,
        "objects": [{"color": c, "shape": s, "size": "regular"} for c, s in objects],
        "boxes": boxes,
        "centers": [[[(b[0] + b[2]) // 2, (b[1] + b[3]) // 2] for b in f] for f in boxes],
        "num_frames": len(corners),
        "height": 96,
        "width": 96,
        "background": {"color": bg},
    }


def _image(objects, corners, **kw):
    return shapes.render_clip(_meta(objects, [corners], **kw))[0]


def _moving(dx, dy, latent=LATENT_9, start=(4, 4), obj=("red", "square"), motion="static"):
    """A one-object clip stepping (dx, dy) cells per latent frame."""
    corners = [[(start[0] + dx * k, start[1] + dy * k)] for k in latent]
    meta = _meta([obj], corners, motion=motion)
    return meta, shapes.render_clip(meta)


# ------------------------------------------------------------------ mini-GenEval


def test_relative_position_follows_geneval():
    a, b = (0, 20, 10, 30), (30, 20, 40, 30)
    assert geneval.relative_position(a, b) == {"left of"}
    assert geneval.relative_position(b, a) == {"right of"}
    assert geneval.relative_position((20, 0, 30, 10), (20, 30, 30, 40)) == {"above"}
    assert geneval.relative_position((20, 30, 30, 40), (20, 0, 30, 10)) == {"below"}
    # Offsets inside the margin (0.1 x the two box sizes) relate nothing.
    assert geneval.relative_position((12, 20, 22, 30), (10, 20, 20, 30)) == set()
    assert geneval.relative_position((0, 0, 10, 10), (30, 30, 40, 40)) == {"left of", "above"}
    # Cells: a disc at columns 0-4, rows 0-4 and a square at columns 6-8, rows 2-4. Centre
    # offset (20 - 60, 20 - 28) = (-40, -8) px, |offset| = 40.8; margin 0.1 x (40 + 24) =
    # 6.4 per axis: revised (-33.6, -1.6), shares (-0.82, -0.04): left of only.
    assert geneval.relative_position((0, 0, 40, 40), (48, 16, 72, 40)) == {"left of"}


@pytest.mark.parametrize("split", ["validation", "holdout"])
def test_ground_truth_renders_score_one_on_every_task(split):
    prompts = geneval.make_prompts(split, per_task=24)
    assert {p["tag"] for p in prompts} == set(geneval.TASKS)
    samples = [(p, geneval.reference_image(p, seed=s)) for p in prompts for s in range(2)]
    result = geneval.evaluate(samples)
    assert all(result[t] == 1.0 for t in geneval.TASKS) and result["overall"] == 1.0
    assert result["num_images"] == 2 * len(prompts)
    if split == "holdout":
        first = [p["spec"]["objects"][0] for p in prompts]
        assert all((o["color"], o["shape"]) in shapes.HOLDOUT_PAIRS for o in first)
    else:
        pairs = {(o["color"], o["shape"]) for p in prompts for o in p["spec"]["objects"]}
        assert not pairs & shapes.HOLDOUT_PAIRS


def _noisy(image, seed, sigma=8.0):
    noise = np.random.default_rng(seed).normal(0.0, sigma, image.shape)
    return np.clip(np.round(image + noise), 0, 255).astype(np.uint8)


def test_noisy_ground_truth_still_scores_one():
    prompts = geneval.make_prompts("validation", per_task=8, seed=1)
    samples = [(p, _noisy(geneval.reference_image(p, seed=i), i)) for i, p in enumerate(prompts)]
    assert geneval.evaluate(samples)["overall"] == 1.0
    metas = vbench.make_prompts("validation", num=6, seed=2)
    result = vbench.evaluate([(m, _noisy(shapes.render_clip(m), i)) for i, m in enumerate(metas)])
    assert all(result[n] == 1.0 for n in vbench.SEMANTIC if n in result)
    assert result["temporal_flickering"] > 0.95 and result["background_consistency"] > 0.98


def test_prompts_are_deterministic_and_distinct():
    a, b = geneval.make_prompts(per_task=10, seed=3), geneval.make_prompts(per_task=10, seed=3)
    assert a == b
    for tag in geneval.TASKS:
        texts = [p["prompt"] for p in a if p["tag"] == tag]
        assert len(texts) == len(set(texts)) == 10
    for p in a:
        assert p["prompt"] == shapes.caption(p["spec"]) and p["spec"]["motion"] == "static"
        classes = [r["class"] for r in p["include"]]
        assert len(classes) == len(set(classes))  # GenEval pairs distinct classes


def _prompt(tag, include, exclude=()):
    return {"tag": tag, "prompt": tag, "include": include, "exclude": list(exclude)}


def _counting(n, shape="circle"):
    """GenEval's counting prompt for n objects: at least n, fewer than n + 1."""
    return _prompt("counting", [{"class": shape, "count": n}], [{"class": shape, "count": n + 1}])


def test_counting_requires_the_exact_count():
    spots = [(0, 0), (6, 0), (0, 6), (6, 6)]  # discs 5 cells wide, a cell apart
    images = {n: _image([("red", "circle")] * n, spots[:n]) for n in (1, 2, 3, 4)}
    for asked in (2, 3):
        for shown, image in images.items():
            assert geneval.score_image(_counting(asked), image)[0] == (shown == asked)
    assert geneval.evaluate([(_counting(3), images[2])])["counting"] == 0.0
    ok, reason = geneval.score_image(_counting(3), images[4])
    assert not ok and "circle<4, found 4" in reason
    # Counting is per class: three squares beside two circles are three squares.
    mixed = _image(
        [("blue", "square")] * 3 + [("red", "circle")] * 2, [(0, 0), (4, 0), (8, 0), (0, 6), (6, 6)]
    )
    assert geneval.score_image(_counting(3, "square"), mixed)[0]
    assert geneval.score_image(_counting(2, "circle"), mixed)[0]
    assert not geneval.score_image(_counting(3, "circle"), mixed)[0]


def test_colors_position_and_attribution_rules():
    # Disc at columns 0-4, rows 4-8; square at columns 8-10, rows 5-7: same centre row.
    red_left_of_blue = _image([("red", "circle"), ("blue", "square")], [(0, 4), (8, 5)])
    blue_left_of_red = _image([("blue", "circle"), ("red", "square")], [(0, 4), (8, 5)])
    single = _prompt("single_object", [{"class": "circle", "count": 1}])
    colors = _prompt("colors", [{"class": "circle", "count": 1, "color": "red"}])
    two = _prompt("two_object", [{"class": "circle", "count": 1}, {"class": "square", "count": 1}])
    attr = _prompt(
        "color_attr",
        [
            {"class": "circle", "count": 1, "color": "red"},
            {"class": "square", "count": 1, "color": "blue"},
        ],
    )

    def position(relation):
        return _prompt(
            "position",
            [
                {"class": "square", "count": 1},
                {"class": "circle", "count": 1, "position": [relation, 0]},
            ],
        )

    for p in (single, colors, two, attr, position("left of")):
        assert geneval.score_image(p, red_left_of_blue)[0], p["tag"]
    for relation in ("right of", "above", "below"):
        assert not geneval.score_image(position(relation), red_left_of_blue)[0]
    assert geneval.score_image(single, blue_left_of_red)[0]  # an object counts if detected
    assert geneval.score_image(two, blue_left_of_red)[0]
    assert not geneval.score_image(colors, blue_left_of_red)[0]
    assert not geneval.score_image(attr, blue_left_of_red)[0]  # colours on the wrong objects
    # A disc above a square: columns overlap, rows 0-4 over rows 7-9.
    above = _image([("green", "circle"), ("pink", "square")], [(3, 0), (4, 7)])
    assert geneval.score_image(position("above"), above)[0]
    assert not geneval.score_image(position("below"), above)[0]
    only_square = _image([("blue", "square")], [(8, 5)])
    ok, reason = geneval.score_image(two, only_square)
    assert not ok and "circle" in reason
    assert not geneval.score_image(position("left of"), only_square)[0]


def test_overall_is_the_mean_of_task_accuracies():
    three = _image([("red", "circle")] * 3, [(0, 0), (6, 0), (0, 6)])
    counting, counting2 = _counting(3), _counting(2)
    single = _prompt("single_object", [{"class": "circle", "count": 1}])
    result = geneval.evaluate([(counting, three), (counting2, three), (single, three)])
    assert result["counting"] == 0.5 and result["single_object"] == 1.0
    assert result["overall"] == 0.75 and result["num_images"] == 3
    with pytest.raises(ValueError):
        geneval.evaluate([])


# ------------------------------------------------------------------ mini-VBench


@pytest.mark.parametrize(
    "dx,dy,direction",
    [(-1, 0, "left"), (1, 0, "right"), (0, -1, "up"), (0, 1, "down"), (0, 0, "static")],
)
def test_motion_direction_and_dynamic_degree(dx, dy, direction):
    meta, video = _moving(dx, dy)
    assert vbench.track(vbench.analyse(video)[0], meta["objects"][0]).tolist() == [
        [44.0 + 8 * dx * k, 44.0 + 8 * dy * k] for k in LATENT_9
    ]
    for asked in shapes.MOTIONS:
        scores = vbench.score_clip(dict(meta, motion=asked), video)
        assert scores["motion_direction"] == float(asked == direction), (asked, direction)
        expected_dynamic = None if asked == "static" else float(direction != "static")
        assert scores["dynamic_degree"] == expected_dynamic


def test_direction_is_read_before_a_bounce():
    # 17 frames = 5 latent frames; a square at column 2 moving left: 2 1 0, back 1 2. The
    # first half (frames 0-8) ends at column 0, 16 px left.
    latent = [0] + [k for k in (1, 2, 3, 4) for _ in range(4)]
    corners = [[(2 - k if k <= 2 else k - 2, 4)] for k in latent]
    meta = _meta([("red", "square")], corners, motion="left")
    assert vbench.score_clip(meta, shapes.render_clip(meta))["motion_direction"] == 1.0
    # A ShapesMotion clip that bounces (25 frames) reads its stated direction too.
    spec = {
        "kind": "single",
        "objects": [{"color": "red", "shape": "circle", "size": "regular"}],
        "relation": None,
        "motion": "left",
        "background": {"color": "black"},
    }
    for seed in range(20):
        meta = shapes.build_meta(np.random.default_rng(seed), spec, num_frames=25)
        if np.diff(np.asarray(meta["centers"])[:, 0, 0]).max() > 0:  # it did bounce
            break
    else:
        raise AssertionError("no bounce in 20 seeds")
    assert vbench.score_clip(meta, shapes.render_clip(meta))["motion_direction"] == 1.0


def test_flickering_background_scores_lower():
    meta, clean = _moving(0, 0)
    flicker = clean.astype(np.int16)
    gray = (clean == shapes.BACKGROUNDS["gray"]).all(-1)  # [F, H, W] background pixels
    gray[::2] = False
    flicker[gray] += 30  # every other frame's background is brighter
    flicker = flicker.astype(np.uint8)
    good, bad = vbench.score_clip(meta, clean), vbench.score_clip(meta, flicker)
    assert good["temporal_flickering"] == 1.0 and bad["temporal_flickering"] < 0.92
    assert bad["background_consistency"] < good["background_consistency"] - 0.3


def test_a_moving_object_is_not_flicker_and_its_smoothness_is_known():
    meta, video = _moving(1, 0)
    scores = vbench.score_clip(dict(meta, motion="right"), video)
    assert scores["temporal_flickering"] == 1.0 and scores["background_consistency"] == 1.0
    # By hand: frames (0, 2) rebuild frame 1 with half of L0 - L1 left over, frames (4, 6)
    # rebuild frame 5 with half of L1 - L2; frames 3 and 7 are rebuilt exactly. Each step
    # changes 6 cells (the square's trailing and leading columns) = 384 px, each by
    # |215 - 128| + |25 - 128| + |30 - 128| = 288 over its channels: 2 x 384 x 288 / 2 =
    # 110,592 = 4 x 96 x 96 x 3, so the mean error is exactly 1 level.
    assert scores["motion_smoothness"] == pytest.approx(1 - 1 / 255, abs=1e-9)
    assert vbench.score_clip(meta, _moving(0, 0)[1])["motion_smoothness"] == 1.0


def test_jittery_motion_is_less_smooth():
    meta, smooth = _moving(1, 0, start=(2, 4))
    rng = np.random.default_rng(0)
    jitter = [[(int(rng.integers(0, 10)), int(rng.integers(0, 10)))] for _ in range(9)]
    rough = shapes.render_clip(_meta([("red", "square")], jitter))
    assert vbench.motion_smoothness(smooth) > vbench.motion_smoothness(rough) + 0.01
    assert vbench.motion_smoothness(smooth[:1]) is None


def test_subject_consistency_drops_when_the_object_changes():
    meta, video = _moving(1, 0)
    changed = video.copy()
    changed[5:] = shapes.render_clip(_meta([("green", "circle")], [[(4, 4)]] * 9))[5:]
    assert vbench.score_clip(meta, video)["subject_consistency"] == 1.0
    # By hand: frames 1-4 match frame 0 and their predecessor (1); frame 5 matches neither
    # (0); frames 6-8 match their predecessor only (1/2): (4 + 0 + 3/2) / 8 = 0.6875.
    assert vbench.score_clip(meta, changed)["subject_consistency"] == 0.6875


def test_semantic_dimensions_on_known_scenes():
    objects = [("red", "circle"), ("blue", "square")]
    right = _meta(objects, [[(0, 4), (8, 5)]] * 5, relation="left of")
    swapped = _meta(objects, [[(7, 4), (1, 5)]] * 5, relation="left of")
    wrong_color = _meta([("green", "circle"), ("blue", "square")], [[(0, 4), (8, 5)]] * 5)
    missing = _meta([("red", "circle")], [[(0, 4)]] * 5)

    def score(m):
        return vbench.score_clip(right, shapes.render_clip(m))

    s = score(right)
    names = ("object_class", "multiple_objects", "color", "spatial_relationship")
    assert [s[k] for k in names] == [1, 1, 1, 1]
    assert score(swapped)["spatial_relationship"] == 0.0 and score(swapped)["color"] == 1.0
    assert score(wrong_color)["color"] == 0.5  # the square is right, the circle is not
    assert score(missing)["object_class"] == 0.0 and score(missing)["multiple_objects"] == 0.0
    # Frames 0-2 show both objects, frames 3-4 the disc only: 3/5 on both counts.
    partial = _meta(objects, [[(0, 4), (8, 5)]] * 5)
    partial_video = shapes.render_clip(partial)
    partial_video[3:] = shapes.render_clip(missing)[3:]
    s = vbench.score_clip(right, partial_video)
    assert s["object_class"] == 0.6 and s["multiple_objects"] == 0.6
    single = _meta([("red", "circle")], [[(4, 4)]] * 5)
    s = vbench.score_clip(single, shapes.render_clip(single))
    assert s["multiple_objects"] is None and s["spatial_relationship"] is None
    assert s["dynamic_degree"] is None and s["motion_direction"] == 1.0


def test_i2v_consistency_with_the_given_first_frame():
    meta, video = _moving(-1, 0)
    same = vbench.score_clip(meta, video, first_frame=video[0])
    assert same["i2v_subject"] == 1.0 and same["i2v_background"] == 1.0
    # A cyan triangle on white: no object in common, and the backgrounds differ by
    # 235 - 128 = 107 levels > the 64-level scale: both 0.
    other = _image([("cyan", "triangle")], [(2, 2)], bg="white")
    different = vbench.score_clip(meta, video, first_frame=other)
    assert different["i2v_subject"] == 0.0 and different["i2v_background"] == 0.0
    # The same square plus a blue disc: each frame shares 1 of max(2, 1) objects: 1/2.
    extra = _image([("red", "square"), ("blue", "circle")], [(0, 8), (6, 0)])
    assert vbench.score_clip(meta, video, first_frame=extra)["i2v_subject"] == 0.5


def _smoothness_by_hand(video):
    """1 - mean |rebuilt - frame| / 255 for a 9-frame clip whose latent frames are L0 =
    frame 0, L1 = frames 1-4, L2 = frames 5-8: only frames 1 and 5 are rebuilt with an
    error, half of |L0 - L1| and half of |L1 - L2|, over 4 rebuilt frames."""
    v = video.astype(np.int64)
    err = (np.abs(v[0] - v[1]).sum() + np.abs(v[1] - v[5]).sum()) / 2
    return 1 - err / (4 * v[0].size) / 255


@pytest.mark.parametrize("split", ["validation", "holdout"])
def test_ground_truth_clips_score_one_and_aggregate(split):
    metas = vbench.make_prompts(split, num=48)
    assert {m["motion"] for m in metas} == set(shapes.MOTIONS)
    clips = [shapes.render_clip(m) for m in metas]
    per_clip = [vbench.score_clip(m, clip, clip[0]) for m, clip in zip(metas, clips)]
    ones = vbench.SEMANTIC + (
        "subject_consistency",
        "background_consistency",
        "temporal_flickering",
        "i2v_subject",
        "i2v_background",
    )
    for meta, clip, s in zip(metas, clips, per_clip):
        assert all(v is None or 0.0 <= v <= 1.0 for v in s.values())
        assert s["motion_direction"] == 1.0 and s["object_class"] == 1.0, meta["caption"]
        assert all(s[n] in (None, 1.0) for n in ones), (meta["caption"], s)
        assert (s["spatial_relationship"] is None) == (meta["relation"] is None)
        assert s["dynamic_degree"] == (None if meta["motion"] == "static" else 1.0)
        assert s["motion_smoothness"] == pytest.approx(_smoothness_by_hand(clip), abs=1e-9)
    result = vbench.aggregate(per_clip)
    for name in ones + ("dynamic_degree",):
        assert result[name] == 1.0, name
    present = [result[n] for n in vbench.DIMENSIONS if n in result]
    assert result["total"] == pytest.approx(np.mean(present)) and result["num_clips"] == 48
    assert result["quality_score"] == pytest.approx(np.mean([result[n] for n in vbench.QUALITY]))
    assert result["semantic_score"] == 1.0 and result["i2v_score"] == 1.0
    assert vbench.evaluate([(metas[0], clips[0])])["num_clips"] == 1
