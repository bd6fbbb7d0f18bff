"""Every CLI module imports into one process (absl flags are defined only under __main__,
so two CLIs that both take --config never collide, e.g. in one pytest worker)."""
import importlib

CLI_MODULES = ["lumos_jax.train", "lumos_jax.sample", "lumos_jax.evaluate", "lumos_jax.demo",
               "lumos_jax.tokenizer.train", "lumos_jax.model.convert_hf",
               "lumos_jax.model.summary", "lumos_jax.compile_check", "lumos_jax.data.prepare",
               "lumos_jax.tokenizer.convert_cosmos", "lumos_jax.data.lumos_pkl",
               "lumos_jax.export"]


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
    assert demo.demo_config(str(tmp_path), "TOK", 100, lr=2e-3).optim.lr == 2e-3
    assert demo.resolve_init("") == ""
    assert demo.resolve_init(str(tmp_path)) == str(tmp_path)
