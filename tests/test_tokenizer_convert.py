# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Cosmos converter: key/shape/layout round trip on dv4x8x8, files, torch layer parity."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from lumos_jax.tokenizer import config
from lumos_jax.tokenizer import convert_cosmos as cc
from lumos_jax.tokenizer.layers import CausalConv3d, CausalNormalize


def _random_params(cfg, seed=0) -> nnx.State:
    """Values in the model's parameter layout without running its init: each tensor holds
    distinct values (a random offset plus arange), so any wrong transpose shows up."""
    rng = np.random.default_rng(seed)
    flat = [
        (
            p,
            v.replace(
                value=(
                    np.arange(v.size, dtype=np.float32).reshape(v.shape)
                    + np.float32(rng.uniform(-1e3, 1e3))
                )
            ),
        )
        for p, v in nnx.to_flat_state(cc.abstract_params(cfg))
    ]
    return nnx.from_flat_state(flat)


def test_dv4x8x8_round_trip_keys_shapes_layout():
    cfg = config.dv4x8x8()
    params = _random_params(cfg)
    sd = cc.params_to_cosmos(params, cfg, include_unused=True)
    n_cosmos = sum(int(np.prod(v.shape)) for v in sd.values())
    print(f"dv4x8x8: {len(sd)} Cosmos tensors, {n_cosmos:,} values incl. unused resamplers")
    assert n_cosmos == 104_669_558 + sum(
        int(np.prod(s)) for s in cc.unused_cosmos_keys(cfg).values()
    )
    expected = {
        "encoder.conv_in.0.conv3d.weight": (128, 192, 1, 3, 3),
        "encoder.conv_in.1.conv3d.weight": (128, 128, 3, 1, 1),
        "encoder.down.0.block.0.norm1.norm.weight": (128,),
        "encoder.down.0.block.0.norm1.norm.bias": (128,),
        "encoder.down.0.downsample.conv1.conv3d.weight": (256, 256, 1, 3, 3),
        "encoder.down.1.downsample.conv2.conv3d.weight": (512, 512, 3, 1, 1),  # unused
        "encoder.mid.attn_1.1.v.conv3d.weight": (512, 512, 1, 1, 1),
        "quant_conv.conv3d.weight": (6, 16, 1, 1, 1),
        "quant_conv.conv3d.bias": (6,),
        "post_quant_conv.conv3d.weight": (16, 6, 1, 1, 1),
        "decoder.up.0.block.0.nin_shortcut.conv3d.weight": (256, 512, 1, 1, 1),
        "decoder.up.1.upsample.conv3.conv3d.weight": (512, 512, 1, 1, 1),  # unused
        "decoder.conv_out.0.conv3d.weight": (192, 256, 1, 3, 3),
        "decoder.norm_out.norm.weight": (256,),
    }
    for key, shape in expected.items():
        assert sd[key].shape == shape, key
    # Element check of the transpose: torch[o, i, t, h, w] == ours[t, h, w, i, o].
    ours = np.asarray(params["encoder"]["conv_in"][0]["conv3d"]["kernel"].get_value())
    assert sd["encoder.conv_in.0.conv3d.weight"][5, 17, 0, 2, 1] == ours[0, 2, 1, 17, 5]
    back = cc.cosmos_to_params(sd, cfg)
    want = dict(nnx.to_flat_state(params))
    got = dict(nnx.to_flat_state(back))
    assert set(got) == set(want)
    for path, var in got.items():
        np.testing.assert_array_equal(var.get_value(), want[path].get_value(), err_msg=str(path))
        assert var.get_metadata().get("axes") == want[path].get_metadata().get("axes")


def test_mismatches_are_named():
    cfg = config.tiny()
    sd = cc.params_to_cosmos(_random_params(cfg), cfg)
    sd.pop("encoder.conv_in.0.conv3d.bias")
    sd["decoder.norm_out.norm.weight"] = np.zeros((5,), np.float32)
    sd["encoder.extra.weight"] = np.zeros((1,), np.float32)
    sd["encoder.patcher3d.wavelets"] = np.zeros((2,), np.float32)  # buffers are ignored
    with pytest.raises(ValueError) as e:
        cc.cosmos_to_params(sd, cfg)
    msg = str(e.value)
    assert "missing encoder.conv_in.0.conv3d.bias" in msg
    assert "decoder.norm_out.norm.weight: shape (5,)" in msg
    assert "unexpected encoder.extra.weight" in msg and "wavelets" not in msg


