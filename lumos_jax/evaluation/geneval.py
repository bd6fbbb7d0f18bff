# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""mini-GenEval: GenEval's six tasks and rules on ShapesMotion images.

GenEval (Ghosh et al., 2023) detects objects in a generated image and checks
the prompt's requirements: every required class present at least `count`
times (counting also forbids count + 1, i.e. exact), colours of the found
objects, and relative positions from box centres with a margin. Here the
classes are the three shapes, the detector is the exact palette detector, and
detection confidence is replaced by area (larger first). A task's accuracy is
the fraction of correct images; overall = mean of the task accuracies.

A prompt is a dict: tag, prompt (caption), include / exclude requirements in
GenEval's format, and spec (a ShapesMotion scene spec, so the prompt can be
rendered as a reference image).
"""

import numpy as np

from lumos_jax.data import shapes
from lumos_jax.evaluation import detector

TASKS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
POSITION_THRESHOLD = 0.1  # GenEval's margin, a fraction of the two box sizes
SAMPLES_PER_PROMPT = 4  # GenEval generates 4 images per prompt
_SPLIT_SEED = {"validation": 1, "holdout": 2, "train": 0}


def relative_position(box_a, box_b, threshold=POSITION_THRESHOLD):
    """Set of relations ("left of", "right of", "above", "below") of box A to box
    B, GenEval's rule: centre offset shrunk by `threshold` x (dims of A + B),
    then a direction counts if its share of the offset exceeds 0.5.

    boxes: (x0, y0, x1, y1).
    """
    a = np.asarray(box_a, np.float64).reshape(2, 2)
    b = np.asarray(box_b, np.float64).reshape(2, 2)
    offset = a.mean(0) - b.mean(0)
    dims = (a[1] - a[0]) + (b[1] - b[0])
    revised = np.maximum(np.abs(offset) - threshold * dims, 0) * np.sign(offset)
    if np.all(np.abs(revised) < 1e-3):
        return set()
    dx, dy = revised / np.linalg.norm(offset)
    relations = set()
    if dx < -0.5:
        relations.add("left of")
    if dx > 0.5:
        relations.add("right of")
    if dy < -0.5:
        relations.add("above")
    if dy > 0.5:
        relations.add("below")
    return relations


# ------------------------------------------------------------------ prompts


def _pairs(split):
    """Colour-shape pairs a prompt of `split` draws from: hold-out prompts use
    only held-out pairs for their first object, other splits never use them."""
    every = [(c, s) for c in shapes.PALETTE for s in shapes.SHAPES]
    if split == "holdout":
        return sorted(shapes.HOLDOUT_PAIRS), every
    allowed = [p for p in every if p not in shapes.HOLDOUT_PAIRS]
    return allowed, allowed


def _obj(pair, size):
    return {"color": pair[0], "shape": pair[1], "size": size}


def _spec(rng, kind, objects, relation=None):
    background = {"color": str(rng.choice(list(shapes.BACKGROUNDS)))}
    return {
        "kind": kind,
        "objects": objects,
        "relation": relation,
        "motion": "static",
        "background": background,
        "mention_background": False,
    }


def _prompt(rng, tag, first, second_pool):
    """One prompt of task `tag` whose first object is `first` (colour, shape)."""
    color, shape = first
    size = str(rng.choice(shapes.SIZES))
    others = [p for p in second_pool if p[1] != shape]  # GenEval pairs distinct classes
    second = others[rng.integers(len(others))]
    if tag in ("single_object", "colors"):
        spec = _spec(rng, "single", [_obj(first, size)])
        include = [{"class": shape, "count": 1}]
        if tag == "colors":
            include[0]["color"] = color
        return spec, include, []
    if tag == "counting":
        n = int(rng.integers(2, 4))
        spec = _spec(rng, "count", [_obj(first, size)] * n)
        return spec, [{"class": shape, "count": n}], [{"class": shape, "count": n + 1}]
    if tag == "position":
        relation = str(rng.choice(shapes.RELATIONS))
        spec = _spec(rng, "relation", [_obj(first, size), _obj(second, size)], relation)
        # GenEval lists the anchor first and points the related object at group 0.
        include = [
            {"class": second[1], "count": 1},
            {"class": shape, "count": 1, "position": [relation, 0]},
        ]
        return spec, include, []
    spec = _spec(rng, "pair", [_obj(first, size), _obj(second, size)])
    include = [{"class": shape, "count": 1}, {"class": second[1], "count": 1}]
    if tag == "color_attr":
        include[0]["color"], include[1]["color"] = color, second[0]
    return spec, include, []


def make_prompts(split="validation", per_task=24, seed=0):
    """Deterministic prompt set: up to `per_task` distinct prompts for each of
    TASKS (fewer where the grammar has fewer: 20 single objects outside the
    hold-out, 4 inside it). Evaluate SAMPLES_PER_PROMPT images per prompt.

    Returns list of dicts {tag, prompt, include, exclude, spec}.
    """
    firsts, seconds = _pairs(split)
    rng = np.random.default_rng([seed, _SPLIT_SEED[split], 7])
    prompts = []
    for tag in TASKS:
        seen = set()
        for _ in range(per_task * 50):
            if len(seen) == per_task:
                break
            spec, include, exclude = _prompt(rng, tag, firsts[rng.integers(len(firsts))], seconds)
            text = shapes.caption(spec)
            if text not in seen:
                seen.add(text)
                prompts.append(
                    {
                        "tag": tag,
                        "prompt": text,
                        "include": include,
                        "exclude": exclude,
                        "spec": spec,
                    }
                )
    return prompts


def reference_image(prompt, seed=0, height=shapes.SIZE, width=shapes.SIZE):
    """uint8 [H, W, 3]: a ground-truth render of a prompt (an oracle sample)."""
    rng = np.random.default_rng([seed, 11])
    meta = shapes.build_meta(rng, prompt["spec"], height, width, num_frames=1)
    return shapes.render_clip(meta)[0]


# ------------------------------------------------------------------ scoring


def _by_class(detections):
    """{shape: [Detection, ...]} largest first (area stands in for confidence)."""
    out = {}
    for d in detections:
        out.setdefault(d.shape, []).append(d)
    return out


def _check(req, found, groups):
    """GenEval's check of one include requirement; returns an error or ''."""
    name = req["class"]
    if len(found) < req["count"]:
        return f"expected {name}>={req['count']}, found {len(found)}"
    if "color" in req:
        hits = sum(d.color == req["color"] for d in found)
        if hits < req["count"]:
            return f"expected {req['color']} {name}>={req['count']}, found {hits}"
    if "position" in req:
        relation, target = req["position"]
        if groups[target] is None:
            return f"no target for {name} to be {relation}"
        for obj in found:
            for anchor in groups[target]:
                if relation not in relative_position(obj.box, anchor.box):
                    return f"expected {name} {relation} target"
    return ""


