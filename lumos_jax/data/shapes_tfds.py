# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""TFDS builder for ShapesMotion: generated locally, nothing is downloaded.

    builder = shapes_tfds.build(data_dir, "tiny")          # or a ShapesMotionConfig
    source = builder.as_data_source(split="train")          # random access, numpy
    source = tfds.data_source("shapes_motion/tiny", data_dir=data_dir, download=False)

Splits are written as array_record (random access, what Grain reads). Record i
of a split is example i of `lumos_jax.data.shapes` (shuffling is disabled), so
a record id, the generator and the files always agree.
"""

import dataclasses

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from lumos_jax.data import shapes


@dataclasses.dataclass
class ShapesMotionConfig(tfds.core.BuilderConfig):
    """Geometry, seed and split sizes of one ShapesMotion variant."""

    height: int = shapes.SIZE
    width: int = shapes.SIZE
    num_frames: int = shapes.VIDEO_FRAMES
    fps: int = shapes.FPS
    seed: int = 0
    num_train: int = 20_000
    num_validation: int = 512
    num_holdout: int = 512

    def split_sizes(self):
        return {
            "train": self.num_train,
            "validation": self.num_validation,
            "holdout": self.num_holdout,
        }


def make_config(name, **overrides):
    """A ShapesMotionConfig with custom sizes; the name must be new to the data_dir."""
    return ShapesMotionConfig(
        name=name, description=f"custom ShapesMotion: {overrides}", **overrides
    )


class ShapesMotion(tfds.core.GeneratorBasedBuilder):
    """Captioned clips of coloured cell-art shapes moving on plain backgrounds."""

    VERSION = tfds.core.Version("2.0.0")
    RELEASE_NOTES = {
        "1.0.0": "First release.",
        "2.0.0": "The token-grid world: 96x96 px on 8-px cells, 9 frames, cell-art shapes.",
    }
    BUILDER_CONFIGS = [
        ShapesMotionConfig(name="clips96", description="9-frame 96x96 clips at 8 fps"),
        ShapesMotionConfig(
            name="images96", description="1-frame 96x96 images", num_frames=1, num_train=50_000
        ),
        ShapesMotionConfig(
            name="tiny",
            description="small clips96 for tests and CI",
            num_train=64,
            num_validation=16,
            num_holdout=16,
        ),
    ]
    DEFAULT_CONFIG_NAME = "clips96"

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        # TFDS 4.9.10's own lookup touches `importlib_resources`, a package it
        # only declares for Python < 3.9; the answer is simply this file.
        return epath.Path(__file__)

    def __init__(self, *, file_format="array_record", **kwargs):
        # array_record by default: it gives the random access tfds.data_source needs.
        super().__init__(file_format=file_format, **kwargs)

    def _info(self):
        c = self.builder_config
        video = tfds.features.Tensor(
            shape=(c.num_frames, c.height, c.width, 3),
            dtype=np.uint8,
            encoding=tfds.features.Encoding.ZLIB,  # flat colours compress ~20x
            doc="uint8 frames [F, H, W, 3]",
        )
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "video": video,
                    "caption": tfds.features.Text(),
                    "fps": tfds.features.Scalar(np.int32),
                    "num_frames": tfds.features.Scalar(np.int32),
                    "metadata": tfds.features.Text(doc="JSON scene metadata (shapes.sample_meta)"),
                    "id": tfds.features.Text(doc="stable record id"),
                }
            ),
            disable_shuffling=True,
            homepage="https://github.com/lumos_jax/lumos_jax",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # procedural: nothing to download
        return {
            name: self._generate_examples(name, n)
            for name, n in self.builder_config.split_sizes().items()
            if n > 0
        }

    def _generate_examples(self, split, num_examples):
        c = self.builder_config
        for index in range(num_examples):
            yield (
                index,
                shapes.generate_example(
                    c.seed, split, index, c.height, c.width, c.num_frames, c.fps
                ),
            )


def build(data_dir, config="tiny"):
    """Builds (or reuses) ShapesMotion in `data_dir`; returns the prepared builder.

    config: a registered config name or a ShapesMotionConfig (see make_config).
    """
    builder = ShapesMotion(data_dir=data_dir, config=config)
    builder.download_and_prepare()
    return builder
