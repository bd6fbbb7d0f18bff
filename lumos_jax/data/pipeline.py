# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Grain pipeline: token records -> fixed-shape AR-DF training batches.

A batch (numpy int32, this process's share of the global batch, B = batch_size /
process_count, S = the stream's bucket length):
  tokens    [B, S]     inputs: the Lumos layout with AR-DF masked positions set to the mask id
  labels    [B, S]     the original visual token id at masked positions, -1 elsewhere
  segments  [B, S]     layout.CAUSAL (text/specials), frame index, layout.PAD
  positions [B, S, 3]  MM-RoPE (t, h, w)
  visual    [B, S]     1 on visual content (codes and row newlines)
Sequences are built only through `lumos_jax.layout` (build_sequence, pad_to).

Streams (`config.data.streams.NAME`) are resolution buckets: each has its sources, one
fixed `seq_len` (right padding, so the step never recompiles) and a mixture `weight`;
whole batches come from one stream, and streams are interleaved by weight in sorted name
order (image 1 : video 1 alternates an image batch and a video batch, as the release).

Determinism: batch k is a pure function of (config, k): a shuffled, repeated index space
per stream, sliced per JAX process, each example drawn from
`np.random.default_rng([seed, stream, global position])`. So worker count, thread count
and restarts never change the batches. The iterator state is {"next_batch", "skipped",
"fingerprint"}; see `DataIterator` for Orbax checkpointing.
"""

from __future__ import annotations

import dataclasses
import json

import grain
import jax
import ml_collections
import numpy as np
from absl import flags, logging

from lumos_jax import layout
from lumos_jax.data import ardf, records, sources

BATCH_KEYS = ("tokens", "labels", "segments", "positions", "visual")


@dataclasses.dataclass(frozen=True)
class ExampleSpec:
    """Everything one example needs besides its source (picklable for Grain workers)."""

    stream: str
    stream_id: int
    seq_len: int
    vocab: layout.Vocab
    mask: ardf.MaskSpec
    cfg_dropout: float
    strides: tuple
    rope_1d: bool
    seed: int
    process_index: int
    process_count: int
    skip_bad: bool
    max_skips: int


def length_problem(record: records.TokenRecord, stream: str, seq_len: int) -> str:
    """Why `record` does not fit stream `stream`'s bucket of `seq_len` tokens ('' if it
    does), naming the config key that fixes it (data.check applies the same test)."""
    n = record.sequence_length(with_text=True)
    if n <= seq_len:
        return ""
    return (
        f"sequence of {n} tokens ({len(record.text_ids)} prompt ids, {record.num_frames} "
        f"latent frames of {record.height}x{record.width} px) does not fit bucket "
        f"'{stream}' of {seq_len} tokens: raise config data.streams.{stream}.seq_len to "
        f">= {n} (or prepare shorter, smaller clips or shorter captions)"
    )


class ExampleMaker:
    """Grain map_with_index transform: (position, record index) -> one padded example."""

    def __init__(self, source, spec: ExampleSpec):
        self.source, self.spec = source, spec

    def load(self, index: int) -> records.TokenRecord:
        """Reads and checks record `index`; RecordError names shard, index and problem."""
        record = self.source.read(index)
        shard, local = self.source.locate(index)
        records.check(record, self.spec.vocab, shard=shard, index=local)
        problem = length_problem(record, self.spec.stream, self.spec.seq_len)
        if problem:
            raise records.RecordError(shard, local, problem)
        return record

    def _load_or_skip(self, index: int):
        """Returns (record, skip messages); skipping moves on to the next record."""
        skipped = []
        for _ in range(self.spec.max_skips + 1):
            try:
                return self.load(index), tuple(skipped)
            except records.RecordError as e:
                if not self.spec.skip_bad:
                    raise
                logging.warning("skipping bad record: %s", e)
                skipped.append(str(e))
                index = (index + 1) % len(self.source)
        raise RuntimeError(
            f"stream '{self.spec.stream}': more than {self.spec.max_skips} bad "
            f"records in a row; last: {skipped[-1]}"
        )

    def build(self, record: records.TokenRecord, rng: np.random.Generator) -> dict:
        """Record -> padded example dict of BATCH_KEYS (no batch axis)."""
        s = self.spec
        with_text = rng.random() >= s.cfg_dropout  # CFG dropout: start at video_start
        seq = layout.build_sequence(
            record.text_ids,
            record.codes,
            fps=record.fps,
            duration=record.duration,
            height=record.height,
            width=record.width,
            vocab=s.vocab,
            with_text=with_text,
            strides=s.strides,
            rope_1d=s.rope_1d,
        )
        rows, cols = record.codes.shape[1:]
        inputs, labels, _ = ardf.ardf_mask(seq, rows, cols, rng, s.mask, s.vocab)
        out = layout.pad_to(seq, s.seq_len, s.vocab)
        out["tokens"][: len(seq)] = inputs
        out["labels"] = np.full(s.seq_len, -1, np.int32)
        out["labels"][: len(seq)] = labels
        return out

    def __call__(self, position: int, record_index: int) -> dict:
        s = self.spec
        filler = int(record_index) < 0  # a padding row of the last eval batch
        record, skipped = self._load_or_skip(0 if filler else int(record_index))
        global_position = position * s.process_count + s.process_index  # same in any layout
        rng = np.random.default_rng([s.seed, s.stream_id, global_position])
        example = self.build(record, rng)
        if filler:
            example["labels"][:] = -1  # no loss: the mean is over the real records only
        example["_skips"] = skipped
        return example


def collate(examples) -> dict:
    """Examples -> batch: BATCH_KEYS stacked on a new axis 0, '_skips' concatenated."""
    batch = {k: np.stack([e[k] for e in examples]) for k in BATCH_KEYS}
    batch["_skips"] = tuple(m for e in examples for m in e["_skips"])
    return batch


def _process_layout(process_index, process_count):
    if process_index is None or process_count is None:
        process_index, process_count = jax.process_index(), jax.process_count()
    return int(process_index), int(process_count)


def open_config_sources(
    spec: str, key: str, *, tfds_data_dir: str = "", vocab=None, weight: float | None = None
):
    """sources.open_sources for config key `key`, whose errors name the key and the value
    and say where records come from; no sources, or none with records, is an error too
    (`weight`: the stream's, for the message)."""
    if not sources.parse_specs(spec):
        raise ValueError(
            f"config {key} is empty; expected token records, e.g. "
            f"array_record:GLOB"
            + ("" if weight is None else f" (the stream's weight is {weight}: 0 turns it off)")
        )
    try:
        source = sources.open_sources(spec, tfds_data_dir=tfds_data_dir or None, vocab=vocab)
    except FileNotFoundError as e:
        raise FileNotFoundError(
            f"config {key}={spec!r}: {e}; expected token records, e.g. array_record:GLOB "
            f"of shards written by python -m lumos_jax.data.prepare"
        ) from None
    except ValueError as e:
        if type(e) is not ValueError:  # RecordError & co. already name shard and record
            raise
        raise ValueError(f"config {key}={spec!r}: {e}") from None
    if len(source) == 0:
        raise ValueError(f"config {key}={spec!r} holds no records")
    return source


class Pipeline:
    """Configured batch pipeline; `iter(pipeline)` gives a checkpointable DataIterator.

    process_index / process_count default to jax.process_index() / jax.process_count().
    """

    def __init__(
        self, config: ml_collections.ConfigDict, *, process_index=None, process_count=None
    ):
        self.config = config
        self.process_index, self.process_count = _process_layout(process_index, process_count)
        if config.batch_size % self.process_count:
            raise ValueError(
                f"config data.batch_size={config.batch_size} is not divisible by "
                f"the {self.process_count} JAX processes"
            )
        self.local_batch = config.batch_size // self.process_count
        self.vocab = layout.vocab_from_config(config.vocab)
        self.mask = ardf.MaskSpec(**config.masking.to_dict())
        self.streams = {}  # name -> (source, seq_len, weight), active streams only
        for name in sorted(config.streams.keys()):
            st = config.streams[name]
            if st.weight > 0:
                self.streams[name] = (self._open(name, st), int(st.seq_len), float(st.weight))
        if not self.streams:
            raise ValueError("config data.streams: no stream has weight > 0")
        self.batches = self._batches()

    def _open(self, name, st):
        return open_config_sources(
            st.sources,
            f"data.streams.{name}.sources",
            tfds_data_dir=self.config.tfds_data_dir,
            vocab=self.vocab,
            weight=st.weight,
        )

    def _spec(self, name: str, stream_id: int, seq_len: int) -> ExampleSpec:
        c = self.config
        return ExampleSpec(
            stream=name,
            stream_id=stream_id,
            seq_len=seq_len,
            vocab=self.vocab,
            mask=self.mask,
            cfg_dropout=float(c.cfg_dropout),
            strides=tuple(c.position_strides),
            rope_1d=c.rope_variant == "1d",
            seed=int(c.seed),
            process_index=self.process_index,
            process_count=self.process_count,
            skip_bad=bool(c.skip_bad_records),
            max_skips=int(c.max_consecutive_skips),
        )

    def _stream_batches(self, stream_id: int, name: str) -> grain.MapDataset:
        c = self.config
        source, seq_len, _ = self.streams[name]
        ds = grain.MapDataset.range(len(source))
        if c.shuffle:
            ds = ds.shuffle(seed=int(c.seed) * 1000 + stream_id)
        ds = ds.repeat(c.num_epochs or None)  # reshuffled every epoch
        if c.num_epochs and len(ds) % c.batch_size and c.get("pad_final_batch", False):
            # Evaluation: every record counts, and the last global batch is filled with
            # rows that carry no label (index -1), so fewer records than a batch still
            # give a loss (never a mean over nothing).
            ds = grain.MapDataset.concatenate(
                [ds, grain.MapDataset.source([-1] * (c.batch_size - len(ds) % c.batch_size))]
            )
        elif c.num_epochs and len(ds) % c.batch_size:
            # Whole global batches only, so every process yields the same number of batches.
            logging.info(
                "stream '%s': the last %d examples do not fill a global batch and are not used",
                name,
                len(ds) % c.batch_size,
            )
            ds = ds[: len(ds) - len(ds) % c.batch_size]
        ds = ds[self.process_index :: self.process_count]
        ds = ds.map_with_index(ExampleMaker(source, self._spec(name, stream_id, seq_len)))
        return ds.batch(self.local_batch, drop_remainder=True, batch_fn=collate)

    def _batches(self) -> grain.MapDataset:
        parts = [self._stream_batches(i, n) for i, n in enumerate(self.streams)]
        if len(parts) == 1:
            return parts[0]
        return grain.MapDataset.mix(parts, [w for _, _, w in self.streams.values()])

    def dataset(self, start: int = 0) -> grain.IterDataset:
        """Batches start.. as a Grain IterDataset (threads + optional worker processes)."""
        c = self.config
        ds = self.batches[start:].to_iter_dataset(
            grain.ReadOptions(num_threads=c.read_threads, prefetch_buffer_size=c.prefetch_batches)
        )
        if c.num_workers > 0:
            if not flags.FLAGS.is_parsed():  # Grain workers read absl flags (tests, scripts)
                flags.FLAGS.mark_as_parsed()
            ds = ds.mp_prefetch(
                grain.MultiprocessingOptions(
                    num_workers=c.num_workers, per_worker_buffer_size=c.worker_buffer_size
                )
            )
        return ds

    @property
    def fingerprint(self) -> str:
        """What a saved iterator position refers to: seed, batch and the streams."""
        c = self.config
        streams = {n: [len(s), q, w] for n, (s, q, w) in self.streams.items()}
        return json.dumps(
            dict(
                seed=c.seed,
                batch=c.batch_size,
                shuffle=c.shuffle,
                epochs=c.num_epochs,
                streams=streams,
            ),
            sort_keys=True,
        )

    def __iter__(self) -> "DataIterator":
        return DataIterator(self)


class DataIterator(grain.DatasetIterator):
    """Yields batch dicts (BATCH_KEYS); logs and counts skipped records.

    State (JSON): {"next_batch": k, "skipped": n, "fingerprint": ...}. Restoring rebuilds
    the Grain pipeline from batch k, so it does not depend on the worker count. With
    Orbax, use Grain's handler on this iterator:
        ocp.args.Composite(..., data=grain.checkpoint.CheckpointSave(it))     # save
        ocp.args.Composite(..., data=grain.checkpoint.CheckpointRestore(it))  # restore
    (one JSON file per process), or store `get_state()` yourself and `set_state` it.
    """

    def __init__(self, pipeline: Pipeline):
        super().__init__()
        self.pipeline = pipeline
        self.next_batch, self.skipped = 0, 0
        self._inner = None

    def __next__(self) -> dict:
        self._assert_not_closed()
        if self._inner is None:
            self._inner = iter(self.pipeline.dataset(self.next_batch))
        batch = dict(next(self._inner))
        skips = batch.pop("_skips")
        # Plain arrays: a worker's shared-memory block is released as soon as it is copied.
        batch = {k: v if type(v) is np.ndarray else np.array(v) for k, v in batch.items()}
        for message in skips:  # logged again here: worker-process logs may be lost
            logging.warning("batch %d skipped bad record: %s", self.next_batch, message)
        self.skipped += len(skips)
        self.next_batch += 1
        return batch

    def get_state(self) -> dict:
        return {
            "next_batch": self.next_batch,
            "skipped": self.skipped,
            "fingerprint": self.pipeline.fingerprint,
        }

    def set_state(self, state: dict) -> None:
        if state.get("fingerprint") not in (None, self.pipeline.fingerprint):
            logging.warning(
                "data iterator state was saved for another data config:\n saved %s\n now   %s",
                state["fingerprint"],
                self.pipeline.fingerprint,
            )
        self._close_inner()
        self.next_batch, self.skipped = int(state["next_batch"]), int(state.get("skipped", 0))

    def _get_next_index(self) -> int:
        return self.next_batch

    def _set_next_index(self, index: int) -> None:
        self.set_state({"next_batch": index, "skipped": self.skipped})

    def start_prefetch(self) -> None:
        if self._inner is None:
            self._inner = iter(self.pipeline.dataset(self.next_batch))

    def _close_inner(self) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None

    def close(self) -> None:
        self._close_inner()
        self._closed = True


def make_iterator(config: ml_collections.ConfigDict, **kwargs) -> DataIterator:
    """`config.data` -> DataIterator (kwargs: process_index, process_count)."""
    return iter(Pipeline(config, **kwargs))
