"""python -m lumos_jax.sample: files that decode back, I2V through the CLI, clear errors."""

import importlib.util
import json
import os

import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import nnx
from PIL import Image
from test_sampling_generate import random_params

from lumos_jax import checkpoint as ckpt_lib
from lumos_jax import pixels, sample, video_io
from lumos_jax.data import media, prepare_inputs
from lumos_jax.model.config import ModelConfig
from lumos_jax.tokenizer import checkpoint_io, text
from lumos_jax.tokenizer import config as tok_config
from lumos_jax.tokenizer import model as tok_model

_T2V = os.path.join(os.path.dirname(__file__), "..", "configs", "t2v.py")


def _config(**sampling):
    spec = importlib.util.spec_from_file_location("t2v_config", _T2V)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    c = module.get_config("tiny")
    c.vocab.visual_size = 1000  # the random FSQ `tiny` tokenizer's codes (the model follows)
    c.sampling.update(
        {"height": 32, "width": 32, "frames": 9, "steps": 3, "fast_compile": True, **sampling}
    )
    return c


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """A random decoder checkpoint (train-workdir layout), a random tiny visual tokenizer
    checkpoint (tokenizer-trainer layout), a text tokenizer and an image."""
    root = tmp_path_factory.mktemp("sample_cli")
    c = _config()
    params = random_params(ModelConfig.from_dict(c.model.to_dict()))
    ck = ckpt_lib.Checkpointer(str(root / "train" / "checkpoints"), async_save=False)
    ck.save(7, {"params": params}, {}, force=True)
    ck.close()
    _, abstract = tok_model.abstract_model(tok_config.tiny())
    state = tok_model.host_init_params(abstract, 0)
    flat = {".".join(map(str, p)): np.asarray(v.get_value()) for p, v in nnx.to_flat_state(state)}
    saver = ocp.StandardCheckpointer()
    saver.save(str(root / "tok" / "checkpoints" / "5" / "params"), flat)
    saver.wait_until_finished()
    checkpoint_io.write_tokenizer_config(str(root / "tok"), tok_config.tiny())
    bpe = text.train_bpe(prepare_inputs.shapes_prompts(num=50), 448)
    bpe.save(str(root / "tokenizer.json"))
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 48, 3), np.uint8)).save(root / "first.png")
    return dict(
        workdir=str(root / "train"),
        tok=str(root / "tok"),
        root=root,
        text=str(root / "tokenizer.json"),
        image=str(root / "first.png"),
    )


def _request(assets, out, **kw):
    base = dict(
        out=str(assets["root"] / out),
        workdir=assets["workdir"],
        tokenizer_ckpt=assets["tok"],
        text_tokenizer=assets["text"],
    )
    return sample.Request(**{**base, **kw})


def test_t2v_and_i2v_write_videos_that_decode_back(assets):
    req = _request(assets, "t2v", prompts=["a red circle moves left", "a blue square"], seed=1)
    record = sample.run(_config(), req)
    assert sorted(os.path.basename(f) for f in record["files"]) == [
        "sample_00.gif",
        "sample_00.mp4",
        "sample_01.gif",
        "sample_01.mp4",
    ]
    for f in record["files"]:
        assert video_io.read_video(f).shape == (9, 32, 32, 3)  # 3 latent frames -> 9 frames
    saved = json.load(open(os.path.join(req.out, "settings.json")))
    assert saved["seed"] == 1 and saved["settings"]["latent_frames"] == 3
    assert saved["checkpoint"].endswith(os.path.join("checkpoints", "7"))
    assert np.load(os.path.join(req.out, "codes.npy")).shape == (2, 3, 4, 4)

    ids = ",".join(str(i) for i in saved["prompt_ids"][0])
    i2v = _request(assets, "i2v", prompt_ids=[ids], image=assets["image"])
    record = sample.run(_config(), i2v)
    codes = np.load(os.path.join(i2v.out, "codes.npy"))
    tokenizer = tok_model.create(tok_config.tiny(), 0)  # the same weights as the checkpoint
    image = pixels.to_model_range(
        media.center_crop_resize(media.load_image(assets["image"]), 32, 32)[0]
    )
    want = checkpoint_io.run_tokenizer(tokenizer, "encode", image[None, None], True)
    np.testing.assert_array_equal(codes[:, 0], want[:, 0])  # the given frame is kept
    assert video_io.read_video(record["files"][0]).shape == (9, 32, 32, 3)


