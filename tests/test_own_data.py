# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Training on one's own records (issue 26): the silent failures of that path are
refused in one line. Eval follows the data; too few validation records still give a
loss; the run records its records' tokenizers and sample / evaluate / init_from use or
check them. Nothing here compiles a model."""

import json
import os

import numpy as np
import orbax.checkpoint as ocp
import pytest
import train_util
from flax import nnx

from lumos_jax import sample, train_lib
from lumos_jax.data import pipeline, provenance
from lumos_jax.tokenizer import checkpoint_io, text
from lumos_jax.tokenizer import config as tok_config
from lumos_jax.tokenizer import model as tok_model


def make_tokenizer(directory, seed):
    """A random tiny visual tokenizer checkpoint (tokenizer-trainer layout) -> its info."""
    _, abstract = tok_model.abstract_model(tok_config.tiny())
    state = tok_model.host_init_params(abstract, seed)
    flat = {".".join(map(str, p)): np.asarray(v.get_value()) for p, v in nnx.to_flat_state(state)}
    saver = ocp.StandardCheckpointer()
    saver.save(os.path.join(directory, "checkpoints", "5", "params"), flat)
    saver.wait_until_finished()
    checkpoint_io.write_tokenizer_config(str(directory), tok_config.tiny())
    return checkpoint_io.load_visual_tokenizer(str(directory))[1]


def write_manifest(directory, split, visual, text_sha="ee" * 32, stream="video"):
    """What prepare writes beside its shards (the fields provenance reads)."""
    manifest = {
        "streams": {stream: {"shards": [{"file": f"{stream}-{split}-00000.array_record"}]}},
        "visual_tokenizer": visual,
        "text_tokenizer": {"file": "tokenizer.json", "sha256": text_sha},
    }
    with open(os.path.join(directory, f"manifest-{split}.json"), "w") as f:
        json.dump(manifest, f)


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """Two tokenizers, train + validation records of tokenizer A (manifests), a BPE."""
    root = tmp_path_factory.mktemp("own")
    tok_a, tok_b = make_tokenizer(root / "tok_a", 0), make_tokenizer(root / "tok_b", 1)
    data = str(root / "tokens")
    train_util.learnable_records(data, n=24, split="train")
    train_util.learnable_records(data, n=3, split="validation", seed=1)
    bpe = text.train_bpe(["a clip of a rabbit", "bikes on a road"], 300)
    bpe.save(os.path.join(data, "tokenizer.json"))
    sha = text.load(os.path.join(data, "tokenizer.json"), train_util.VOCAB).fingerprint()
    for split in ("train", "validation"):
        write_manifest(data, split, tok_a, sha)
    return dict(root=root, data=data, tok_a=tok_a, tok_b=tok_b, text_sha=sha)


def with_records_vocab(c):
    """The records' vocabulary (train_util's), whatever the tiny preset's codebook is."""
    v = train_util.VOCAB
    c.vocab.update(text_tokens=v.text_size - v.first_text_id, visual_size=v.visual_size)
    c.model.update(vocab_size=v.size, visual_size=v.visual_size)
    return c


def own_config(own, **kw):
    c = with_records_vocab(train_util.small_config(own["data"], **kw))
    c.eval_sources = f"array_record:{own['data']}/video-validation-*.array_record"
    return c


# ------------------------------------------------------------------ eval follows the data


def test_overriding_the_training_sources_alone_is_refused_naming_eval_sources(own):
    c = own_config(own)
    c.eval_sources = "builtin:video-validation"  # what the tiny preset keeps
    with pytest.raises(ValueError, match=r"eval_sources='builtin:video-validation'.*"):
        train_lib.validate_config(c)
    c.eval_sources = ""  # eval off, said explicitly: fine
    train_lib.validate_config(c)


def test_fewer_validation_records_than_a_batch_still_give_a_loss(own):
    c = own_config(own)  # batch 8, 3 validation records
    eval_cfg = train_lib.eval_data_config(c)
    batches = list(pipeline.make_iterator(eval_cfg, process_index=0, process_count=1))
    assert len(batches) == 1
    labelled = (batches[0]["labels"] >= 0).any(axis=1)
    assert labelled.tolist() == [True] * 3 + [False] * 5  # filler rows carry no loss

    class Trainer:
        device_batch = staticmethod(lambda b: b)

    class Writer:
        rows = []
        write_scalars = staticmethod(lambda step, s: Writer.rows.append(s))

    def eval_fn(params, batch):
        mask = batch["labels"] >= 0
        return {"nll": float(mask.sum()) * 2.5, "count": float(mask.sum())}

    loss = train_lib.evaluate(Writer(), 1, eval_fn, None, Trainer(), eval_cfg, c)
    assert loss == pytest.approx(2.5) and Writer.rows == [{"eval_loss": 2.5}]
    with pytest.raises(ValueError, match="no held-out token"):
        train_lib.evaluate(
            Writer(), 1, lambda p, b: {"nll": 0.0, "count": 0.0}, None, Trainer(), eval_cfg, c
        )


# ------------------------------------------------------------------ the run's tokenizers


class _Checkpointer:
    def __init__(self, workdir):
        self.directory = os.path.join(workdir, "checkpoints")

    def restore_latest(self, target):
        return None


class _Trainer:
    def abstract_state(self):
        return {"params": None}


