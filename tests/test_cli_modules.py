"""Every CLI module imports into one process (absl flags are defined only under __main__,
so two CLIs that both take --config never collide, e.g. in one pytest worker)."""

import importlib

CLI_MODULES = [
    "lumos_jax.cli",
    "lumos_jax.train",
    "lumos_jax.sample",
    "lumos_jax.evaluate",
    "lumos_jax.demo",
    "lumos_jax.tokenizer.train",
    "lumos_jax.model.convert_hf",
    "lumos_jax.model.summary",
    "lumos_jax.compile_check",
    "lumos_jax.data.prepare",
    "lumos_jax.tokenizer.convert_cosmos",
    "lumos_jax.data.lumos_pkl",
    "lumos_jax.export",
]


def test_cli_modules_import_together():
    for name in CLI_MODULES:
        importlib.import_module(name)


def test_demo_config_from_scratch_and_from_parameters(tmp_path):
    from lumos_jax import demo

    scratch = demo.demo_config(str(tmp_path), "TOK", 600)
    assert not scratch.init_from and scratch.optim.lr == 1e-3
    assert scratch.optim.schedule == "cosine" and scratch.optim.total_steps == 600
    assert scratch.data.streams.image.weight == 1.0  # joint image + video batches
    assert scratch.data.streams.video.sources.startswith(f"array_record:{tmp_path}/")
    assert scratch.sampling.tokenizer_ckpt == "TOK"
    tuned = demo.demo_config(str(tmp_path), "TOK", 100, init_from="/p")
    assert tuned.init_from == "/p" and tuned.train.steps == 100
    # A trained model continues at its final learning rate, not a re-warmed 1e-3.
    assert tuned.optim.lr == 1e-4 and tuned.optim.schedule == "constant"
    # --warm_start: params of another tokenizer's codes restart the from-scratch schedule.
    warm = demo.demo_config(str(tmp_path), "TOK", 600, init_from="/p", warm_start=True)
    assert warm.init_from == "/p" and warm.optim.lr == 1e-3 and warm.optim.schedule == "cosine"
    assert demo.demo_config(str(tmp_path), "TOK", 100, lr=2e-3).optim.lr == 2e-3
    assert demo.demo_config(str(tmp_path), "TOK", 100, batch_size=64).data.batch_size == 64
    assert scratch.data.batch_size == 16
    assert demo.resolve_init("") == ""
    assert demo.resolve_init(str(tmp_path)) == str(tmp_path)


def test_demo_refuses_token_records_of_another_tokenizer(tmp_path):
    import json

    import numpy as np
    import orbax.checkpoint as ocp
    import pytest
    from flax import nnx

    from lumos_jax import demo
    from lumos_jax.tokenizer import checkpoint_io
    from lumos_jax.tokenizer import config as tok_config
    from lumos_jax.tokenizer import model as tok_model

    model = tok_model.create(tok_config.tiny(), seed=0)
    flat = {
        ".".join(map(str, p)): np.asarray(v.get_value())
        for p, v in nnx.to_flat_state(nnx.state(model, nnx.Param))
    }
    saver = ocp.StandardCheckpointer()
    saver.save(str(tmp_path / "tok" / "checkpoints" / "1" / "params"), flat)
    saver.wait_until_finished()
    checkpoint_io.write_tokenizer_config(str(tmp_path / "tok"), tok_config.tiny())
    data = tmp_path / "tokens"
    data.mkdir()
    for split in ("train", "validation"):
        (data / f"manifest-{split}.json").write_text(
            json.dumps({"visual_tokenizer": {"params_sha256": "0" * 64, "checkpoint": "/old/tok"}})
        )
    with pytest.raises(ValueError, match="made with the visual tokenizer /old/tok"):
        demo.records_stage(str(data), str(tmp_path / "tok"), 4, 4)
    sha = checkpoint_io.params_fingerprint(flat)
    for split in ("train", "validation"):  # the same tokenizer: records are reused
        (data / f"manifest-{split}.json").write_text(
            json.dumps({"visual_tokenizer": {"params_sha256": sha}})
        )
    assert demo.records_stage(str(data), str(tmp_path / "tok"), 4, 4) == str(data)
    # Given t2v params name the tokenizer their records came from (export_info.json).
    params = tmp_path / "params"
    params.mkdir()
    (params / "export_info.json").write_text(
        json.dumps({"visual_tokenizer": {"params_sha256": "1" * 64, "id": "small:111"}})
    )
    with pytest.raises(ValueError, match="tokens of the visual tokenizer small:111"):
        demo.check_params_tokenizer(str(params), str(tmp_path / "tok"))
    (params / "export_info.json").write_text(
        json.dumps({"visual_tokenizer": {"params_sha256": sha}})
    )
    demo.check_params_tokenizer(str(params), str(tmp_path / "tok"))  # the same: accepted


def test_export_records_the_tokenizers_of_the_training_records(tmp_path):
    import json

    from lumos_jax import export

    (tmp_path / "manifest-train.json").write_text(
        json.dumps(
            {
                "visual_tokenizer": {"params_sha256": "ab" * 32, "id": "small:abab"},
                "text_tokenizer": {"sha256": "cd" * 32},
                "counts": {"records": 4},
            }
        )
    )
    config = {
        "data": {
            "streams": {
                "video": {"sources": f"lumos_pkl:/x.pkl,array_record:{tmp_path}/video-train-*"},
                "image": {"sources": ""},
            }
        }
    }
    assert export.records_tokenizers(config) == {
        "visual_tokenizer": {"params_sha256": "ab" * 32, "id": "small:abab"},
        "text_tokenizer": {"sha256": "cd" * 32},
    }
    assert export.records_tokenizers({"data": {"streams": {}}}) == {}
