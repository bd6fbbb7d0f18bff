# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Text tokenizer: a Hugging Face `tokenizer.json` or a sentencepiece model, mapped into
the unified vocabulary of `lumos_jax.layout`.

  tok = text.load("tokenizer.json", layout.compact_vocab())
  ids = tok.encode_prompt("a red square moves left", width=64, height=64, frames=17, fps=8)
  tok.decode(ids) == layout.prompt_text(...)        # for byte-level BPE: exact

Id mapping (reference section 1): the text tokenizer's own id i is unified id
`vocab.first_text_id + i`. For the release vocabulary that offset is 0: Chameleon's own
ids ARE the unified ids, and the layout's specials (bos 0, separator 8710, ...) are
Chameleon tokens, so text that encodes to one of them is an error. For the compact
vocabulary the offset is 64 and the tokenizer must fit in `text_tokens` ids.
Encoding never adds bos/separator: `layout.build_sequence` does.

`train_bpe` builds the project's own small byte-level BPE (deterministic for a given
corpus order), used for the built-in ShapesMotion data (see lumos_jax.data.prepare).
One for your own captions:

  python -m lumos_jax.tokenizer.text --train_bpe --captions=clips.csv \
      --config=configs/t2v.py:tiny --out=runs/my_text/tokenizer.json
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
from typing import Iterable, Sequence

import numpy as np
import sentencepiece as spm
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from lumos_jax import cli, layout

SPECIAL_NAMES = (
    "bos",
    "separator",
    "image_start",
    "image_end",
    "newline",
    "mask",
    "video_start",
    "video_end",
)


class _HFBackend:
    """A `tokenizers.Tokenizer` (tokenizer.json)."""

    kind = "hf"

    def __init__(self, tokenizer):
        self.tok = tokenizer

    @property
    def size(self) -> int:
        return self.tok.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        # add_special_tokens=False: a post-processor (e.g. Chameleon's bos) must not fire here.
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=False)

    def serialize(self) -> bytes:
        return self.tok.to_str().encode("utf-8")

    def save(self, path: str) -> None:
        self.tok.save(path)


class _SPBackend:
    """A `sentencepiece.SentencePieceProcessor` (.model)."""

    kind = "sentencepiece"

    def __init__(self, processor):
        self.sp = processor

    @property
    def size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text, out_type=int)

    def decode(self, ids: Sequence[int]) -> str:
        return self.sp.decode(list(ids))

    def serialize(self) -> bytes:
        return self.sp.serialized_model_proto()

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.serialize())


