"""Shared helpers for model tests: tiny configs and laid-out random batches."""

import jax.numpy as jnp
import numpy as np
from flax import nnx

from lumos_jax import layout
from lumos_jax.model.config import ModelConfig, preset
from lumos_jax.model.decoder import Decoder

VOCAB = layout.compact_vocab()


def tiny_config(**overrides) -> ModelConfig:
    return ModelConfig.from_dict({**preset("tiny", VOCAB), "dtype": "float32", **overrides})


def tiny_model(seed=0, **overrides) -> Decoder:
    return Decoder(tiny_config(**overrides), rngs=nnx.Rngs(seed))


def random_batch(batch=2, frames=2, rows=2, cols=3, length=64, seed=0):
    """Laid-out samples with random text/codes, right-padded; labels on visual content."""
    rng = np.random.default_rng(seed)
    out = []
    for b in range(batch):
        text = rng.integers(VOCAB.first_text_id, VOCAB.text_size, int(rng.integers(3, 8)))
        codes = rng.integers(0, VOCAB.visual_size, (frames, rows, cols))
        seq = layout.build_sequence(
            text, codes, fps=4, duration=1, height=rows * 8, width=cols * 8, vocab=VOCAB
        )
        out.append(layout.pad_to(seq, length, VOCAB))
    batch_ = {k: jnp.asarray(np.stack([o[k] for o in out])) for k in out[0]}
    batch_["labels"] = jnp.where(batch_["visual"] == 1, batch_["tokens"], -1)
    return batch_