def test_t2i_writes_a_png(assets):
    req = _request(assets, "t2i", prompts=["a green triangle"], frames=1)
    record = sample.run(_config(), req)
    assert [os.path.basename(f) for f in record["files"]] == ["sample_00.png"]
    assert video_io.read_video(record["files"][0]).shape == (1, 32, 32, 3)


def test_bad_inputs_get_clear_errors(assets):
    with pytest.raises(FileNotFoundError, match="--image"):
        sample.run(_config(), _request(assets, "e1", prompts=["x"], image="/no/such.png"))
    not_image = assets["root"] / "not_an_image.png"
    not_image.write_text("hello")
    with pytest.raises(ValueError, match="not a readable image"):
        sample.run(_config(), _request(assets, "e2", prompts=["x"], image=str(not_image)))
    with pytest.raises(ValueError, match="unsupported resolution"):
        sample.run(_config(height=40), _request(assets, "e3", prompts=["x"]))
    with pytest.raises(ValueError, match="sampling.frames"):
        sample.run(_config(), _request(assets, "e4", prompts=["x"], frames=6))
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        sample.run(_config(), _request(assets, "e5", prompts=["x"], workdir="/no/such/dir"))
    other = _config()
    other.model.mlp_dim = 256  # a checkpoint of another model size
    with pytest.raises(ValueError, match="does not match the config's model"):
        sample.run(other, _request(assets, "e6", prompts=["x"]))


def test_evaluate_writes_the_report_and_every_headline_figure(assets, tmp_path):
    """lumos_jax.evaluate end to end on a random model: scores in [0, 1] for every figure
    of the demo's bar, the side-by-side pictures at the sampled resolution, the report."""
    from lumos_jax import eval_lib

    c = _config(height=96, width=96)  # ShapesMotion scenes need its 12x12 cells
    c.sampling.update(tokenizer_ckpt=assets["tok"], text_tokenizer=assets["text"])
    r = eval_lib.evaluate(
        c,
        eval_lib.EvalOptions(
            workdir=assets["workdir"],
            out=str(tmp_path),
            per_task=1,
            samples_per_prompt=1,
            num_videos=2,
            batch=8,
        ),
    )
    head = eval_lib.headline(r)
    keys = {
        "geneval_overall",
        "geneval_colors",
        "geneval_counting",
        "geneval_position",
        "geneval_color_attr",
        "motion_direction_t2v",
        "motion_direction_i2v",
        "compositional_holdout",
        "baseline_geneval_overall",
        "tokenizer_exact",
    }
    assert keys <= set(head)
    assert all(0.0 <= head[k] <= 1.0 for k in keys if head[k] is not None)
    assert r["geneval_holdout"]["num_images"] == 6
    images = np.asarray(Image.open(tmp_path / "compare_images.png"))
    assert images.shape[0] == 3 * (96 + 2) + 2  # 6 prompts, 2 panels a row, 96 px high
    assert images.shape[1] == 2 * (3 * 96 + 2) + 2  # truth | reconstruction | generated
    md = (tmp_path / "report.md").read_text()
    assert "CFG 2.0 for images and 2.0 for videos" in md and "| num_images | 6 |" in md
    for name in ("compare_videos.png", "grid_images.png", "video_00.gif", "metrics.json"):
        assert (tmp_path / name).is_file(), name