class TextTokenizer:
    """A text tokenizer whose ids are unified-vocabulary ids (int32 numpy arrays)."""

    def __init__(self, backend, vocab: layout.Vocab, *, source: str = "<memory>"):
        self.backend, self.vocab, self.source = backend, vocab, source
        room = vocab.text_size - vocab.first_text_id
        if backend.size > room:
            raise ValueError(
                f"text tokenizer {source} has {backend.size} ids but the vocabulary leaves "
                f"{room} text ids (text_size {vocab.text_size} - first_text_id "
                f"{vocab.first_text_id}); use a smaller tokenizer or a larger vocab.text_tokens"
            )
        self.specials = {name: getattr(vocab, name) for name in SPECIAL_NAMES}
        self._special_by_id = {i: n for n, i in self.specials.items()}
        self._sizes = range(vocab.size_base, vocab.size_base + vocab.max_size_value)

    @property
    def kind(self) -> str:
        return self.backend.kind

    @property
    def size(self) -> int:
        """Ids of the text tokenizer itself (before the offset)."""
        return self.backend.size

    def fingerprint(self) -> str:
        """sha256 of the serialised tokenizer: names it in dataset manifests."""
        return hashlib.sha256(self.backend.serialize()).hexdigest()

    def is_reserved(self, unified_id: int) -> bool:
        """Whether a unified id is a layout special or a size token (never plain text)."""
        return unified_id in self._special_by_id or unified_id in self._sizes

    def encode(self, text: str) -> np.ndarray:
        """text -> unified ids int32 [n] (no bos / separator)."""
        ids = np.asarray(self.backend.encode(text), np.int64) + self.vocab.first_text_id
        if ids.size and ids.max() >= self.vocab.text_size:  # guarded at load; kept for safety
            raise ValueError(
                f"text tokenizer {self.source} produced id {ids.max()} outside "
                f"the text range [0, {self.vocab.text_size})"
            )
        clash = [int(i) for i in ids if self.is_reserved(int(i))]
        if clash:
            raise ValueError(
                f"text {text[:60]!r} encodes to reserved layout id(s) "
                f"{[self.name_of(i) for i in clash]}; remove the special-token "
                f"string from the caption"
            )
        return ids.astype(np.int32)

    def encode_prompt(
        self, caption: str, *, width: int, height: int, frames: int, fps: int
    ) -> np.ndarray:
        """The release's prompt template around `caption` -> unified ids int32 [n]."""
        return self.encode(
            layout.prompt_text(caption, width=width, height=height, frames=frames, fps=fps)
        )

    def name_of(self, unified_id: int) -> str:
        """'<separator>', '<size:3>', '<visual:17>' for non-text ids; '' for text ids."""
        i = int(unified_id)
        if i in self._special_by_id:
            return f"<{self._special_by_id[i]}>"
        if i in self._sizes:
            return f"<size:{i - self.vocab.size_base}>"
        if i >= self.vocab.visual_offset:
            return f"<visual:{i - self.vocab.visual_offset}>"
        return ""

    def decode(self, ids, *, skip_special: bool = True) -> str:
        """Unified ids [n] -> text. Specials, size and visual tokens are dropped, or written
        as `<name>` with skip_special=False. Raises on ids no tokenizer or layout defines."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        bad = ids[(ids < 0) | (ids >= self.vocab.size)]
        if bad.size:
            raise ValueError(f"id {int(bad[0])} is outside the vocabulary [0, {self.vocab.size})")
        parts, run = [], []
        for i in ids.tolist():
            name = self.name_of(i)
            if not name:
                local = i - self.vocab.first_text_id
                if not 0 <= local < self.size:
                    raise ValueError(
                        f"id {i} is in the text range but maps to text-tokenizer id "
                        f"{local}, and {self.source} defines ids [0, {self.size})"
                    )
                run.append(local)
                continue
            if run:
                parts.append(self.backend.decode(run))
                run = []
            if not skip_special:
                parts.append(name)
        if run:
            parts.append(self.backend.decode(run))
        return "".join(parts)

    def save(self, path: str) -> None:
        """Writes the backend file (tokenizer.json or a sentencepiece .model)."""
        self.backend.save(path)


def from_backend_object(obj, vocab: layout.Vocab, *, source: str = "<memory>") -> TextTokenizer:
    """Wraps an in-memory `tokenizers.Tokenizer` or `SentencePieceProcessor`."""
    if type(obj).__module__.startswith("sentencepiece"):
        return TextTokenizer(_SPBackend(obj), vocab, source=source)
    return TextTokenizer(_HFBackend(obj), vocab, source=source)


def load(path: str, vocab: layout.Vocab) -> TextTokenizer:
    """Loads a `tokenizer.json` (Hugging Face `tokenizers`) or a sentencepiece `.model`
    (or a directory holding one of them)."""
    path = os.path.expanduser(str(path))
    if os.path.isdir(path):
        found = [
            os.path.join(path, n)
            for n in ("tokenizer.json", "tokenizer.model")
            if os.path.exists(os.path.join(path, n))
        ]
        if not found:
            raise FileNotFoundError(f"{path}: no tokenizer.json or tokenizer.model inside")
        path = found[0]
    if not os.path.exists(path):
        raise FileNotFoundError(f"text tokenizer {path} does not exist")
    if path.endswith(".json"):
        return TextTokenizer(_HFBackend(Tokenizer.from_file(path)), vocab, source=path)
    try:
        processor = spm.SentencePieceProcessor(model_file=path)
    except (OSError, RuntimeError) as e:
        raise ValueError(
            f"{path}: neither a tokenizer.json nor a sentencepiece model ({e})"
        ) from None
    return TextTokenizer(_SPBackend(processor), vocab, source=path)


def train_bpe(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE (`tokenizers.Tokenizer`) of at most `vocab_size` ids on `texts`.

    All 256 bytes are in the alphabet, so any text encodes (no unknown token) and decodes
    back exactly; the remaining ids are merges. Deterministic for the same texts in the
    same order (the trainer breaks count ties by pair order).
    """
    if vocab_size < 256:
        raise ValueError(f"vocab_size={vocab_size}: a byte-level BPE needs at least 256 ids")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tok.train_from_iterator(list(texts), trainer)
    return tok


