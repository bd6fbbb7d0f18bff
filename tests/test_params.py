# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The one implementation of each shared piece (issue 17): parameter shardings from
logical axes, a decoder from pure params, the read-only latest step, the peak table."""

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P
from model_util import VOCAB, tiny_config, tiny_model

from lumos_jax import checkpoint, compile_check, config_lib, parallel, sampling
from lumos_jax.model import decoder
from lumos_jax.model import params as params_lib
from lumos_jax.sampling.sampler import Sampler
from lumos_jax.train_step import Trainer


def _specs(tree):
    return jax.tree.map(lambda s: s.spec, tree)


def test_trainer_sampler_and_tree_shardings_are_one_rule():
    mesh = parallel.make_mesh({"data": 2, "fsdp": 2, "tensor": 2})
    model = tiny_model()
    want = params_lib.param_shardings(decoder.abstract_decoder(tiny_config()), mesh)
    # Hand-derived from the rules: vocab -> tensor, embed -> fsdp, mlp -> tensor, and a
    # norm scale (no rule) gets fsdp on its one dimension (128 % 2 == 0).
    assert want["embed"].spec == P("tensor", "fsdp")  # [1512, 128]
    assert want["lm_head"].spec == P("fsdp", "tensor")  # [128, 1512]
    assert want["layers"]["mlp"]["gate"].spec == P(None, "fsdp", "tensor")  # [4, 128, 384]
    assert want["final_norm"]["scale"].spec == P("fsdp")
    # Both trees list the parameters in sorted-key order.
    tree = jax.tree.leaves(parallel.tree_shardings(model, mesh))
    assert [s.spec for s in tree] == jax.tree.leaves(_specs(want))
    settings = sampling.Settings.from_config(
        sampling.default_config(), max_size_value=VOCAB.max_size_value
    )
    sampler = Sampler(tiny_config(), settings, VOCAB, batch=2, prompt_len=16, mesh=mesh)
    assert _specs(sampler.param_shardings) == _specs(want)
    abstract = params_lib.abstract_params(decoder.abstract_decoder(tiny_config()), mesh)
    assert _specs(jax.tree.map(lambda x: x.sharding, abstract)) == _specs(want)


def test_the_trainer_uses_the_same_shardings():
    c = config_lib.experiment("t2v", "tiny")
    c.mesh.update(data=2, fsdp=2, tensor=2)
    mesh = parallel.make_mesh(dict(c.mesh))
    trainer = Trainer(c, mesh)
    want = params_lib.param_shardings(trainer.abstract_model, mesh)
    assert _specs(trainer.param_shardings) == _specs(want)
    assert _specs(jax.tree.map(lambda x: x.sharding, trainer.abstract_state()["params"])) == _specs(
        want
    )


def test_with_params_and_from_pure_rebuild_the_same_decoder():
    model = tiny_model(seed=3)
    pure = decoder.to_pure(model)
    for rebuilt in (
        decoder.with_params(decoder.abstract_decoder(tiny_config()), pure),
        decoder.from_pure(tiny_config(), pure),
    ):
        for a, b in zip(jax.tree.leaves(decoder.to_pure(rebuilt)), jax.tree.leaves(pure)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="the config needs"):
        decoder.from_pure(tiny_config(num_layers=2), pure)


def test_latest_complete_step_ignores_partial_and_foreign_dirs(tmp_path):
    for name in (
        "1/state",
        "3/state",
        "5/data",
        "9.orbax-checkpoint-tmp-1/state",
        "x/state",
        "2/params",
    ):
        (tmp_path / name).mkdir(parents=True)
    assert checkpoint.latest_complete_step(str(tmp_path), "state") == 3
    assert checkpoint.latest_complete_step(str(tmp_path), "params") == 2
    assert checkpoint.latest_complete_step(str(tmp_path), "meta") is None
    assert checkpoint.latest_complete_step(str(tmp_path / "missing"), "state") is None


@pytest.mark.parametrize(
    "kind, want",
    [
        ("NVIDIA H100 80GB HBM3", 989.0),
        ("NVIDIA H200", 989.0),
        ("NVIDIA H20", 148.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("TPU v5p", 459.0),
        ("TPU v5 lite", 197.0),
        ("TPU v6 lite", 918.0),
        ("TPU v4", 275.0),
        ("cpu", None),
    ],
)
def test_peak_table(kind, want):
    assert parallel.peak_bf16_tflops(kind) == want


def test_compile_check_estimates_use_the_same_peaks():
    # The figures compile_check had in its own table before issue 17.
    old = {"v5p": 459.0, "v5e": 197.0, "v6e": 918.0, "v4": 275.0, "cpu": 989.0}
    assert {k: parallel.peak_bf16_tflops(v) for k, v in compile_check.DEVICE_KIND.items()} == old
    assert set(compile_check.DEVICE_KIND) == set(compile_check.HBM_GIB)


def test_fast_compile_options():
    assert parallel.compiler_options(False) is None
    assert parallel.compiler_options(True) == {
        "xla_backend_optimization_level": 0,
        "xla_llvm_disable_expensive_passes": True,
    }
