# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""tokenizer.checkpoint_io: both step layouts of the tokenizer trainer load the same
weights; the newest step of either layout is taken; run_tokenizer matches the model."""

import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import nnx

from lumos_jax import checkpoint
from lumos_jax.tokenizer import checkpoint_io
from lumos_jax.tokenizer import config as tok_config
from lumos_jax.tokenizer import model as tok_model


@pytest.fixture(scope="module")
def flat():
    _, abstract = tok_model.abstract_model(tok_config.tiny())
    state = tok_model.host_init_params(abstract, 0)
    return {".".join(map(str, p)): np.asarray(v.get_value()) for p, v in nnx.to_flat_state(state)}


def _save_params_layout(workdir, step, flat):
    saver = ocp.StandardCheckpointer()
    saver.save(str(workdir / "checkpoints" / str(step) / "params"), flat)
    saver.wait_until_finished()
    checkpoint_io.write_tokenizer_config(str(workdir), tok_config.tiny())


def _save_state_layout(workdir, step, flat):
    ck = checkpoint.Checkpointer(str(workdir / "checkpoints"), async_save=False)
    ck.save(step, {"params": flat, "opt_state": {"count": np.int32(step)}}, {}, force=True)
    ck.close()
    checkpoint_io.write_tokenizer_config(str(workdir), tok_config.tiny())


def test_params_and_state_layouts_load_the_same_weights(tmp_path, flat):
    _save_params_layout(tmp_path / "old", 5, flat)
    _save_state_layout(tmp_path / "new", 8, flat)
    _, old = checkpoint_io.load_visual_tokenizer(str(tmp_path / "old"))
    model, new = checkpoint_io.load_visual_tokenizer(str(tmp_path / "new"))
    assert (old["step"], new["step"]) == (5, 8)
    assert old["params_sha256"] == new["params_sha256"] == checkpoint_io.params_fingerprint(flat)
    got = {
        ".".join(map(str, p)): np.asarray(v.get_value())
        for p, v in nnx.to_flat_state(nnx.state(model, nnx.Param))
    }
    for name, value in flat.items():
        np.testing.assert_array_equal(got[name], value)


def test_the_newest_step_of_either_layout_is_taken(tmp_path, flat):
    _save_params_layout(tmp_path, 3, flat)
    _save_state_layout(tmp_path, 2, flat)
    assert checkpoint_io.resolve_step_dir(str(tmp_path))[1] == 3
    _save_state_layout(tmp_path, 4, flat)
    step_dir, step = checkpoint_io.resolve_step_dir(str(tmp_path / "checkpoints"))
    assert step == 4 and step_dir == str(tmp_path / "checkpoints" / "4")
    assert checkpoint_io.resolve_step_dir(step_dir) == (step_dir, 4)
    with pytest.raises(FileNotFoundError, match="no tokenizer checkpoint"):
        checkpoint_io.resolve_step_dir(str(tmp_path / "nothing"))


def test_run_tokenizer_is_the_models_encode_and_decode():
    model = tok_model.create(tok_config.tiny(), 0)
    video = np.random.default_rng(0).uniform(-1, 1, (1, 5, 16, 16, 3)).astype(np.float32)
    codes = checkpoint_io.run_tokenizer(model, "encode", video, fast_compile=True)
    np.testing.assert_array_equal(codes, np.asarray(model.encode(video)))
    # uint8 frames through the batched encoder: the same codes as [-1, 1] input.
    frames = np.round((video + 1) * 127.5).astype(np.uint8)
    encoder = checkpoint_io.VisualEncoder(model, batch_size=2, fast_compile=True)
    np.testing.assert_array_equal(
        encoder(frames),
        checkpoint_io.run_tokenizer(model, "encode", frames.astype(np.float32) / 127.5 - 1.0),
    )