# ------------------------------------------------------------------ a BPE of one's captions


def read_captions(path: str) -> list[str]:
    """Captions from a .txt (one per line), a CSV (its `caption` column, else the second
    one: what prepare reads) or a folder (the same-stem .txt files prepare reads)."""
    path = os.path.expanduser(path)
    if os.path.isdir(path):
        found = []
        for d, dirs, files in os.walk(path):
            dirs.sort()
            for n in sorted(files):
                if n.endswith(".txt"):
                    with open(os.path.join(d, n), encoding="utf-8") as f:
                        found.append(f.read().strip())
        return [c for c in found if c]
    with open(path, newline="", encoding="utf-8") as f:
        if not path.lower().endswith(".csv"):
            return [line.strip() for line in f if line.strip()]
        rows = list(csv.reader(f))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    col = header.index("caption") if "caption" in header else 1
    body = rows[1:] if "caption" in header or header[:1] == ["path"] else rows
    return [r[col].strip() for r in body if len(r) > col and r[col].strip()]


def train_caption_bpe(captions: list[str], vocab_size: int, geometry: dict):
    """A byte-level BPE on the captions as prompts (layout.prompt_text with the config's
    size, frames and fps), so the template's words are merges too."""
    texts = [layout.prompt_text(c, **geometry) for c in captions]
    return train_bpe(texts, vocab_size)


def main(argv=None) -> int:
    """python -m lumos_jax.tokenizer.text --train_bpe --captions=FILE --out=tokenizer.json"""
    p = argparse.ArgumentParser(
        prog="python -m lumos_jax.tokenizer.text",
        description="Train a byte-level BPE text tokenizer on your captions.",
    )
    p.add_argument("--train_bpe", action="store_true", help="train a BPE (the only action)")
    p.add_argument("--captions", required=True, help=".txt (a caption a line), CSV or folder")
    p.add_argument("--out", required=True, help="the tokenizer.json to write")
    p.add_argument(
        "--config", default="configs/t2v.py:tiny", help="experiment config: vocab and geometry"
    )
    p.add_argument("--vocab_size", type=int, default=0, help="0: the config's text ids")
    a = p.parse_args(argv)
    if not a.train_bpe:
        p.error("nothing to do: pass --train_bpe")
    with cli.errors_as_one_line("lumos_jax.tokenizer.text", verbose=False):
        c = cli.load_config_file(a.config)
        vocab = layout.vocab_from_config(c.vocab)
        room = vocab.text_size - vocab.first_text_id
        size = a.vocab_size or room
        if size > room:
            raise ValueError(f"--vocab_size={size}: the config's vocabulary has {room} text ids")
        captions = read_captions(a.captions)
        if not captions:
            raise ValueError(f"--captions={a.captions}: no captions in it")
        s = c.sampling
        geometry = dict(width=s.width, height=s.height, frames=s.frames, fps=s.fps)
        tok = train_caption_bpe(captions, size, geometry)
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        tok.save(a.out)
        loaded = load(a.out, vocab)  # what prepare and sample will load
    print(f"wrote {a.out}: {loaded.size} ids from {len(captions)} captions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
