# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Tokenizer model: shapes, causality in time, dv4x8x8 architecture (abstract only)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from lumos_jax.tokenizer import config, fsq, model

# Frames replaced in the encoder causality check; row 0 of the batch is the base clip.
CHANGED_FRAMES = [0, 1, 4, 5, 8]


def _video(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


@pytest.fixture(scope="module")
def tiny():
    """Tiny model plus ONE compiled encode and ONE compiled decode, shared by the tests."""
    m = model.create(config.tiny(), seed=0)
    graphdef, state = nnx.split(m)
    base = _video((1, 9, 16, 16, 3), seed=1)
    batch = np.repeat(base, len(CHANGED_FRAMES) + 1, axis=0)
    for i, k in enumerate(CHANGED_FRAMES):
        batch[i + 1, k] = _video((16, 16, 3), seed=10 + k)  # replace frame k
    z = jax.jit(lambda s, x: nnx.merge(graphdef, s).encode_latent(x))(state, batch)
    codes = np.asarray(fsq.codes_to_indices(fsq.quantize(z, m.cfg.levels), m.cfg.levels))
    decode = jax.jit(lambda s, c: nnx.merge(graphdef, s).decode(c))
    return dict(model=m, state=state, latent=np.asarray(z), codes=codes, decode=decode)


@pytest.mark.parametrize("frames", [1, 5, 9, 17, 25])
def test_tiny_encode_decode_shapes(tiny, frames):
    m = tiny["model"]
    video = jax.ShapeDtypeStruct((2, frames, 16, 24, 3), jnp.float32)
    codes = jax.eval_shape(m.encode, video)
    assert codes.shape == (2, 1 + (frames - 1) // 4, 2, 3) and codes.dtype == jnp.int32
    recon = jax.eval_shape(m.decode, codes)
    assert recon.shape == (2, frames, 16, 24, 3) and recon.dtype == jnp.float32


def test_tiny_encode_decode_run(tiny):
    z, codes = tiny["latent"], tiny["codes"]
    assert z.shape == (6, 3, 2, 2, 4) and codes.shape == (6, 3, 2, 2)
    assert codes.dtype == np.int32 and codes.min() >= 0 and codes.max() < 1000
    recon = np.asarray(tiny["decode"](tiny["state"], codes[:3]))
    assert recon.shape == (3, 9, 16, 16, 3) and np.isfinite(recon).all()


def _latent_group(frame: int) -> int:
    return 0 if frame == 0 else (frame - 1) // 4 + 1


def test_encoder_is_causal(tiny):
    z = tiny["latent"]
    for i, k in enumerate(CHANGED_FRAMES):
        diff = np.abs(z[i + 1] - z[0]).max(axis=(1, 2, 3))
        g = _latent_group(k)
        assert diff[:g].max(initial=0) <= 1e-6, f"frame {k} leaked into latent frames < {g}: {diff}"
        assert diff[g] > 1e-4, f"changing frame {k} did not change latent frame {g}: {diff}"


def test_decoder_is_causal(tiny):
    codes = np.repeat(tiny["codes"][:1], 3, axis=0)
    codes[1, 1] = (codes[1, 1] + 17) % 1000  # change latent frame 1
    codes[2, 2] = (codes[2, 2] + 17) % 1000  # change latent frame 2
    video = np.asarray(tiny["decode"](tiny["state"], codes))
    for row, j in ((1, 1), (2, 2)):
        diff = np.abs(video[row] - video[0]).max(axis=(1, 2, 3))
        first = 1 + 4 * (j - 1)  # first pixel frame of latent frame j
        assert diff[:first].max() <= 1e-6, diff
        assert diff[first : first + 4].min() > 1e-4, diff


def test_host_init_distributions(tiny):
    params = nnx.state(tiny["model"], nnx.Param)
    kernel = np.asarray(params["encoder"]["conv_in"][0]["conv3d"]["kernel"].get_value())
    bound = (1 * 3 * 3 * 192) ** -0.5  # U(+-1/sqrt(fan_in)), fan_in = kt*kh*kw*in
    assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.9 * bound
    norm = params["decoder"]["norm_out"]["norm"]
    np.testing.assert_array_equal(np.asarray(norm["scale"].get_value()), 1.0)
    np.testing.assert_array_equal(np.asarray(norm["bias"].get_value()), 0.0)


def test_bad_shapes_raise(tiny):
    m = tiny["model"]
    with pytest.raises(ValueError, match="float video"):
        jax.eval_shape(m.encode, jax.ShapeDtypeStruct((1, 5, 16, 16, 3), jnp.uint8))
    with pytest.raises(ValueError, match="num_frames=6"):
        jax.eval_shape(m.encode, jax.ShapeDtypeStruct((1, 6, 16, 16, 3), jnp.float32))
    with pytest.raises(ValueError, match="multiples of 8"):
        jax.eval_shape(m.encode, jax.ShapeDtypeStruct((1, 5, 12, 16, 3), jnp.float32))


def test_learned_temporal_resampling_shapes():
    # Cosmos's 8x temporal variants add a learned temporal down/upsample after the patcher.
    base = config.tiny().to_dict()
    with pytest.raises(ValueError, match="add a level"):  # 2 levels cannot undo it
        config.TokenizerConfig.from_dict({**base, "temporal_compression": 8})
    cfg = config.TokenizerConfig.from_dict(
        {**base, "temporal_compression": 8, "channels_mult": (1, 2, 2)}
    )
    graphdef, state = model.abstract_model(cfg)
    assert "conv2" in nnx.to_pure_dict(state)["encoder"]["down"][0]["downsample"]
    video = jax.ShapeDtypeStruct((1, 17, 16, 16, 3), jnp.float32)
    codes = jax.eval_shape(lambda s, x: nnx.merge(graphdef, s).encode(x), state, video)
    assert codes.shape == (1, 3, 2, 2)
    recon = jax.eval_shape(lambda s, c: nnx.merge(graphdef, s).decode(c), state, codes)
    assert recon.shape == (1, 17, 16, 16, 3)


def test_tiny_config():
    cfg = config.tiny()
    assert cfg.codebook_size == 1000
    assert (cfg.temporal_compression, cfg.spatial_compression) == (4, 8)
    assert [cfg.latent_frames(f) for f in (1, 5, 9, 17, 25)] == [1, 2, 3, 5, 7]


def _flat_shapes(state):
    return {".".join(map(str, p)): tuple(v.shape) for p, v in nnx.to_flat_state(state)}


def test_dv4x8x8_architecture_abstract():
    cfg = config.dv4x8x8()
    graphdef, state = model.abstract_model(cfg)
    n = model.param_count(nnx.filter_state(state, nnx.Param))
    print(f"dv4x8x8 parameters: {n:,}")
    assert n == 104_669_558
    shapes = _flat_shapes(nnx.filter_state(state, nnx.Param))
    expected = {
        "encoder.conv_in.0.conv3d.kernel": (1, 3, 3, 192, 128),
        "encoder.conv_in.1.conv3d.kernel": (3, 1, 1, 128, 128),
        "encoder.down.0.block.0.conv1.0.conv3d.kernel": (1, 3, 3, 128, 256),
        "encoder.down.0.block.0.nin_shortcut.conv3d.kernel": (1, 1, 1, 128, 256),
        "encoder.down.0.downsample.conv1.conv3d.kernel": (1, 3, 3, 256, 256),
        "encoder.down.0.downsample.conv3.conv3d.kernel": (1, 1, 1, 256, 256),
        "encoder.mid.attn_1.0.q.conv3d.kernel": (1, 1, 1, 512, 512),
        "encoder.mid.attn_1.1.proj_out.conv3d.kernel": (1, 1, 1, 512, 512),
        "encoder.norm_out.norm.scale": (512,),
        "encoder.conv_out.1.conv3d.kernel": (3, 1, 1, 16, 16),
        "quant_conv.conv3d.kernel": (1, 1, 1, 16, 6),
        "post_quant_conv.conv3d.kernel": (1, 1, 1, 6, 16),
        "decoder.conv_in.0.conv3d.kernel": (1, 3, 3, 16, 512),
        "decoder.up.2.upsample.conv2.conv3d.kernel": (1, 3, 3, 512, 512),
        "decoder.up.0.block.0.nin_shortcut.conv3d.kernel": (1, 1, 1, 512, 256),
        "decoder.up.0.block.2.conv2.1.conv3d.kernel": (3, 1, 1, 256, 256),
        "decoder.conv_out.1.conv3d.kernel": (3, 1, 1, 192, 192),
    }
    for key, shape in expected.items():
        assert shapes.get(key) == shape, (key, shapes.get(key))
    # DV4x8x8: no level attention, one spatial downsample, no temporal resamplers.
    assert not any(".attn." in k for k in shapes)
    assert not any(
        k.startswith(
            (
                "encoder.down.1.downsample",
                "decoder.up.1.upsample",
                "encoder.down.0.downsample.conv2",
                "decoder.up.2.upsample.conv1",
            )
        )
        for k in shapes
    )
    assert len([k for k in shapes if k.startswith("decoder.up.1.block.")]) == 3 * 2 * 6
    video = jax.ShapeDtypeStruct((1, 17, 64, 96, 3), jnp.float32)
    codes = jax.eval_shape(lambda s, x: nnx.merge(graphdef, s).encode(x), state, video)
    assert codes.shape == (1, 5, 8, 12) and codes.dtype == jnp.int32
    recon = jax.eval_shape(lambda s, c: nnx.merge(graphdef, s).decode(c), state, codes)
    assert recon.shape == (1, 17, 64, 96, 3)