def score_image(prompt, image):
    """(correct, reason) of one generated image for one prompt.

    image: uint8 [H, W, 3] (or [1, H, W, 3]).
    """
    image = np.asarray(image)
    if image.ndim == 4:
        image = image[0]
    objects = _by_class(detector.detect(image))
    reasons, groups = [], []
    for req in prompt.get("include", []):
        found = objects.get(req["class"], [])[: req["count"]]
        error = _check(req, found, groups)
        reasons += [error] if error else []
        groups.append(None if error else found)
    for req in prompt.get("exclude", []):
        n = len(objects.get(req["class"], []))
        if n >= req["count"]:
            reasons.append(f"expected {req['class']}<{req['count']}, found {n}")
    return not reasons, "; ".join(reasons)


def evaluate(samples):
    """Per-task accuracy and overall score of (prompt, image) pairs.

    samples: iterable of (prompt dict, uint8 [H, W, 3]); several per prompt.
    Returns {task: accuracy for each task present, "overall": mean of those,
    "num_images": n}.
    """
    correct = {}
    for prompt, image in samples:
        ok, _ = score_image(prompt, image)
        correct.setdefault(prompt["tag"], []).append(ok)
    if not correct:
        raise ValueError("mini-GenEval got no samples")
    result = {tag: float(np.mean(correct[tag])) for tag in TASKS if tag in correct}
    result["overall"] = float(np.mean([result[t] for t in TASKS if t in result]))
    result["num_images"] = sum(len(v) for v in correct.values())
    return result
