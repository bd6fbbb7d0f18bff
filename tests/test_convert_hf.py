"""Parity with transformers' Chameleon: import, logits, export and reload."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

from lumos_jax import layout
from lumos_jax.model import convert_hf, safetensors_io
from lumos_jax.model.decoder import from_pure, to_pure

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

VOCAB = layout.compact_vocab(text_tokens=192, visual_size=256)


def _hf_model(per_head_norm: bool, seed=0):
    torch.manual_seed(seed)
    cfg = transformers.ChameleonConfig(
        vocab_size=VOCAB.size,
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        vocabulary_map={"<image>": 5},
        vq_config={
            "embed_dim": 4,
            "num_embeddings": 8,
            "base_channels": 32,
            "channel_multiplier": [1],
            "num_res_blocks": 1,
            "latent_channels": 4,
            "attn_resolutions": [],
        },
    )
    model = transformers.ChameleonForConditionalGeneration(cfg).eval()
    with torch.no_grad():  # random norms so every mapping (and per-head layout) is tested
        for name, p in model.named_parameters():
            if "norm" in name and not name.startswith("model.vqmodel"):
                if per_head_norm or p.ndim == 1:
                    p.copy_(1 + 0.3 * torch.randn_like(p))
                else:  # shared across heads, stored repeated per head (release layout)
                    p.copy_((1 + 0.3 * torch.randn_like(p[:1])).expand_as(p))
    return model


@pytest.mark.parametrize("per_head", [True, False])
def test_hf_to_ours_logits_match(tmp_path, per_head):
    hf = _hf_model(per_head)
    hf.save_pretrained(tmp_path, safe_serialization=True)
    cfg, pure, _ = convert_hf.load_hf(
        str(tmp_path), VOCAB, rope_variant="1d", dtype="float32", remat="none"
    )
    assert cfg.qk_norm_per_head == per_head
    model = from_pure(cfg, pure)
    ids = np.random.default_rng(0).integers(64, VOCAB.text_size, (2, 23))
    with torch.no_grad():
        out = hf.model(input_ids=torch.tensor(ids))
        hf_hidden = out.last_hidden_state.numpy()
        hf_logits = hf.lm_head(out.last_hidden_state).numpy()
    n = ids.shape[1]
    pos = jnp.broadcast_to(jnp.arange(n)[None, :, None], (2, n, 3))
    seg = jnp.full((2, n), layout.CAUSAL, jnp.int32)
    hidden, _ = model(jnp.asarray(ids, jnp.int32), pos, seg)
    logits = model.logits(hidden)
    assert np.abs(np.asarray(hidden) - hf_hidden).max() <= 1e-4
    assert np.abs(np.asarray(logits) - hf_logits).max() <= 1e-4


def test_ours_to_hf_round_trip(tmp_path):
    hf = _hf_model(per_head_norm=False, seed=1)
    hf.save_pretrained(tmp_path / "a", safe_serialization=True)
    cfg, pure, base = convert_hf.load_hf(
        str(tmp_path / "a"), VOCAB, dtype="float32", rope_variant="1d"
    )
    model = from_pure(cfg, pure)
    convert_hf.save_hf(str(tmp_path / "b"), to_pure(model), cfg, base_config=base)
    back = transformers.ChameleonForConditionalGeneration.from_pretrained(tmp_path / "b").eval()
    ids = torch.tensor(np.random.default_rng(1).integers(64, VOCAB.text_size, (1, 17)))
    with torch.no_grad():
        a = hf.lm_head(hf.model(input_ids=ids).last_hidden_state).numpy()
        b = back.lm_head(back.model(input_ids=ids).last_hidden_state).numpy()
    np.testing.assert_allclose(b, a, atol=1e-5)
    # The language-model tensors survive exactly (VQGAN tensors are not ours to write).
    src = safetensors_io.read_checkpoint(str(tmp_path / "a"))
    dst = safetensors_io.read_checkpoint(str(tmp_path / "b"))
    for k, v in dst.items():
        np.testing.assert_array_equal(v, src[k], err_msg=k)
    assert json.loads((tmp_path / "b" / "config.json").read_text())["vocab_size"] == VOCAB.size


def test_safetensors_sharded_and_truncated(tmp_path):
    import ml_dtypes

    t = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.ones(5, ml_dtypes.bfloat16),
        "c": np.arange(4, dtype=np.int32),
    }
    safetensors_io.write_checkpoint(str(tmp_path), t, max_shard_bytes=20)
    back = safetensors_io.read_checkpoint(str(tmp_path))
    for k in t:
        np.testing.assert_array_equal(np.asarray(back[k]), t[k])
        assert back[k].dtype == t[k].dtype
    (tmp_path / safetensors_io.INDEX_NAME).unlink()
    with pytest.raises(ValueError, match="incomplete"):
        safetensors_io.read_checkpoint(str(tmp_path))
    f = tmp_path / "x.safetensors"
    safetensors_io.write_file(str(f), {"a": np.ones(100, np.float32)})
    f.write_bytes(f.read_bytes()[:-40])
    with pytest.raises(ValueError, match="truncated"):
        safetensors_io.read_file(str(f))


def test_vocab_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="vocab_size=65536 does not match"):
        convert_hf.config_from_hf({"vocab_size": 65536, "hidden_size": 8}, VOCAB)
