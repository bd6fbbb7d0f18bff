# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The tiny presets' built-in data (lumos_jax/data/builtin.py): made on first use with
the visual tokenizer, keyed by its fingerprint, never left half-built; and the README's
`python -m lumos_jax.train --config=configs/t2v.py:tiny` on a fresh cache."""

import json
import logging
import os

import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import nnx
from train_util import losses

from lumos_jax import config_lib, train_loop
from lumos_jax.data import builtin
from lumos_jax.tokenizer import checkpoint_io
from lumos_jax.tokenizer import config as tokenizer_config
from lumos_jax.tokenizer import model as model_lib

SMALL = {"train": 8, "validation": 4}


def _tokenizer(workdir, seed):
    """A tiny visual tokenizer checkpoint in lumos_jax.tokenizer.train's layout."""
    model = model_lib.create(tokenizer_config.get("tiny"), seed=seed)
    flat = {
        ".".join(map(str, p)): np.asarray(v.get_value())
        for p, v in nnx.to_flat_state(nnx.state(model, nnx.Param))
    }
    saver = ocp.StandardCheckpointer()
    saver.save(str(workdir / "checkpoints" / "1" / "params"), flat)
    saver.wait_until_finished()
    checkpoint_io.write_tokenizer_config(str(workdir), tokenizer_config.get("tiny"))
    return str(workdir)


@pytest.fixture(scope="module")
def toks(tmp_path_factory):
    return [_tokenizer(tmp_path_factory.mktemp(f"tok{s}"), s) for s in (0, 1)]