def test_the_run_records_its_records_tokenizers_and_a_resume_checks_them(own, tmp_path):
    c = own_config(own)
    work = str(tmp_path / "run")
    os.makedirs(work)
    got = train_lib.record_data_tokenizers(c, work)
    with open(os.path.join(work, provenance.RUN_FILE)) as f:
        recorded = json.load(f)
    assert recorded["visual_tokenizer"]["params_sha256"] == own["tok_a"]["params_sha256"]
    assert (
        recorded["text_tokenizer"]["sha256"] == own["text_sha"] == got["text_tokenizer"]["sha256"]
    )
    # The same workdir on records of tokenizer B: refused, naming both.
    other = str(tmp_path / "other")
    train_util.learnable_records(other, n=8)
    write_manifest(other, "train", own["tok_b"], own["text_sha"])
    c.data.streams.video.sources = f"array_record:{other}/video-train-*.array_record"
    c.eval_sources = ""
    with pytest.raises(ValueError) as e:
        train_lib.record_data_tokenizers(c, work)
    assert own["tok_a"]["id"] in str(e.value) and own["tok_b"]["id"] in str(e.value)


def test_validation_records_of_another_tokenizer_are_refused(own, tmp_path):
    other = str(tmp_path / "val")
    train_util.learnable_records(other, n=4, split="validation")
    write_manifest(other, "validation", own["tok_b"], own["text_sha"])
    c = own_config(own)
    c.eval_sources = f"array_record:{other}/video-validation-*.array_record"
    with pytest.raises(ValueError, match="eval_sources holds records of visual tokenizer"):
        provenance.data_tokenizers(c)


def test_init_from_params_of_another_visual_tokenizer_is_refused(own, tmp_path):
    params = tmp_path / "params"
    params.mkdir()
    (params / "export_info.json").write_text(json.dumps({"visual_tokenizer": own["tok_b"]}))
    c = own_config(own)
    c.init_from = str(params)
    work = str(tmp_path / "run")
    os.makedirs(work)
    with pytest.raises(ValueError, match="config init_from=") as e:
        train_lib.initial_state(c, _Trainer(), _Checkpointer(work), None)
    assert own["tok_a"]["id"] in str(e.value) and own["tok_b"]["id"] in str(e.value)
    # A training workdir's step dir is read through its tokenizers.json too.
    run_b = tmp_path / "run_b"
    (run_b / "checkpoints" / "10").mkdir(parents=True)
    provenance.write_run_record(str(run_b), {"visual_tokenizer": own["tok_b"]})
    c.init_from = str(run_b / "checkpoints" / "10")
    with pytest.raises(ValueError, match="different tokenizers"):
        train_lib.initial_state(c, _Trainer(), _Checkpointer(work), None)


def _sample_workdir(own, tmp_path):
    work = tmp_path / "t2v"
    (work / "checkpoints" / "3" / "state").mkdir(parents=True)  # its params are never read
    entry = provenance.source_tokenizers(f"array_record:{own['data']}/video-train-*.array_record")
    provenance.write_run_record(str(work), entry)
    return str(work)


def test_sample_uses_the_runs_tokenizers_and_refuses_others(own, tmp_path):
    work = _sample_workdir(own, tmp_path)
    c = sample_config()
    recorded = provenance.use_run_tokenizers(c.sampling, work)  # the preset's defaults
    assert c.sampling.tokenizer_ckpt == own["tok_a"]["checkpoint"]
    assert c.sampling.text_tokenizer == os.path.join(own["data"], "tokenizer.json")
    assert recorded["visual_tokenizer"]["params_sha256"] == own["tok_a"]["params_sha256"]
    tok_b = str(own["root"] / "tok_b")
    req = sample.Request(
        out=str(tmp_path / "out"), prompts=["a rabbit"], workdir=work, tokenizer_ckpt=tok_b
    )
    with pytest.raises(ValueError, match="different tokenizers") as e:
        sample.run(sample_config(), req)
    assert own["tok_a"]["id"] in str(e.value) and own["tok_b"]["id"] in str(e.value)
    shipped_bpe = str(tmp_path / "bpe.json")
    text.train_bpe(["something else entirely"], 300).save(shipped_bpe)
    req = sample.Request(
        out=str(tmp_path / "out"), prompts=["a rabbit"], workdir=work, text_tokenizer=shipped_bpe
    )
    with pytest.raises(ValueError, match="text tokenizer sha256"):
        sample.run(sample_config(), req)


def sample_config():
    from lumos_jax import config_lib

    c = with_records_vocab(config_lib.experiment("t2v", "tiny"))
    c.sampling.update(height=32, width=32, frames=9, steps=2, fast_compile=True)
    return c


def test_the_evaluate_help_example_uses_flags_that_exist():
    """Issue 26: `evaluate --help` showed --tokenizer_ckpt, which evaluate does not define."""
    import re

    from lumos_jax import cli, evaluate

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    example = evaluate.__doc__.split("\n\n")[1]
    args = re.findall(r"--[\w.]+=\S+", example)
    source = open(evaluate.__file__).read()
    for arg in args:
        name = arg[2:].split("=")[0]
        if not name.startswith("config"):
            assert re.search(rf'DEFINE_\w+\(\s*"{name}"', source), arg
    config_args = [
        a.replace("configs/", f"{root}/configs/", 1) for a in args if a.startswith("--config")
    ]
    cli.check_config_overrides(config_args)  # raises on a key the config lacks
