# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Experiment configs: cheap to load, linked fields, every key that is read declared."""
import subprocess
import sys


def test_config_lib_does_not_import_the_pipeline():
    """Loading a config must not pull in Grain (the data pipeline) or the model code."""
    code = ("import sys, lumos_jax.config_lib; "
            "print(sorted(m for m in ('grain', 'lumos_jax.data.pipeline', "
            "'lumos_jax.model.decoder') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
