"""model.attention='auto': the path chosen per platform and shape, and its recording."""

import logging

import pytest
from model_util import tiny_config

from lumos_jax import config_lib
from lumos_jax.model import attention_choice as ac


def _paper(**overrides):
    return tiny_config(
        **{
            **dict(
                dtype="bfloat16", num_heads=16, num_kv_heads=8, head_dim=128, max_frame_tokens=1852
            ),
            **overrides,
        }
    )


@pytest.mark.parametrize(
    "platform,cap,seqs,overrides,want,why",
    [
        ("cpu", None, [256, 640], {}, "dense", "up to 640"),
        ("cpu", None, [2048], {}, "blockwise", "above 640"),
        ("gpu", "9.0", [2048, 13312], {}, "cudnn", "takes these shapes"),
        ("cuda", "8.0", [13312], {}, "cudnn", "takes these shapes"),
        ("gpu", "9.0", [512], dict(dtype="float32"), "dense", "model.dtype=float32"),
        ("gpu", "9.0", [13312], dict(dtype="float32"), "blockwise", "model.dtype=float32"),
        ("gpu", "8.0", [2048], dict(head_dim=160), "dense", "<= 128"),
        ("gpu", "9.0", [2048], dict(head_dim=160), "cudnn", "takes these shapes"),
        ("gpu", "9.0", [2048], dict(head_dim=60, rope_variant="1d"), "dense", "multiple of 8"),
        ("gpu", "9.0", [2047], {}, "dense", "even lengths"),
        ("gpu", "9.0", [29184], {}, "blockwise", "mask + bias"),
        ("tpu", None, [2048, 29184], {}, "splash", "splash"),
        ("tpu", None, [2000], {}, "dense", "not a multiple of 128"),
        ("tpu", None, [13300], {}, "blockwise", "not a multiple of 128"),
        ("tpu", None, [2048], dict(max_frame_tokens=0), "dense", "max_frame_tokens=0"),
    ],
)
def test_choose(platform, cap, seqs, overrides, want, why):
    name, reason = ac.choose(_paper(**overrides), platform, seqs, cap)
    assert name == want and why in reason, reason


def test_resolve_records_the_choice_in_the_config_and_logs_once(caplog):
    class Device:  # what resolve reads of a jax device
        platform, compute_capability = "gpu", "9.0"

    ac._LOGGED.clear()
    caplog.set_level(logging.INFO)
    for _ in range(2):
        c = config_lib.experiment("t2v", "1b")
        assert c.model.attention == "auto"
        assert ac.resolve(c, [Device()]) == "cudnn"
        assert c.model.attention == "cudnn" and '"attention": "cudnn"' in c.to_json()
    lines = [r.getMessage() for r in caplog.records if "model.attention=auto" in r.message]
    assert lines == [
        "model.attention=auto -> cudnn (GPU: cuDNN flash attention takes these shapes)"
    ]
    c.model.attention = "blockwise"  # an explicit choice is kept
    assert ac.resolve(c, [Device()]) == "blockwise"


def test_every_preset_defaults_to_auto_with_a_frame_band():
    for arg, band in [("tiny", 160), ("0.5b", 1852), ("1b-384p", 4120)]:
        c = config_lib.experiment("t2v", arg)
        assert (c.model.attention, c.model.max_frame_tokens) == ("auto", band), arg


def test_tiny_resolves_to_dense_on_this_cpu():
    c = config_lib.experiment("t2v", "tiny")
    assert ac.resolve(c) == "dense"  # buckets of 256 and 512 tokens
