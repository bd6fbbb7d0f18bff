"""Training loop: determinism, exact resume, mesh change, preemption, NaN abort, learning."""

import os
import signal
import subprocess
import sys
import time

import pytest
from train_util import checkpoint_steps, learnable_records, losses, small_config

from lumos_jax import train_lib, train_loop


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return learnable_records(str(tmp_path_factory.mktemp("records")))


def test_same_seed_same_losses_and_exact_resume(data_dir, tmp_path):
    full = str(tmp_path / "full")
    assert train_loop.run(small_config(data_dir, steps=8), full) == 8
    again = str(tmp_path / "again")
    train_loop.run(small_config(data_dir, steps=8), again)
    assert losses(full) == losses(again)  # bit-identical
    # Killed after step 6 (last checkpoint at 4, metrics up to 4), then resumed to 8.
    part = str(tmp_path / "part")
    train_loop.run(small_config(data_dir, steps=8, checkpoint_every=4), part, crash_after=6)
    assert checkpoint_steps(part) == [4]
    train_loop.run(small_config(data_dir, steps=8, checkpoint_every=4), part)
    resumed = losses(part)
    for step in (5, 6, 7, 8):
        assert resumed[step] == losses(full)[step], step


def test_restore_onto_a_different_mesh(data_dir, tmp_path):
    ref = str(tmp_path / "ref")
    train_loop.run(small_config(data_dir, steps=6), ref)
    work = str(tmp_path / "work")
    train_loop.run(small_config(data_dir, steps=6, checkpoint_every=4), work, crash_after=4)
    cfg = small_config(data_dir, steps=6, checkpoint_every=4)
    cfg.mesh.update(data=2, fsdp=2, tensor=2)
    train_loop.run(cfg, work)
    for step in (5, 6):
        assert losses(work)[step] == pytest.approx(losses(ref)[step], rel=1e-5)


def test_non_finite_loss_aborts_with_a_clear_message(data_dir, tmp_path):
    cfg = small_config(data_dir, steps=6)
    cfg.optim.update(lr=1e30, warmup_steps=0, clip=1e30)
    with pytest.raises(train_lib.NonFiniteError, match="non-finite"):
        train_loop.run(cfg, str(tmp_path / "nan"))


def test_short_run_lowers_the_loss(data_dir, tmp_path):
    work = str(tmp_path / "learn")
    cfg = small_config(data_dir, steps=60, log_every=5, checkpoint_every=1000)
    cfg.optim.update(lr=3e-3, warmup_steps=5, schedule="constant")
    train_loop.run(cfg, work)
    curve = losses(work)
    assert curve[60] < curve[5] - 1.5, curve  # 6.9 nats = uniform over 1000 codes


def test_preemption_saves_and_exits(data_dir, tmp_path):
    """SIGTERM mid-run: the step in flight finishes, is checkpointed, the process exits 0."""
    work = tmp_path / "pre"
    cmd = [
        sys.executable,
        "-m",
        "lumos_jax.train",
        "--config=configs/t2v.py:tiny",
        f"--workdir={work}",
        "--config.train.steps=100000",
        "--config.train.log_every=1",
        "--config.train.checkpoint_every=100000",
        "--config.model.num_layers=1",
        "--config.model.embed_dim=64",
        "--config.model.num_heads=2",
        "--config.model.num_kv_heads=2",
        "--config.model.mlp_dim=128",
        "--config.data.streams.video.seq_len=128",
        "--config.data.batch_size=8",
        "--config.vocab.visual_size=1000",  # the records' ids (train_util.VOCAB)
        "--config.eval_sources=",
        f"--config.data.streams.video.sources=array_record:{data_dir}/video-train-*",
    ]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    while time.time() < deadline and len(losses_or_empty(work)) < 3:
        time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 0, out[-3000:]
    steps = checkpoint_steps(str(work))
    assert len(steps) == 1 and 3 <= steps[0] < 100000, (steps, out[-2000:])
    assert max(losses(str(work))) == steps[0]


def losses_or_empty(work):
    try:
        return losses(str(work))
    except FileNotFoundError:
        return {}


