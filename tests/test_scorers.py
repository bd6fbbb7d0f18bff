# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""mini-GenEval and mini-VBench on hand-made cases with known answers."""

import numpy as np
import pytest

from lumos_jax.data import shapes
from lumos_jax.evaluation import geneval, vbench


def _meta(objects, centers, motion="static", relation=None, bg="gray", size=64):
    """Hand-made scene: objects [(colour, shape)], centers [F][n][(x, y)]."""
    radius = shapes.radius_for("large", size, size)
    kind = "relation" if relation else ("single" if len(objects) == 1 else "pair")
    return {
        "kind": kind,
        "relation": relation,
        "motion": motion,
        "objects": [
            {"color": c, "shape": s, "size": "large", "radius": radius} for c, s in objects
        ],
        "centers": centers,
        "num_frames": len(centers),
        "height": size,
        "width": size,
        "background": {"color": bg, "texture": "plain", "period": 8, "pan": [0, 0]},
    }


def _image(objects, centers, **kw):
    return shapes.render_clip(_meta(objects, [centers], **kw))[0]


def _moving(dx, dy, frames=9, start=(32, 32), obj=("red", "square"), motion="static"):
    centers = [[[start[0] + dx * t, start[1] + dy * t]] for t in range(frames)]
    meta = _meta([obj], centers, motion=motion)
    return meta, shapes.render_clip(meta)


# ------------------------------------------------------------------ mini-GenEval


def test_relative_position_follows_geneval():
    a, b = (0, 20, 10, 30), (30, 20, 40, 30)
    assert geneval.relative_position(a, b) == {"left of"}
    assert geneval.relative_position(b, a) == {"right of"}
    assert geneval.relative_position((20, 0, 30, 10), (20, 30, 30, 40)) == {"above"}
    # Offsets inside the margin (0.1 x the two box sizes) relate nothing.
    assert geneval.relative_position((12, 20, 22, 30), (10, 20, 20, 30)) == set()
    assert geneval.relative_position((0, 0, 10, 10), (30, 30, 40, 40)) == {"left of", "above"}


@pytest.mark.parametrize("split", ["validation", "holdout"])
def test_ground_truth_renders_score_one_on_every_task(split):
    prompts = geneval.make_prompts(split, per_task=6)
    assert {p["tag"] for p in prompts} == set(geneval.TASKS)
    samples = [(p, geneval.reference_image(p, seed=s)) for p in prompts for s in range(2)]
    result = geneval.evaluate(samples)
    assert all(result[t] == 1.0 for t in geneval.TASKS) and result["overall"] == 1.0
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


def _prompt(tag, include, exclude=()):
    return {"tag": tag, "prompt": tag, "include": include, "exclude": list(exclude)}


def _counting(n):
    """GenEval's counting prompt for n circles: at least n, fewer than n + 1."""
    return _prompt(
        "counting", [{"class": "circle", "count": n}], [{"class": "circle", "count": n + 1}]
    )


def test_counting_requires_the_exact_count():
    prompt = _counting(3)
    spots = [[12, 12], [50, 12], [12, 50], [50, 50]]
    two, three, four = (_image([("red", "circle")] * n, spots[:n]) for n in (2, 3, 4))
    assert geneval.evaluate([(prompt, two)])["counting"] == 0.0
    assert not geneval.score_image(prompt, two)[0]
    assert geneval.score_image(prompt, three)[0]
    assert not geneval.score_image(prompt, four)[0]


def test_colors_position_and_attribution_rules():
    red_left_of_blue = _image([("red", "circle"), ("blue", "square")], [[14, 32], [48, 32]])
    blue_left_of_red = _image([("blue", "circle"), ("red", "square")], [[14, 32], [48, 32]])
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
    left = _prompt(
        "position",
        [
            {"class": "square", "count": 1},
            {"class": "circle", "count": 1, "position": ["left of", 0]},
        ],
    )
    right = _prompt(
        "position",
        [
            {"class": "square", "count": 1},
            {"class": "circle", "count": 1, "position": ["right of", 0]},
        ],
    )
    for p in (single, colors, two, attr, left):
        assert geneval.score_image(p, red_left_of_blue)[0], p["tag"]
    assert not geneval.score_image(right, red_left_of_blue)[0]
    assert geneval.score_image(single, blue_left_of_red)[0]  # an object counts if detected
    assert geneval.score_image(two, blue_left_of_red)[0]
    assert not geneval.score_image(colors, blue_left_of_red)[0]
    assert not geneval.score_image(attr, blue_left_of_red)[0]  # colours on the wrong objects
    only_square = _image([("blue", "square")], [[48, 32]])
    ok, reason = geneval.score_image(two, only_square)
    assert not ok and "circle" in reason
    assert not geneval.score_image(left, only_square)[0]


