"""Ahead-of-time compilation for a mock TPU pod (needs libtpu: the [tpu] extra)."""
import sys

import pytest

from lumos_jax import compile_check, config_lib

pytest.importorskip("libtpu")
BIG_VOCAB = dict(visual_size=16000, vocab_size=512 + 16000)


@pytest.fixture(scope="module")
def v5p_devices():
    return compile_check.topology_devices("v5p:2x2x1")


def _tiny(**model):
    c = config_lib.experiment("t2v", "tiny")
    c.mesh.update(data=-1, fsdp=1, tensor=1)
    c.model.update(**model)
    return c


def test_tiny_step_compiles_for_v5p_and_memory_moves_the_right_way(v5p_devices):
    assert len(v5p_devices) == 4 and v5p_devices[0].platform == "tpu"
    # A 16k-code visual vocabulary: the [B, S, 16000] fp32 logits (32 MiB per chip)
    # outweigh the tiny model's parameters, as they do at full scale.
    chunked = _tiny(remat="full", **BIG_VOCAB)
    chunked.loss.chunk = 64
    base = compile_check.compile_step(chunked, v5p_devices, 4, 512)
    assert base.argument_bytes > 0 and base.flops and base.flops > 0
    no_remat = _tiny(remat="none", **BIG_VOCAB)
    no_remat.loss.chunk = 64
    no_remat = compile_check.compile_step(no_remat, v5p_devices, 4, 512)
    assert no_remat.temp_bytes > base.temp_bytes  # activations kept instead of recomputed
    unchunked = _tiny(remat="full", **BIG_VOCAB)
    unchunked.loss.chunk = None
    assert compile_check.compile_step(unchunked, v5p_devices, 4, 512).temp_bytes > \
        base.temp_bytes  # the whole [B, S, V] logits live at once


def test_fsdp_mesh_is_resolved_to_dividing_groups():
    c = config_lib.experiment("t2v", "1b")
    assert compile_check.default_fsdp_mesh(c, 48) == dict(data=3, fsdp=16, tensor=1)
    c = config_lib.experiment("t2v", "3.6b")
    assert compile_check.default_fsdp_mesh(c, 48) == dict(data=1, fsdp=48, tensor=1)


def test_unknown_topology_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown chip 'v9x'"):
        compile_check.topology_devices("v9x:2x2")
    with pytest.raises(RuntimeError, match="v5p:3x3x7"):
        compile_check.topology_devices("v5p:3x3x7")


def test_missing_libtpu_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "libtpu", None)  # import libtpu -> ImportError
    with pytest.raises(RuntimeError, match=r"pip install '\.\[tpu\]'"):
        compile_check.topology_devices("v5p:2x2x1")


def test_mesh_that_does_not_divide_the_topology(v5p_devices):
    c = _tiny()
    c.mesh.update(data=1, fsdp=1, tensor=3)
    with pytest.raises(ValueError, match="does not divide the topology"):
        compile_check.compile_step(c, v5p_devices, 3, 128)


def test_sweep_tabulates_every_combination(v5p_devices, capsys):
    rows = compile_check.sweep(_tiny(), "v5p:2x2x1", v5p_devices, 1, 128, tensors=(1, 2),
                               remats=("full",), micros=(1, 2))
    assert [(r[0]["tensor"], r[2]) for r in rows] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert all(r[3] > 0 and r[4] == "yes" for r in rows)
    out = capsys.readouterr().out
    assert out.count("| full |") == 4 and "fits 95 GiB" in out