def test_files_round_trip(tmp_path):
    cfg = config.tiny()
    params = _random_params(cfg, seed=1)
    sd = cc.params_to_cosmos(params, cfg, include_unused=True)
    enc = {k: v for k, v in sd.items() if k.startswith(("encoder.", "quant_conv."))}
    dec = {k: v for k, v in sd.items() if k not in enc}
    cc.save_safetensors(enc, str(tmp_path / "enc.safetensors"))
    torch = pytest.importorskip("torch")
    torch.save(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in dec.items()},
        str(tmp_path / "dec.pt"),
    )
    loaded = cc.load_state_dict([str(tmp_path / "enc.safetensors"), str(tmp_path / "dec.pt")])
    assert set(loaded) == set(sd)
    # CLI: Cosmos files -> our layout -> model.
    out = tmp_path / "tiny.safetensors"
    cc.main(
        [
            "--config=tiny",
            f"--inputs={tmp_path}/enc.safetensors,{tmp_path}/dec.pt",
            f"--output={out}",
        ]
    )
    graphdef, abstract = cc.abstract_model(cfg)
    model = nnx.merge(graphdef, jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), abstract))
    cc.load_params_file(model, str(out))
    got = dict(nnx.to_flat_state(nnx.state(model, nnx.Param)))
    for path, var in nnx.to_flat_state(params):
        np.testing.assert_array_equal(np.asarray(got[path].get_value()), var.get_value())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch 2.13 deprecates jit.trace
def test_reads_torchscript_archives(tmp_path):
    torch = pytest.importorskip("torch")
    from collections import OrderedDict  # pylint: disable=g-import-not-at-top

    # Same nesting as Cosmos's encoder.jit: Sequential(..., quant_conv=CausalConv3d(conv3d)).
    net = torch.nn.Sequential(
        OrderedDict(quant_conv=torch.nn.Sequential(OrderedDict(conv3d=torch.nn.Conv3d(16, 6, 1))))
    )
    path = str(tmp_path / "encoder.jit")
    torch.jit.trace(net, torch.zeros(1, 16, 1, 2, 2)).save(path)
    sd = cc.load_state_dict(path)
    assert sorted(sd) == ["quant_conv.conv3d.bias", "quant_conv.conv3d.weight"]
    np.testing.assert_array_equal(
        sd["quant_conv.conv3d.weight"], net.quant_conv.conv3d.weight.detach().numpy()
    )


def test_conv_and_norm_match_torch_with_converted_weights():
    torch = pytest.importorskip("torch")
    rngs = nnx.Rngs(0)
    x = np.random.default_rng(0).normal(size=(2, 5, 8, 8, 4)).astype(np.float32)
    xt = torch.from_numpy(x).permute(0, 4, 1, 2, 3)  # NCTHW
    # Strided (1,3,3) conv with zero spatial padding 1; torch pads explicitly like Cosmos.
    conv = CausalConv3d(4, 6, (1, 3, 3), stride=2, padding=1, rngs=rngs)
    sd = cc.params_to_cosmos(nnx.state(conv, nnx.Param))
    w, b = (torch.tensor(sd[k]) for k in ("conv3d.weight", "conv3d.bias"))
    ref = torch.nn.functional.conv3d(
        torch.nn.functional.pad(xt, (1, 1, 1, 1, 0, 0)), w, b, stride=(1, 2, 2)
    )
    np.testing.assert_allclose(
        np.asarray(conv(jnp.asarray(x))), ref.permute(0, 2, 3, 4, 1).numpy(), atol=1e-4
    )
    # Causal (3,1,1) conv: time padded with two copies of frame 0.
    tconv = CausalConv3d(4, 6, (3, 1, 1), rngs=rngs)
    sd = cc.params_to_cosmos(nnx.state(tconv, nnx.Param))
    w, b = (torch.tensor(sd[k]) for k in ("conv3d.weight", "conv3d.bias"))
    ref = torch.nn.functional.conv3d(torch.cat([xt[:, :, :1]] * 2 + [xt], dim=2), w, b)
    np.testing.assert_allclose(
        np.asarray(tconv(jnp.asarray(x))), ref.permute(0, 2, 3, 4, 1).numpy(), atol=1e-4
    )
    # Per-frame GroupNorm(1, eps 1e-6) with a non-trivial affine.
    norm = CausalNormalize(4, rngs=rngs)
    norm.norm.scale.set_value(jnp.arange(1.0, 5.0))
    norm.norm.bias.set_value(jnp.arange(4.0) / 10)
    gn = torch.nn.GroupNorm(1, 4, eps=1e-6)
    gsd = cc.params_to_cosmos(nnx.state(norm, nnx.Param))  # norm.weight, norm.bias
    gn.load_state_dict(
        {k.removeprefix("norm."): torch.tensor(np.asarray(v)) for k, v in gsd.items()}
    )
    with torch.no_grad():
        ref = gn(xt.permute(0, 2, 1, 3, 4).reshape(10, 4, 8, 8)).reshape(2, 5, 4, 8, 8)
    np.testing.assert_allclose(
        np.asarray(norm(jnp.asarray(x))), ref.permute(0, 1, 3, 4, 2).numpy(), atol=1e-5
    )
