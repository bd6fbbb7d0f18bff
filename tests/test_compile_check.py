"""Ahead-of-time compilation for a mock TPU pod (needs libtpu: the [tpu] extra)."""

import os
import subprocess
import sys

import pytest

from lumos_jax import compile_check, config_lib

pytest.importorskip("libtpu")
BIG_VOCAB = dict(visual_size=16000, vocab_size=512 + 16000)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    assert chunked.model.attention == "splash"  # 'auto' on a TPU topology: the Pallas kernel
    no_remat = _tiny(remat="none", **BIG_VOCAB)
    no_remat.loss.chunk = 64
    no_remat = compile_check.compile_step(no_remat, v5p_devices, 4, 512)
    assert no_remat.temp_bytes > base.temp_bytes  # activations kept instead of recomputed
    unchunked = _tiny(remat="full", **BIG_VOCAB)
    unchunked.loss.chunk = None
    assert (
        compile_check.compile_step(unchunked, v5p_devices, 4, 512).temp_bytes > base.temp_bytes
    )  # the whole [B, S, V] logits live at once


def test_fsdp_mesh_is_resolved_to_dividing_groups():
    c = config_lib.experiment("t2v", "1b")
    assert compile_check.default_fsdp_mesh(c, 48) == dict(data=3, fsdp=16, context=1, tensor=1)
    c = config_lib.experiment("t2v", "3.6b")
    assert compile_check.default_fsdp_mesh(c, 48) == dict(data=1, fsdp=48, context=1, tensor=1)


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
    rows = compile_check.sweep(
        _tiny(), "v5p:2x2x1", v5p_devices, 1, 128, tensors=(1, 2), remats=("full",), micros=(1, 2)
    )
    assert [(r[0]["tensor"], r[2]) for r in rows] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert all(r[3] > 0 and r[4] == "yes" for r in rows)
    out = capsys.readouterr().out
    assert out.count("| full |") == 4 and "fits 95 GiB" in out


PAPER_PRESETS = [f"{p}-{r}" for p in ("0.5b", "1b", "3.6b") for r in ("256p", "384p")]


@pytest.fixture(scope="module")
def v5p_48():
    return compile_check.topology_devices("v5p:4x4x3")  # the README's pod: 48 mock chips


@pytest.mark.parametrize("task", config_lib.TASKS)
def test_every_paper_preset_resolves_a_mesh_for_the_readme_topologies(task, v5p_48):
    """compile_check's mesh resolution for cpu:48 and v5p:4x4x3 (both 48 devices), no
    compile: the README's paper-scale commands once crashed here for every preset."""
    from lumos_jax import parallel

    assert len(v5p_48) == 48
    for arg in PAPER_PRESETS:
        c = config_lib.experiment(task, arg)
        mesh = compile_check.resolve_mesh(c, 48)
        assert mesh["data"] * mesh["fsdp"] * mesh["tensor"] == 48, (arg, mesh)
        assert c.model.embed_dim % mesh["fsdp"] == 0, (arg, mesh)
        assert dict(parallel.make_mesh(mesh, devices=v5p_48).shape) == mesh
    c = config_lib.experiment(task, "1b")
    c.mesh.tensor = 2  # the tensor size is kept, fsdp resolved over the 24 left
    assert compile_check.resolve_mesh(c, 48) == dict(data=3, fsdp=8, context=1, tensor=2)
    c = config_lib.experiment(task, "1b")
    c.mesh.update(data=2, fsdp=-1)  # a mesh the user spelled out is left to make_mesh
    assert compile_check.resolve_mesh(c, 48) == dict(data=2, fsdp=-1, context=1, tensor=1)
    with pytest.raises(ValueError, match="mesh.tensor=5 does not divide"):
        compile_check.default_fsdp_mesh(c, 48, tensor=5)


def test_readme_compile_command_for_a_paper_preset_with_one_layer(tmp_path):
    """The README's `compile_check --config=...:PRESET --topology=v5p:4x4x3`, as a user
    runs it (one layer and a short sequence keep it fast), with no TPU-probe noise."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("JAX_PLATFORMS", "XLA_FLAGS", "TPU_WORKER_HOSTNAMES", "TPU_ACCELERATOR_TYPE")
    }
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "lumos_jax.compile_check",
            "--config=configs/t2v.py:0.5b",
            "--topology=v5p:4x4x3",
            "--config.model.num_layers=1",
            "--seq_len=512",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert (
        "topology v5p:4x4x3: 48 devices, mesh {'context': 1, 'data': 3, 'fsdp': 16, 'tensor': 1}"
        in r.stdout
    ), r.stdout
    assert "(fits," in r.stdout
    for noise in (
        "Unable to initialize backend",
        "unexpected worker hostname",
        "Traceback",
        "Failed to find host bounds",
    ):
        assert noise not in r.stdout + r.stderr, (noise, r.stderr[-3000:])
