# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The palette detector: exact on renders, stable under noise and mild blur."""

import itertools

import numpy as np
from scipy import ndimage

from lumos_jax.data import shapes
from lumos_jax.evaluation import detector


def _perturb(video, seed, sigma=0.0, blur=0.0):
    """Gaussian blur (pixels) then Gaussian noise (intensity levels of 255)."""
    x = np.asarray(video, np.float32)
    if blur:
        x = ndimage.gaussian_filter(x, (0, blur, blur, 0))
    if sigma:
        x = x + np.random.default_rng(seed).normal(0.0, sigma, x.shape)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _scenes(n, num_frames=9, **kw):
    """n metas spread over splits, seeds and clip/image variants."""
    out = []
    for i in range(n):
        split = shapes.SPLITS[i % 3]
        out.append(shapes.sample_meta(i % 7, split, i, num_frames=num_frames, **kw))
    return out


def _found(dets, with_box=True):
    return sorted((d.color, d.shape, d.box if with_box else None, d.size) for d in dets)


def _expected(meta, t, with_box=True):
    objects = detector.expected_objects(meta, t)
    return sorted((c, s, b if with_box else None, z) for c, s, b, z in objects)


def test_exact_on_200_random_renders():
    for meta in _scenes(200):
        video = shapes.render_clip(meta)
        for t in range(meta["num_frames"]):
            dets = detector.detect(video[t])
            assert _found(dets) == _expected(meta, t), (meta["id"], t)
            centers = [[float(x), float(y)] for x, y in meta["centers"][t]]
            for d in dets:  # centre = box centre = the integer centre in the metadata
                assert list(d.center) in centers


def test_exact_at_other_resolutions():
    metas = _scenes(20, num_frames=3, height=128, width=96)
    for meta in metas + _scenes(20, num_frames=1, height=256, width=256):
        video = shapes.render_clip(meta)
        for t in range(meta["num_frames"]):
            assert _found(detector.detect(video[t])) == _expected(meta, t), meta["id"]


def _accuracy(metas, sigma, blur, with_box):
    hits = total = 0
    for k, meta in enumerate(metas):
        video = _perturb(shapes.render_clip(meta), k, sigma, blur)
        for t in range(meta["num_frames"]):
            total += 1
            hits += _found(detector.detect(video[t]), with_box) == _expected(meta, t, with_box)
    return hits / total


def test_gaussian_noise_sigma_8_keeps_detections_exact():
    assert _accuracy(_scenes(80, num_frames=3), sigma=8, blur=0, with_box=True) >= 0.99


def test_slight_blur_with_noise_keeps_classes():
    assert _accuracy(_scenes(60, num_frames=2), sigma=8, blur=0.6, with_box=False) >= 0.98


def test_heavier_perturbation_degrades_gracefully():
    acc = _accuracy(_scenes(60, num_frames=1), sigma=16, blur=1.0, with_box=False)
    assert 0.75 <= acc <= 1.0


def test_classify_shape_on_ideal_masks_of_many_sizes():
    for shape, r in itertools.product(shapes.SHAPES, range(3, 24)):
        assert detector.classify_shape(shapes.shape_mask(shape, r)) == shape, (shape, r)


def test_backgrounds_and_noise_give_no_detections():
    for name in shapes.BACKGROUNDS:
        for texture in shapes.TEXTURES:
            meta = {
                "num_frames": 3,
                "height": 64,
                "width": 64,
                "objects": [],
                "centers": [[]] * 3,
                "background": {"color": name, "texture": texture, "period": 8, "pan": [0.5, 0]},
            }
            for frame in _perturb(shapes.render_clip(meta), 0, sigma=8):
                assert detector.detect(frame) == []
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert len(detector.detect(noise)) <= 1


def test_blurred_rim_between_red_and_white_is_not_a_pink_object():
    meta = {
        "num_frames": 1,
        "height": 64,
        "width": 64,
        "centers": [[[32, 32]]],
        "objects": [{"shape": "square", "color": "red", "size": "large", "radius": 12}],
        "background": {"color": "white", "texture": "plain", "period": 8, "pan": [0, 0]},
    }
    for blur in (0.5, 0.8, 1.2):
        dets = detector.detect(_perturb(shapes.render_clip(meta), 0, blur=blur)[0])
        assert [(d.color, d.shape) for d in dets] == [("red", "square")], blur


def test_find_filters_and_orders_by_area():
    meta = shapes.sample_meta(0, "train", 4, num_frames=1)
    dets = detector.detect(shapes.render_clip(meta)[0])
    assert [d.area for d in dets] == sorted((d.area for d in dets), reverse=True)
    o = meta["objects"][0]
    assert all(
        d.color == o["color"] and d.shape == o["shape"]
        for d in detector.find(dets, shape=o["shape"], color=o["color"])
    )
