"""Every CLI module imports into one process (absl flags are defined only under __main__,
so two CLIs that both take --config never collide, e.g. in one pytest worker)."""
import importlib

CLI_MODULES = ["lumos_jax.train", "lumos_jax.sample", "lumos_jax.evaluate", "lumos_jax.demo",
               "lumos_jax.tokenizer.train", "lumos_jax.model.convert_hf",
               "lumos_jax.model.summary", "lumos_jax.compile_check", "lumos_jax.data.prepare",
               "lumos_jax.tokenizer.convert_cosmos", "lumos_jax.data.lumos_pkl"]


def test_cli_modules_import_together():
    for name in CLI_MODULES:
        importlib.import_module(name)