@pytest.fixture
def small_build(monkeypatch, tmp_path, toks):
    """The built-in data at test size, in a fresh cache, from a tiny tokenizer."""
    monkeypatch.setattr(builtin, "SPLITS", SMALL)
    monkeypatch.setattr(
        builtin, "PREPARE_OPTIONS", dict(batch_size=4, fast_compile=True, decode_threads=1)
    )
    monkeypatch.setattr(builtin, "SHIPPED_TOKENIZER", toks[0])
    monkeypatch.setattr(builtin, "CACHE_ROOT", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_first_use_builds_once_keyed_by_the_tokenizer(small_build, toks, monkeypatch):
    first = builtin.ensure()
    sha = builtin.tokenizer_fingerprint(toks[0])
    name = f"{sha[:16]}-{builtin.recipe_hash(SMALL)[:8]}"
    assert first == str(small_build / name)
    for split, n in SMALL.items():
        manifest = json.loads(open(os.path.join(first, f"manifest-{split}.json")).read())
        assert manifest["visual_tokenizer"]["params_sha256"] == sha
        assert manifest["counts"]["records"] == 2 * n  # video + image streams
    assert os.path.exists(os.path.join(first, "tokenizer.json"))
    assert sorted(os.listdir(small_build)) == [name, name + ".lock"]

    def no_rebuild(out, *args):
        raise AssertionError(f"rebuilt {out}")

    monkeypatch.setattr(builtin, "prepare_split", no_rebuild)
    assert builtin.ensure() == first  # the second run reuses it
    with pytest.raises(AssertionError, match="rebuilt"):  # another tokenizer: its own dir
        builtin.ensure(toks[1])
    assert builtin.tokenizer_fingerprint(toks[1]) != sha
    monkeypatch.setattr(builtin, "SPLITS", {"train": 9, "validation": 4})
    with pytest.raises(AssertionError, match="rebuilt"):  # another recipe: its own dir
        builtin.ensure()


def test_a_killed_first_build_leaves_no_half_dataset(small_build, monkeypatch):
    real_split = builtin.prepare_split

    def killed_at_validation(out, tokenizer_ckpt, split, num):
        if split == "validation":
            raise KeyboardInterrupt  # what Ctrl+C does mid-way
        return real_split(out, tokenizer_ckpt, split, num)

    monkeypatch.setattr(builtin, "prepare_split", killed_at_validation)
    with pytest.raises(KeyboardInterrupt):
        builtin.ensure()
    names = os.listdir(small_build)
    assert [n for n in names if not n.endswith((".partial", ".lock"))] == [], names
    (partial,) = [n for n in names if n.endswith(".partial")]
    train_shard = small_build / partial / "video-train-00000.array_record"
    made = train_shard.stat().st_mtime_ns
    monkeypatch.setattr(builtin, "prepare_split", real_split)
    done = builtin.ensure()  # resumes: the finished train shards are kept
    assert os.path.isdir(done) and not os.path.exists(done + ".partial")
    assert os.path.exists(os.path.join(done, "manifest-validation.json"))
    assert os.stat(os.path.join(done, "video-train-00000.array_record")).st_mtime_ns == made


def test_a_failed_build_is_one_clear_error(small_build, monkeypatch):
    monkeypatch.setattr(builtin, "PREPARE_OPTIONS", dict(batch_size=0))
    with pytest.raises(
        ChildProcessError, match="making the built-in records failed \\(train split, exit code"
    ):
        builtin.ensure()


def test_a_directory_of_another_tokenizer_is_refused(small_build, toks):
    d = builtin.ensure()
    manifest = os.path.join(d, "manifest-train.json")
    m = json.loads(open(manifest).read())
    m["visual_tokenizer"]["params_sha256"] = "0" * 64
    with open(manifest, "w") as f:
        json.dump(m, f)
    with pytest.raises(ValueError, match="names another tokenizer.*delete that directory"):
        builtin.ensure()


def test_resolve_names_the_records_and_tokenizers(small_build, toks):
    c = config_lib.experiment("t2v", "tiny")
    assert c.data.streams.video.sources == "builtin:video-train"
    changed = builtin.resolve(c)
    d = builtin.ensure()
    assert changed == {
        "data.streams.video.sources": f"array_record:{d}/video-train-*.array_record",
        "eval_sources": f"array_record:{d}/video-validation-*.array_record",
    }
    assert c.data.streams.image.sources == "builtin:image-train"  # weight 0: never opened
    builtin.resolve(c, builtin.TOKENIZER_KEYS)
    assert c.sampling.text_tokenizer == os.path.join(d, "tokenizer.json")
    assert c.sampling.tokenizer_ckpt == toks[0]
    t2i = config_lib.experiment("t2i", "tiny")
    builtin.resolve(t2i)
    assert t2i.data.streams.image.sources == f"array_record:{d}/image-train-*.array_record"
    c.eval_sources = "builtin:videos"
    with pytest.raises(ValueError, match="unknown built-in name 'videos'"):
        builtin.resolve(c)


def test_missing_tokenizer_is_a_clear_error(small_build, monkeypatch, tmp_path):
    monkeypatch.setattr(builtin, "SHIPPED_TOKENIZER", str(tmp_path / "assets" / "tok"))
    with pytest.raises(FileNotFoundError, match="restore assets/"):
        builtin.resolve(config_lib.experiment("t2v", "tiny"))


def test_tiny_config_trains_on_a_fresh_cache(small_build, tmp_path, caplog):
    """What `python -m lumos_jax.train --config=configs/t2v.py:tiny` does on a fresh
    clone (a smaller model and dataset): records made, trained, evaluated, progress shown."""
    c = config_lib.experiment("t2v", "tiny")
    c.model.update(
        num_layers=1, embed_dim=64, num_heads=2, num_kv_heads=2, head_dim=32, mlp_dim=128
    )
    c.data.batch_size = 8
    c.vocab.visual_size = 1000  # the test's stand-in tokenizer (FSQ `tiny`) has 1000 codes
    c.mesh.update(data=-1, fsdp=1, tensor=1)
    c.train.update(steps=2, log_every=1, checkpoint_every=2, eval_every=2, eval_batches=1)
    work = str(tmp_path / "work")
    with caplog.at_level(logging.INFO):
        assert train_loop.run(c, work) == 2
    assert sorted(losses(work)) == [1, 2]
    saved = json.loads(open(os.path.join(work, "config.json")).read())
    assert saved["data"]["streams"]["video"]["sources"].startswith(
        f"array_record:{builtin.ensure()}/video-train-"
    )
    text = caplog.text
    assert "first use of the tiny presets' built-in data" in text
    assert "train step 2/2 (100%): loss " in text and "step/s, ETA 0s" in text
    assert "train step 2: eval loss " in text  # eval_every=2 on the built-in validation