def test_overall_is_the_mean_of_task_accuracies():
    three = _image([("red", "circle")] * 3, [[12, 12], [50, 12], [12, 50]])
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
    [(-2, 0, "left"), (2, 0, "right"), (0, -2, "up"), (0, 2, "down"), (0, 0, "static")],
)
def test_motion_direction_and_dynamic_degree(dx, dy, direction):
    meta, video = _moving(dx, dy)
    for asked in shapes.MOTIONS:
        scores = vbench.score_clip(dict(meta, motion=asked), video)
        assert scores["motion_direction"] == float(asked == direction), (asked, direction)
        expected_dynamic = None if asked == "static" else float(direction != "static")
        assert scores["dynamic_degree"] == expected_dynamic


def test_direction_is_read_before_a_bounce():
    meta = shapes.build_meta(
        np.random.default_rng(0),
        {
            "kind": "single",
            "objects": [{"color": "red", "shape": "circle", "size": "large"}],
            "relation": None,
            "motion": "left",
            "background": {"color": "black", "texture": "plain"},
        },
        num_frames=25,
    )
    assert np.diff(np.asarray(meta["centers"])[:, 0, 0]).max() > 0  # it did bounce
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


def test_panning_texture_is_not_flicker():
    meta = shapes.sample_meta(0, "train", 0)
    background = {"color": "white", "texture": "checker", "period": 8, "pan": [0.5, 0.0]}
    meta = dict(meta, background=background)
    scores = vbench.score_clip(meta, shapes.render_clip(meta))
    assert scores["temporal_flickering"] == 1.0 and scores["background_consistency"] > 0.99


def test_jittery_motion_is_less_smooth():
    meta, smooth = _moving(2, 0, start=(16, 32))
    rng = np.random.default_rng(0)
    jitter = [[[int(rng.integers(12, 52)), int(rng.integers(12, 52))]] for _ in range(9)]
    rough = shapes.render_clip(_meta([("red", "square")], jitter))
    assert vbench.motion_smoothness(smooth) > vbench.motion_smoothness(rough) + 0.01
    assert vbench.motion_smoothness(smooth[:1]) is None


def test_subject_consistency_drops_when_the_object_changes():
    meta, video = _moving(1, 0)
    changed = video.copy()
    changed[5:] = shapes.render_clip(_meta([("green", "circle")], meta["centers"]))[5:]
    assert vbench.score_clip(meta, video)["subject_consistency"] == 1.0
    assert vbench.score_clip(meta, changed)["subject_consistency"] < 0.7


def test_semantic_dimensions_on_known_scenes():
    objects = [("red", "circle"), ("blue", "square")]
    right = _meta(objects, [[[14, 32], [48, 32]]] * 5, relation="left of")
    swapped = _meta(objects, [[[48, 32], [14, 32]]] * 5, relation="left of")
    wrong_color = _meta([("green", "circle"), ("blue", "square")], right["centers"])
    missing = _meta([("red", "circle")], [[c[0]] for c in right["centers"]])
    score = lambda m: vbench.score_clip(right, shapes.render_clip(m))  # noqa: E731
    s = score(right)
    names = ("object_class", "multiple_objects", "color", "spatial_relationship")
    assert [s[k] for k in names] == [1, 1, 1, 1]
    assert score(swapped)["spatial_relationship"] == 0.0 and score(swapped)["color"] == 1.0
    assert score(wrong_color)["color"] == 0.5  # the square is right, the circle is not
    assert score(missing)["object_class"] == 0.0 and score(missing)["multiple_objects"] == 0.0
    single = _meta([("red", "circle")], [[[32, 32]]] * 5)
    assert vbench.score_clip(single, shapes.render_clip(single))["multiple_objects"] is None
    assert vbench.score_clip(single, shapes.render_clip(single))["spatial_relationship"] is None


def test_i2v_consistency_with_the_given_first_frame():
    meta, video = _moving(-1, 0)
    same = vbench.score_clip(meta, video, first_frame=video[0])
    other = _image([("cyan", "triangle")], [[20, 20]], bg="white")
    different = vbench.score_clip(meta, video, first_frame=other)
    assert same["i2v_subject"] == 1.0 and same["i2v_background"] == 1.0
    assert different["i2v_subject"] == 0.0 and different["i2v_background"] < 0.1


def test_ground_truth_clips_and_aggregate():
    metas = vbench.make_prompts("validation", num=10) + vbench.make_prompts("holdout", num=4)
    clips = [shapes.render_clip(m) for m in metas]
    per_clip = [vbench.score_clip(m, clip, clip[0]) for m, clip in zip(metas, clips)]
    for s in per_clip:
        assert all(v is None or 0.0 <= v <= 1.0 for v in s.values())
    result = vbench.aggregate(per_clip)
    for name in vbench.SEMANTIC + ("subject_consistency", "dynamic_degree", "i2v_subject"):
        assert result[name] == 1.0, name
    assert min(result[n] for n in vbench.DIMENSIONS) > 0.98
    present = [result[n] for n in vbench.DIMENSIONS if n in result]
    assert result["total"] == pytest.approx(np.mean(present)) and result["num_clips"] == 14
    assert vbench.evaluate([(metas[0], shapes.render_clip(metas[0]))])["num_clips"] == 1
