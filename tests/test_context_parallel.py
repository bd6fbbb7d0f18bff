# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Context parallelism (issue 24) against one device, on the emulated 8-device CPU mesh.

The reference is the one-device step (no context axis: sequences in natural order, plain
attention). Float tolerance: float32 with 'highest' matmul precision (conftest); the
split step sums in another order, so loss sums agree to 1e-5 relative and every
gradient leaf to 1e-5 of its largest entry (measured: <= 6e-7).
"""

import jax
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from model_util import VOCAB, tiny_config
from train_util import learnable_records, losses, small_config

from lumos_jax import config_lib, layout, parallel, sampling, train_loop
from lumos_jax.layout import PAD
from lumos_jax.model import attention
from lumos_jax.model import context_parallel as cp
from lumos_jax.sampling.sampler import Sampler
from lumos_jax.train_step import Trainer

RTOL = 1e-5
SEQ = 200  # c = 8: 16 chunks of 13 tokens; frames of 12-20 tokens cross them


def test_layout_puts_an_early_and_a_late_chunk_on_each_device():
    np.testing.assert_array_equal(cp.chunk_order(2), [0, 3, 1, 2])
    idx = cp.layout_indices(10, 2)  # padded to 12, chunks of 3
    np.testing.assert_array_equal(idx, [0, 1, 2, 9, 10, 11, 3, 4, 5, 6, 7, 8])
    back = np.asarray(cp.natural_order(np.asarray(idx)[None], 2))[0]
    np.testing.assert_array_equal(back, np.arange(12))


def test_balanced_split_evens_out_the_causal_work():
    seg = np.full(4096, layout.CAUSAL, np.int32)
    seg[100:4000] = np.arange(3900) // 500  # frames of 500 tokens
    for c in (2, 4, 8):
        before = cp.device_work(seg, c, balanced=False)
        after = cp.device_work(seg, c, balanced=True)
        assert before.sum() == after.sum()
        assert before.max() / before.mean() > 1.3
        assert after.max() / after.mean() < 1.05, (c, after)


def _case(c, rng):
    b, s, h, hk, d = 2, 90, 4, 2, 16
    q, k, v = (rng.normal(size=(b, s, n, d)).astype(np.float32) for n in (h, hk, hk))
    seg = np.full((b, s), layout.CAUSAL, np.int32)
    seg[0, 5:35], seg[0, 35:70], seg[0, 80:] = 0, 1, PAD  # frames, text, padding
    seg[1, 3:60] = np.arange(57) // 19
    return q, k, v, seg


@pytest.mark.parametrize("c,path", [(2, "xla"), (8, "blockwise")])
def test_sharded_attention_equals_dense(c, path):
    q, k, v, seg = _case(c, np.random.default_rng(c))
    idx = np.broadcast_to(np.arange(q.shape[1], dtype=np.int32), seg.shape)
    w = np.random.default_rng(1).normal(size=q.shape).astype(np.float32)
    real = (seg != PAD)[:, :, None, None]

    def ref(q, k, v):
        out = attention.dense_attention(q, k, v, idx, seg, idx, seg)
        return (out * w * real).sum()

    mesh = parallel.make_mesh({"data": 1, "fsdp": 1, "context": c, "tensor": 8 // c})

    def split(q, k, v):
        bal = cp.balance({"q": q, "k": k, "v": v, "w": w * real, "segments": seg}, c)
        out = cp.attention(
            bal["q"], bal["k"], bal["v"], bal["indices"], bal["segments"], path=path,
            block_q=8, block_k=8,
        )  # fmt: skip
        return (out * bal["w"]).sum()

    want = jax.value_and_grad(ref, argnums=(0, 1, 2))(q, k, v)
    with jax.set_mesh(mesh):
        got = jax.jit(jax.value_and_grad(split, argnums=(0, 1, 2)))(q, k, v)
    np.testing.assert_allclose(got[0], want[0], rtol=RTOL)
    for g, r in zip(got[1], want[1]):
        np.testing.assert_allclose(np.asarray(g), np.asarray(r), atol=RTOL * np.abs(r).max())


# ------------------------------------------------------------------ the train step
def _config(mesh, attention_path):
    c = config_lib.experiment("t2v", "tiny")
    c.model.update(
        num_layers=2, embed_dim=64, num_heads=4, num_kv_heads=2, head_dim=32, mlp_dim=128,
        dtype="float32", attention=attention_path, block_q=16, block_k=16,
    )  # fmt: skip
    c.loss.chunk = 32
    c.mesh.update(**mesh)
    return c


def _batch(vocab):
    """Image rows (1 frame) and video rows (3-4 frames), captions of several lengths,
    right padding: every frame boundary falls somewhere inside a shard at c = 2..8."""
    rng = np.random.default_rng(0)
    rows = []
    for frames, h, w in [(1, 3, 4), (3, 2, 3), (4, 2, 2), (1, 4, 4)]:
        text = rng.integers(vocab.first_text_id, vocab.text_size, int(rng.integers(3, 9)))
        codes = rng.integers(0, vocab.visual_size, (frames, h, w))
        seq = layout.build_sequence(
            text, codes, fps=4, duration=1, height=h * 8, width=w * 8, vocab=vocab
        )
        rows.append(layout.pad_to(seq, SEQ, vocab))
    out = {k: np.stack([r[k] for r in rows]).astype(np.int32) for k in rows[0]}
    out["labels"] = np.where(out["visual"] == 1, out["tokens"], -1).astype(np.int32)
    assert (out["segments"] == PAD).any() and (out["labels"] >= 0).any()
    return out


def _grads(mesh_shape, attention_path, devices=None):
    c = _config(mesh_shape, attention_path)
    mesh = parallel.make_mesh(dict(c.mesh), devices=devices)
    trainer = Trainer(c, mesh)
    state = trainer.init_state(0)
    batch = trainer.device_batch(_batch(layout.vocab_from_config(c.vocab)))
    with jax.set_mesh(mesh):
        grads, sums = jax.jit(trainer._grads)(state["params"], batch)
    return jax.device_get((grads, sums))


@pytest.fixture(scope="module")
def one_device():
    return _grads(dict(data=1, fsdp=1, context=1, tensor=1), "dense", jax.devices()[:1])


@pytest.mark.parametrize(
    "mesh,path",
    [
        (dict(data=1, fsdp=1, context=2, tensor=4), "dense"),
        (dict(data=2, fsdp=1, context=4, tensor=1), "blockwise"),
        (dict(data=1, fsdp=1, context=8, tensor=1), "blockwise"),
        (dict(data=1, fsdp=2, context=4, tensor=1), "blockwise"),
    ],
)
def test_train_step_on_a_context_mesh_equals_one_device(one_device, mesh, path):
    (want_g, want_s), (got_g, got_s) = one_device, _grads(mesh, path)
    for key in want_s:  # loss sums, token counts and the per-frame metrics
        np.testing.assert_allclose(got_s[key], want_s[key], rtol=RTOL, err_msg=key)
    for g, r in zip(jax.tree.leaves(got_g), jax.tree.leaves(want_g)):
        np.testing.assert_allclose(g, r, atol=RTOL * np.abs(r).max())


def test_params_are_sharded_over_fsdp_and_context():
    c = _config(dict(data=1, fsdp=2, context=4, tensor=1), "dense")
    trainer = Trainer(c, parallel.make_mesh(dict(c.mesh)))
    assert trainer.param_shardings["lm_head"].spec == P(("fsdp", "context"), "tensor")
    batch = trainer.abstract_batch(8, SEQ)["tokens"].sharding
    assert batch == NamedSharding(trainer.mesh, P(("data", "fsdp")))


# ------------------------------------------------------------- a run, and its resume
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return learnable_records(str(tmp_path_factory.mktemp("records")))


def test_a_run_with_context_4_gives_the_losses_of_context_1_and_resumes(data_dir, tmp_path):
    ref = str(tmp_path / "ref")
    train_loop.run(small_config(data_dir, steps=6, checkpoint_every=4), ref)
    work = str(tmp_path / "ctx")
    cfg = small_config(data_dir, steps=6, checkpoint_every=4)
    cfg.mesh.update(data=2, context=4)
    train_loop.run(cfg, work, crash_after=5)  # checkpoint at 4, killed after 5
    train_loop.run(cfg, work)  # resumes from 4 on the same context mesh
    want, got = losses(ref), losses(work)
    assert sorted(got) == sorted(want) == [1, 2, 3, 4, 5, 6]
    for step in want:
        assert got[step] == pytest.approx(want[step], rel=RTOL), step


def test_sampling_on_a_context_mesh_is_refused_in_one_line():
    mesh = parallel.make_mesh({"data": 2, "fsdp": 1, "context": 4, "tensor": 1})
    settings = sampling.Settings.from_config(
        sampling.default_config(), max_size_value=VOCAB.max_size_value
    )
    with pytest.raises(ValueError, match="mesh.context=1, not 4"):
        Sampler(tiny_config(), settings, VOCAB, batch=2, prompt_len=16, mesh=mesh)


def test_auto_attention_on_a_context_mesh():
    from lumos_jax.model import attention_choice as ac
    from lumos_jax.model.config import ModelConfig

    cfg = ModelConfig.from_dict(config_lib.experiment("t2v", "3.6b-384p").model.to_dict())
    seqs = [29184]
    assert ac.choose(cfg, "tpu", seqs)[0] == "splash"
    assert ac.choose(cfg, "tpu", seqs, context=4)[0] == "blockwise"
    assert ac.choose(cfg, "gpu", seqs, "9.0")[0] == "blockwise"  # [S, S] bias: 2.4 GiB
    assert ac.choose(cfg, "gpu", seqs, "9.0", context=8)[0] == "cudnn"  # [S/8, S]
