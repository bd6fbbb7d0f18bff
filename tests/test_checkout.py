# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""assets/ is checkout-only: found next to the package, or one clear line when missing."""

import os
import subprocess
import sys

import pytest

from lumos_jax import checkout
from lumos_jax.data import builtin

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The demo as `python -m lumos_jax.demo` runs it, with assets/ looked up in argv[1].
_DEMO = r"""
import sys
from lumos_jax import cli, demo
demo.ASSETS = sys.argv.pop(1)
sys.argv[0] = "lumos_jax.demo"
cli.run(demo.main, demo._define_flags)
"""


def test_assets_are_next_to_the_package_in_a_checkout():
    assert checkout.ROOT == _ROOT
    assert builtin.ASSETS == os.path.join(_ROOT, "assets")
    assert checkout.require(builtin.SHIPPED_TOKENIZER) == builtin.SHIPPED_TOKENIZER


def test_missing_path_is_one_line_naming_it(tmp_path):
    missing = str(tmp_path / "assets" / "t2v_tiny_params")
    with pytest.raises(FileNotFoundError) as e:
        checkout.require(missing, "pass --init_from=''")
    text = str(e.value)
    assert "\n" not in text
    assert text.startswith(f"{missing} is missing: ")
    assert "not with the pip package" in text and "pip install -e ." in text
    assert text.endswith(", or pass --init_from=''")


def test_demo_without_assets_fails_with_one_line(tmp_path):
    """As after a plain `pip install`: no assets/ beside the package."""
    empty = tmp_path / "site-packages"
    empty.mkdir()
    assets = str(empty / "assets")
    r = subprocess.run(
        [sys.executable, "-c", _DEMO, assets, f"--workdir={tmp_path / 'w'}"],
        cwd=_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1, r.stderr[-3000:]
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines[-1] == (
        f"lumos_jax.demo: error: {assets} is missing: assets/ and configs/ ship with the "
        "lumos_jax repository checkout, not with the pip package; clone the repository and "
        "run `pip install -e .` in it, or pass --tokenizer_ckpt=DIR and --init_from='' "
        "(--verbosity=1 shows the traceback)"
    ), r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    assert not os.path.exists(tmp_path / "w" / "tokenizer")  # failed before stage 1
