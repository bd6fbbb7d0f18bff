# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Text tokenizer wrapper: id mapping for both vocabularies, round trips, errors, and the
deterministic ShapesMotion BPE."""

import json

import numpy as np
import pytest

from lumos_jax import layout
from lumos_jax.data import prepare_inputs
from lumos_jax.tokenizer import text

CAPTION = "a red square moves left on a checkered gray background"
GEOMETRY = dict(width=64, height=64, frames=17, fps=8)


@pytest.fixture(scope="module")
def bpe():
    """A small byte-level BPE trained on ShapesMotion prompts (a tokenizers.Tokenizer)."""
    return text.train_bpe(prepare_inputs.shapes_prompts(num=200), 448)


def _release_style_json(bpe, path):
    """A tokenizer.json laid out like Chameleon's: ids 0..9005 are reserved tokens (the
    layout's specials among them, as added special tokens), text tokens start at 9006."""
    spec = json.loads(bpe.to_str())
    first = layout.release_vocab().video_end + 1
    vocab = {f"<reserved{i:05d}>": i for i in range(first)}
    vocab.update({tok: first + i for tok, i in spec["model"]["vocab"].items()})
    spec["model"]["vocab"] = vocab
    specials = [0, 8196, 8197, 8710, 8803, 9003, 9004, 9005]
    spec["added_tokens"] = [
        dict(
            id=i,
            content=f"<reserved{i:05d}>",
            single_word=False,
            lstrip=False,
            rstrip=False,
            normalized=False,
            special=True,
        )
        for i in specials
    ]
    path.write_text(json.dumps(spec))
    return str(path)


def test_compact_round_trip_and_offset(bpe):
    vocab = layout.compact_vocab()
    tok = text.from_backend_object(bpe, vocab)
    prompt = layout.prompt_text(CAPTION, **GEOMETRY)
    ids = tok.encode_prompt(CAPTION, **GEOMETRY)
    assert ids.dtype == np.int32
    assert ids.min() >= vocab.first_text_id and ids.max() < vocab.text_size
    np.testing.assert_array_equal(ids - 64, bpe.encode(prompt).ids)  # id i -> 64 + i
    assert tok.decode(ids) == prompt
    # Unicode outside the training text still round-trips (byte-level alphabet).
    odd = "Ünïcode ✓ 🙂\ttabs"
    assert tok.decode(tok.encode(odd)) == odd
    # The ids lay out with the layout module, which adds bos / separator itself.
    seq = layout.build_sequence(
        ids, np.zeros((1, 8, 8), np.int32), fps=1, duration=1, height=64, width=64, vocab=vocab
    )
    assert seq.tokens[0] == vocab.bos and seq.tokens[len(ids) + 1] == vocab.separator


def test_compact_specials_decode_by_name(bpe):
    vocab = layout.compact_vocab()
    tok = text.from_backend_object(bpe, vocab)
    ids = tok.encode("a red circle")
    seq = [vocab.bos, *ids, vocab.separator, vocab.size_token(3), vocab.visual_offset + 7]
    assert tok.decode(seq) == "a red circle"
    assert tok.decode(seq, skip_special=False) == ("<bos>a red circle<separator><size:3><visual:7>")
    assert tok.specials["separator"] == 1 and tok.specials["video_start"] == 6


def test_release_style_identity_mapping(bpe, tmp_path):
    vocab = layout.release_vocab()
    tok = text.load(_release_style_json(bpe, tmp_path / "tokenizer.json"), vocab)
    assert tok.kind == "hf" and tok.size == 9006 + bpe.get_vocab_size()
    prompt = layout.prompt_text(CAPTION, **GEOMETRY)
    ids = tok.encode(prompt)
    # Release: the tokenizer's own ids are the unified ids.
    np.testing.assert_array_equal(ids, tok.backend.tok.encode(prompt).ids)
    assert ids.min() >= 9006 and tok.decode(ids) == prompt
    assert tok.decode([0, *ids[:2], 8710], skip_special=False) == ("<bos>Generate a<separator>")
    assert tok.name_of(8804 + 2) == "<size:2>" and tok.name_of(65536 + 5) == "<visual:5>"


def test_release_text_hitting_a_special_id_errors(bpe, tmp_path):
    tok = text.load(_release_style_json(bpe, tmp_path / "tokenizer.json"), layout.release_vocab())
    with pytest.raises(ValueError, match="separator"):
        tok.encode("a red square <reserved08710> moves")


def test_out_of_range_ids(bpe):
    vocab = layout.compact_vocab()
    tok = text.from_backend_object(bpe, vocab, source="bpe")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([-1])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([vocab.size])
    unused = vocab.first_text_id + bpe.get_vocab_size()  # in the text range, no token
    assert unused < vocab.text_size
    with pytest.raises(ValueError, match="defines ids"):
        tok.decode([unused])
    # A tokenizer larger than the compact vocabulary's text ids is refused at load.
    with pytest.raises(ValueError, match="text ids"):
        text.from_backend_object(bpe, layout.compact_vocab(text_tokens=300), source="bpe")


def test_training_is_deterministic_and_fits():
    a = prepare_inputs.train_shapes_bpe(448, num=300)
    b = prepare_inputs.train_shapes_bpe(448, num=300)
    assert a.to_str() == b.to_str()
    assert a.get_vocab_size() <= 448
    tok = text.from_backend_object(a, layout.compact_vocab())
    # The template words are merged: a shapes prompt stays short (fits the tiny buckets).
    assert len(tok.encode_prompt(CAPTION, **GEOMETRY)) < 60


def test_save_load_and_directory(bpe, tmp_path):
    vocab = layout.compact_vocab()
    tok = text.from_backend_object(bpe, vocab)
    tok.save(str(tmp_path / "tokenizer.json"))
    again = text.load(str(tmp_path), vocab)  # a directory holding tokenizer.json
    assert again.fingerprint() == tok.fingerprint()
    np.testing.assert_array_equal(again.encode(CAPTION), tok.encode(CAPTION))
    with pytest.raises(FileNotFoundError):
        text.load(str(tmp_path / "missing.json"), vocab)


def test_sentencepiece_model(tmp_path):
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    lines = [p.replace("\n", " ") for p in prepare_inputs.shapes_prompts(num=100)]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=120, model_type="bpe"
    )
    path = tmp_path / "tokenizer.model"
    path.write_bytes(model.getvalue())
    vocab = layout.compact_vocab()
    tok = text.load(str(path), vocab)
    assert tok.kind == "sentencepiece" and tok.size == 120
    ids = tok.encode(CAPTION)
    assert ids.min() >= 64 and ids.max() < 64 + 120
    np.testing.assert_array_equal(ids - 64, tok.backend.sp.encode(CAPTION))
    assert tok.decode(ids) == CAPTION
