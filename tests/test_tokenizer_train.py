# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Tokenizer trainer: two steps on tiny clips, eval + gifs + checkpoint, then resume."""

import importlib.util
import json
import os

import numpy as np
import pytest
from flax import nnx

from lumos_jax.tokenizer import checkpoint_io, clips, losses
from lumos_jax.tokenizer import config as tokenizer_config
from lumos_jax.tokenizer import model as model_lib
from lumos_jax.tokenizer import train_loop as train

_CONFIG_PATH = os.path.join(os.path.dirname(__file__), "..", "configs", "tokenizer.py")


def _get_config(arg):
    spec = importlib.util.spec_from_file_location("tokenizer_config", _CONFIG_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(arg)


def _small_run(num_frames=5, num_train_clips=4, steps=1, **kw):
    """The tiny preset on 16 x 16 clips, 2 per batch, evaluated and saved every step."""
    c = _get_config("tiny")
    c.data.update(
        num_frames=num_frames,
        height=16,
        width=16,
        num_train_clips=num_train_clips,
        num_eval_clips=2,
    )
    c.update(
        fast_compile=True,
        batch_size=2,
        steps=steps,
        warmup_steps=1,
        log_every=1,
        eval_every=steps,
        ckpt_every=steps,
        num_gifs=0,
    )
    c.update(kw)
    return c


def test_configs_build():
    assert _get_config("dv4x8x8").model.channels == 128
    assert tuple(_get_config("tiny").model.levels) == (8, 5, 5, 5)
    # The ShapesMotion recipe trains the `small` architecture (assets/tokenizer_shapes).
    assert _get_config("shapes").model == _get_config("small").model
    assert _get_config("shapes").model.channels == 64
    assert _get_config("shapes").fg_weight > 0
    assert _get_config("shapes").lr_schedule == "cosine"


def test_cosine_schedule_values():
    # warmup 10 to lr 1e-3, then cosine to 1e-3 * 0.05 at step 110: check three points
    # against the closed form lr * (alpha + (1 - alpha) * (1 + cos(pi * t / T)) / 2).
    c = _get_config("tiny")
    c.update(
        lr=1e-3,
        warmup_steps=10,
        steps=110,
        lr_schedule="cosine",
        end_lr_ratio=0.05,
        grad_clip=1e9,
        weight_decay=0.0,
        b1=0.0,
        b2=0.0,
    )
    params = {"w": np.zeros((2, 2), np.float32)}
    tx = train.make_optimizer(c, params)
    state = tx.init(params)
    steps_lr = []
    for step in range(111):
        # With b1 = b2 = 0 Adam's update is -lr * g / (|g| + eps) = -lr for g = 1.
        upd, state = tx.update({"w": np.ones((2, 2), np.float32)}, state, params)
        steps_lr.append(-float(upd["w"][0, 0]))
    expect = lambda t: 1e-3 * (0.05 + 0.95 * (1 + np.cos(np.pi * t / 100)) / 2)
    np.testing.assert_allclose(steps_lr[5], 1e-3 * 5 / 10, rtol=1e-4)
    for t in (0, 50, 100):
        np.testing.assert_allclose(steps_lr[10 + t], expect(t), rtol=1e-4)
    c.lr_schedule = "linear"
    with pytest.raises(ValueError, match="lr_schedule"):
        train.make_optimizer(c, params)


def test_synthetic_clips_and_npy_source(tmp_path):
    a = clips.synthetic_clips(3, 5, 16, 16, seed=0)
    assert a.shape == (3, 5, 16, 16, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, clips.synthetic_clips(3, 5, 16, 16, seed=0))
    assert np.abs(np.diff(a.astype(int), axis=1)).sum() > 0  # something moves
    np.save(tmp_path / "c.npy", a)
    b = clips.load_clips(clips.get_source(f"npy:{tmp_path}/c.npy"), 2, 5, 16, 16, 0)
    np.testing.assert_array_equal(b, a[:2])
    with pytest.raises(ValueError, match="frames of 16x16 px"):  # no silent top-left crop
        clips.load_clips(clips.get_source(f"npy:{tmp_path}/c.npy"), 2, 5, 8, 16, 0)


def test_train_eval_checkpoint_resume(tmp_path):
    c = _small_run(num_frames=5, num_train_clips=8, steps=2, num_gifs=1)
    workdir = str(tmp_path / "run")
    out = train.train_and_evaluate(c, workdir)
    assert out["step"] == 2 and np.isfinite(out["train/loss"]) and out["eval/psnr"] > 0
    assert 0 < out["eval/code_usage"] <= 1
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["2"]
    assert os.listdir(os.path.join(workdir, "gifs")) == ["step000002_clip0.gif"]
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    assert [r["step"] for r in rows if "train/loss" in r] == [1, 2]
    # Resuming at the final step restores and trains no further.
    assert train.train_and_evaluate(c, workdir) == {"step": 2}
    # The architecture is recorded; loaders use it and refuse a contradicting preset, and
    # the trainer refuses to resume the workdir as another architecture.
    model, info = checkpoint_io.load_visual_tokenizer(workdir)
    assert model.cfg == tokenizer_config.tiny() and info["config"] == "tiny"
    with pytest.raises(ValueError, match="differ in .*channels"):
        checkpoint_io.load_visual_tokenizer(workdir, "small")
    c.model = _get_config("small").model
    with pytest.raises(ValueError, match="another architecture"):
        train.train_and_evaluate(c, workdir)


def test_checkpoint_without_record_needs_a_name(tmp_path):
    step_dir = tmp_path / "checkpoints" / "3" / "params"
    step_dir.mkdir(parents=True)
    with pytest.raises(ValueError, match="tokenizer_config.json records the architecture"):
        checkpoint_io.resolve_config(str(tmp_path))
    assert checkpoint_io.resolve_config(str(tmp_path), "tiny")[1] == "tiny"


def test_edge_loss_by_hand():
    # One 2x3 frame, 1 channel. video rows [0 0 1], [0 0 1]; recon rows [0 .5 1], [0 0 1].
    # x-differences: video [0 1],[0 1]; recon [.5 .5],[0 1] -> |d| = .5 .5 0 0 -> mean .25.
    # y-differences: video [0 0 0]; recon [0 -.5 0] -> |d| = 0 .5 0 -> mean 1/6.
    video = np.array([[0, 0, 1], [0, 0, 1]], np.float32).reshape(1, 1, 2, 3, 1)
    recon = np.array([[0, 0.5, 1], [0, 0, 1]], np.float32).reshape(1, 1, 2, 3, 1)
    np.testing.assert_allclose(float(losses.edge_loss(recon, video)), 0.25 + 1 / 6, rtol=1e-6)
    # A constant offset (a colour shift) has the same differences: no edge loss.
    assert float(losses.edge_loss(video + 0.3, video)) < 1e-6


def test_foreground_weighted_reconstruction_losses():
    # One frame of 5 pixels (1 channel): the median (background) is -1; only the last pixel
    # differs by more than the threshold 0.3 (the 4th differs by 0.2: texture, not object).
    video = np.array([-1.0, -1.0, -1.0, -0.8, 0.5], np.float32).reshape(1, 1, 1, 5, 1)
    recon = video + np.array([0.5, 0.0, 0.0, 0.5, -0.5], np.float32).reshape(1, 1, 1, 5, 1)
    np.testing.assert_array_equal(
        np.asarray(losses.foreground_mask(video, 0.3)).ravel(), [0, 0, 0, 0, 1]
    )
    # Plain: L1 = (0.5 + 0.5 + 0.5) / 5, L2 = (0.25 + 0.25 + 0.25) / 5.
    l1, l2 = losses.reconstruction_losses(recon, video)
    np.testing.assert_allclose([l1, l2], [0.3, 0.15], rtol=1e-6)
    # fg_weight 3: weights (1, 1, 1, 1, 4): L1 = (0.5 + 0.5 + 4 * 0.5) / 5,
    # L2 = (0.25 + 0.25 + 4 * 0.25) / 5.
    l1, l2 = losses.reconstruction_losses(recon, video, fg_weight=3.0, fg_threshold=0.3)
    np.testing.assert_allclose([l1, l2], [0.6, 0.3], rtol=1e-6)
    assert _get_config("tiny").fg_weight == 0.0  # plain L1 + L2 unless asked for


def test_init_from_starts_a_new_run_from_trained_params(tmp_path):
    c = _small_run(num_frames=5, num_train_clips=4, steps=1)
    src = str(tmp_path / "src")
    train.train_and_evaluate(c, src)
    # lr 0 and no weight decay: the new run's step-1 params must be the source's exactly,
    # so they came from init_from (a fresh init with another seed would differ).
    c.update(init_from=src, lr=0.0, weight_decay=0.0, seed=7)
    dst = str(tmp_path / "dst")
    assert train.train_and_evaluate(c, dst)["step"] == 1
    _, a = checkpoint_io.load_visual_tokenizer(src)
    _, b = checkpoint_io.load_visual_tokenizer(dst)
    assert a["params_sha256"] == b["params_sha256"]
    # Without init_from the run would start from seed 7's initialisation, which differs.
    fresh = model_lib.create(tokenizer_config.TokenizerConfig.from_dict(c.model), seed=7)
    flat = {
        ".".join(map(str, p)): np.asarray(v.get_value())
        for p, v in nnx.to_flat_state(nnx.state(fresh, nnx.Param))
    }
    assert checkpoint_io.params_fingerprint(flat) != a["params_sha256"]
    # Another architecture than config.model is refused, naming what differs.
    c.update(init_from=src, model=_get_config("small").model)
    with pytest.raises(ValueError, match="differ in .*channels"):
        train.train_and_evaluate(c, str(tmp_path / "other"))


def test_quant_noise_changes_the_training_loss_only_when_on(tmp_path):
    """config.quant_noise swaps rounding for one step of noise on that fraction of the
    latents (fsq.quantize_noisy): the same seed and data give another first-step loss."""
    first_losses = []
    for i, noise in enumerate((0.0, 1.0)):
        c = _small_run(num_frames=1, num_train_clips=4, steps=1, quant_noise=noise)
        first_losses.append(train.train_and_evaluate(c, str(tmp_path / f"run{i}"))["train/loss"])
    assert np.isfinite(first_losses).all() and first_losses[0] != first_losses[1]


def test_a_workdir_of_the_old_layout_resumes_like_a_new_one(tmp_path):
    """Workdirs written before the trainer used checkpoint.Checkpointer hold
    checkpoints/STEP/{params,opt_state}: resuming one gives the same step-2 weights as
    resuming the Checkpointer's step 1 of the same run."""
    import shutil

    import jax
    import orbax.checkpoint as ocp

    from lumos_jax import checkpoint

    c = _small_run(num_frames=1, num_train_clips=4, steps=1)
    new = str(tmp_path / "new")
    train.train_and_evaluate(c, new)
    written = set(os.listdir(os.path.join(new, "checkpoints", "1")))
    assert {"SHA256SUMS", "data", "meta", "state"} <= written and "params" not in written
    # The same step 1 written as the old trainer did (items `params` and `opt_state`).
    ckpts = checkpoint.Checkpointer(os.path.join(new, "checkpoints"))
    params = train.flatten_params(
        nnx.split(model_lib.create(tokenizer_config.tiny(), seed=0), nnx.Param)[1]
    )
    target = {"params": params, "opt_state": train.make_optimizer(c, params).init(params)}
    _, state, _, _ = ckpts.restore(jax.device_get(target), 1)
    ckpts.close()
    old = tmp_path / "old"
    mngr = ocp.CheckpointManager(
        str(old / "checkpoints"), options=ocp.CheckpointManagerOptions(create=True)
    )
    mngr.save(
        1,
        args=ocp.args.Composite(
            params=ocp.args.StandardSave(state["params"]),
            opt_state=ocp.args.StandardSave(state["opt_state"]),
        ),
    )
    mngr.wait_until_finished()
    mngr.close()
    shutil.copy(os.path.join(new, "tokenizer_config.json"), old / "tokenizer_config.json")
    c.steps = 2
    assert train.train_and_evaluate(c, new)["step"] == 2
    assert train.train_and_evaluate(c, str(old))["step"] == 2
    _, a = checkpoint_io.load_visual_tokenizer(new)
    _, b = checkpoint_io.load_visual_tokenizer(str(old))
    assert (a["step"], b["step"]) == (2, 2) and a["params_sha256"] == b["params_sha256"]


# ------------------------------------------------------------------ issue 26: own videos


def _write_clip(path, frames, size=48, fps=24, shift=0):
    import av

    ys, xs = np.mgrid[:size, :size]
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = size, size, "yuv420p"
        for t in range(frames):
            rgb = np.stack(
                [(xs * 5 + t * 9) % 256, (ys * 5 + shift) % 256, np.full_like(xs, t * 7)], -1
            )
            for packet in s.encode(av.VideoFrame.from_ndarray(rgb.astype(np.uint8), "rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)


def test_video_files_source_resizes_and_holds_out_clips(tmp_path):
    for shift, name in enumerate(("a", "b")):
        _write_clip(
            tmp_path / f"{name}.mp4", 48, shift=100 * shift
        )  # 2 s at 24 fps: 4 windows of 5 at 8 fps
    fn = clips.get_source(f"videos:{tmp_path}")
    assert clips.takes_split(fn)
    train_clips = fn(6, 5, 16, 16, 0, split="train")
    eval_clips = fn(2, 5, 16, 16, 1, split="eval")
    assert train_clips.shape == (6, 5, 16, 16, 3) and train_clips.dtype == np.uint8
    seen = {c.tobytes() for c in train_clips}
    assert all(c.tobytes() not in seen for c in eval_clips)  # held out, never trained on
    # The whole frame, resized (not a top-left crop): the 48-px gradient spans the clip.
    assert train_clips[..., 0].std() > 20
    with pytest.raises(ValueError, match="config data.height x width is 8x8"):
        np.save(tmp_path / "x.npy", train_clips)
        clips.get_source(f"npy:{tmp_path / 'x.npy'}")(2, 5, 8, 8)


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_ctrl_c_and_sigterm_save_the_step_reached(tmp_path, monkeypatch, caplog, signame):
    """Issue 26: Ctrl-C gave a traceback and no checkpoint. The steps are stand-ins (no
    compile): the 3rd one raises the signal, as a user or a scheduler would."""
    import logging
    import signal

    def fake_steps(config, cfg, graphdef, template, tx, mesh):
        def train_step(p, o, frames, step):
            if int(step) == 2:
                os.kill(os.getpid(), getattr(signal, signame))
            return p, o, {"train/loss": 1.0, "train/psnr": 10.0}

        return train_step, None

    monkeypatch.setattr(train, "_step_functions", fake_steps)
    c = _small_run(steps=1000)
    c.update(log_every=1, eval_every=10**6, ckpt_every=10**6)
    with caplog.at_level(logging.INFO):
        result = train.train_and_evaluate(c, str(tmp_path))
    assert result["step"] == 3
    assert os.listdir(tmp_path / "checkpoints") == ["3"] or "3" in os.listdir(
        tmp_path / "checkpoints"
    )
    text = caplog.text
    assert f"{signame}: saved step 3" in text and "ETA" in text and "/1,000" in text
