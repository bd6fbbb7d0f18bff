# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""TFDS builder for token records: ArrayRecord shards packaged as a local TFDS dataset.

    records_tfds.build("mine", {"train": shards}, data_dir)
    sources.open_sources("tfds:lumos_token_records/mine:train", tfds_data_dir=data_dir)

Record i of a split is example i (no shuffling), written as array_record (random access,
what Grain reads); nothing is downloaded. Reading needs only `tfds.data_source`
(`sources.TfdsSource`), not this module.
"""

import dataclasses
from typing import Sequence

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from lumos_jax.data import sources


@dataclasses.dataclass
class TokenRecordsConfig(tfds.core.BuilderConfig):
    """`splits` maps a split name to the ArrayRecord token-record shards it holds."""

    splits: dict = dataclasses.field(default_factory=dict)


class LumosTokenRecords(tfds.core.GeneratorBasedBuilder):
    """Token records (records.TokenRecord) as a TFDS dataset; built locally from shards."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Token record format version 1."}
    config_class = TokenRecordsConfig

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):  # TFDS's own lookup needs importlib_resources; this file is it
        return epath.Path(__file__)

    def __init__(self, *, file_format="array_record", **kwargs):
        super().__init__(file_format=file_format, **kwargs)  # random access for Grain

    def _info(self):
        f = tfds.features
        scalar = lambda doc: f.Scalar(np.int32, doc=doc)  # noqa: E731
        features = f.FeaturesDict(
            {
                "text_ids": f.Tensor(shape=(None,), dtype=np.int32, doc="unified-vocab prompt"),
                "codes": f.Tensor(
                    shape=(None, None, None),
                    dtype=np.int32,
                    encoding=f.Encoding.ZLIB,
                    doc="visual codes [T', H', W']",
                ),
                "fps": scalar("fps size token value"),
                "duration": scalar("seconds"),
                "height": scalar("pixels"),
                "width": scalar("pixels"),
                "caption": f.Text(),
                "id": f.Text(doc="stable record id"),
            }
        )
        # No shuffling: example i of a split is record i of its shards, as in the files.
        return tfds.core.DatasetInfo(builder=self, features=features, disable_shuffling=True)

    def _split_generators(self, dl_manager):
        del dl_manager  # local shards only: nothing is downloaded
        return {k: self._generate_examples(v) for k, v in self.builder_config.splits.items()}

    def _generate_examples(self, paths):
        source = sources.ArrayRecordSource(paths)
        for i in range(len(source)):
            r = source.read(i)  # corrupt input fails the build, naming shard and index
            yield (
                i,
                {
                    "text_ids": r.text_ids,
                    "codes": r.codes,
                    "fps": r.fps,
                    "duration": r.duration,
                    "height": r.height,
                    "width": r.width,
                    "caption": r.caption,
                    "id": r.record_id,
                },
            )


def build(name: str, splits: dict[str, Sequence[str]], data_dir: str) -> LumosTokenRecords:
    """Packages ArrayRecord token-record shards as TFDS `lumos_token_records/NAME`.

    splits: split name -> shard paths. Record i of a split is example i (no shuffling).
    Read it back with `sources.TfdsSource("lumos_token_records/NAME", split, data_dir)` or
    the spec `tfds:lumos_token_records/NAME:SPLIT`. Returns the prepared builder.
    """
    config = TokenRecordsConfig(
        name=name,
        description=f"lumos token records {name}",
        splits={k: [str(p) for p in v] for k, v in splits.items()},
    )
    builder = LumosTokenRecords(data_dir=data_dir, config=config)
    builder.download_and_prepare()
    return builder