def test_typo_in_a_config_key_is_an_error(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "lumos_jax.train",
            "--config=configs/t2v.py:tiny",
            f"--workdir={tmp_path}",
            "--config.train.stpes=3",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode != 0 and "stpes" in r.stderr


def test_init_from_an_earlier_stage_checkpoint(data_dir, tmp_path):
    """Stage-wise recipe: a new run (empty workdir) starts from another run's parameters,
    not from its optimizer state or step; the workdir's own checkpoint wins afterwards."""
    import jax
    import numpy as np

    from lumos_jax import checkpoint, parallel
    from lumos_jax.train_step import Trainer

    stage1 = str(tmp_path / "stage1")
    train_loop.run(small_config(data_dir, steps=3, checkpoint_every=3), stage1)
    cfg = small_config(data_dir, steps=2, checkpoint_every=2)
    cfg.init_from = os.path.join(stage1, "checkpoints", "3")
    trainer = Trainer(cfg, parallel.make_mesh(dict(cfg.mesh)))
    params = train_lib.load_init_params(cfg.init_from, trainer)
    saved = checkpoint.Checkpointer(os.path.join(stage1, "checkpoints")).restore(
        trainer.abstract_state(), 3
    )[1]["params"]
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(saved)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # A params-only export (what the demo ships) restores to the same weights.
    from lumos_jax import export

    exported = str(tmp_path / "exported")
    info = export.export_params(cfg.init_from, exported, note="test")
    assert info["step"] == 3 and info["model"]["num_layers"] == cfg.model.num_layers
    assert info["num_params"] == sum(np.size(x) for x in jax.tree.leaves(saved))
    again = train_lib.load_init_params(exported, trainer)
    for a, b in zip(jax.tree.leaves(again), jax.tree.leaves(saved)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(FileExistsError, match="exists"):
        export.export_params(cfg.init_from, exported)
    with pytest.raises(FileNotFoundError, match="no state/"):
        export.export_params(stage1, str(tmp_path / "x"))
    stage2 = str(tmp_path / "stage2")
    assert train_loop.run(cfg, stage2) == 2  # starts at step 0 from stage 1's weights
    first = losses(stage2)[1]
    assert first < losses(stage1)[1]  # already trained: lower than a fresh start


def test_a_checkpoint_cut_off_mid_write_is_never_used(tmp_path):
    """Orbax writes into '<step>.orbax-checkpoint-tmp-*' and renames when complete: a
    leftover temporary directory (a save killed mid-write) is neither listed nor restored."""
    import jax.numpy as jnp

    from lumos_jax import checkpoint

    state = {"w": jnp.arange(4.0)}
    ck = checkpoint.Checkpointer(str(tmp_path / "ck"), async_save=False)
    ck.save(5, state, {"next_batch": 5}, force=True)
    ck.close()
    partial = tmp_path / "ck" / "9.orbax-checkpoint-tmp-1234" / "state"
    partial.mkdir(parents=True)
    (partial / "garbage").write_bytes(b"\0" * 10)
    ck = checkpoint.Checkpointer(str(tmp_path / "ck"), async_save=False)
    assert ck.latest_step() == 5
    step, restored, data, _ = ck.restore({"w": jnp.zeros(4)})
    assert step == 5 and data["next_batch"] == 5
    assert restored["w"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_loading_checkpoint_params_logs_no_orbax_warning(data_dir, tmp_path, caplog):
    """The sampler's shape check and the export read a step's `state/` item metadata;
    through a Checkpointer Orbax warned on every load that the step's metadata file is
    missing from the item directory (CheckpointManager keeps it one level up)."""
    import logging

    from lumos_jax import export, layout, parallel
    from lumos_jax.sampling import loaders

    work = str(tmp_path / "w")
    cfg = small_config(data_dir, steps=2, checkpoint_every=2)
    train_loop.run(cfg, work)
    mesh = parallel.make_mesh(dict(cfg.mesh))
    model = (loaders.model_config(cfg, mesh), mesh, layout.vocab_from_config(cfg.vocab))
    with caplog.at_level(logging.WARNING):
        _, path = loaders.load_decoder_params(*model, workdir=work)
        export.export_params(path, str(tmp_path / "exported"))
        loaders.load_decoder_params(*model, checkpoint=str(tmp_path / "exported"))
    assert "Metadata file does not exist" not in caplog.text, caplog.text
