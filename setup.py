# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""lumos_jax: Lumos-1-style autoregressive video generation in JAX/Flax."""

import setuptools

# Floors are the versions the test suite ran on (Python 3.11 + jax 0.10.2, Python 3.12 +
# jax 0.11.2); caps only where a break is known or a release was never tested.
INSTALL_REQUIRES = [
    "numpy>=2.4.6",
    # jax 0.11 needs Python >= 3.12 (pip picks 0.10.x on 3.11); 0.12 is not tested yet.
    "jax>=0.10.2,<0.12",
    "jaxlib>=0.10.2,<0.12",
    "flax>=0.12.8",
    "optax>=0.2.8",
    "orbax-checkpoint>=0.12.8",
    "grain>=0.2.18",
    "array-record>=0.8.6",
    "ml_collections>=1.1",
    "clu>=0.0.12",
    "absl-py>=2.5.1",
    "etils[epath]>=1.15",
    "ml_dtypes>=0.7",
    "safetensors>=0.8",
    "scipy>=1.17.1",
    "matplotlib>=3.11.2",
    # Reading token records through tfds.data_source and building the ShapesMotion TFDS
    # dataset; neither needs TensorFlow (tests/test_packaging.py checks without it).
    "tensorflow-datasets>=4.9.10",
    # Video and image I/O (samples, data preparation, tokenizer gifs through Pillow).
    "av>=18.1",
    "pillow>=13",
    # Text tokenizers: a tokenizer.json (HF tokenizers) or a sentencepiece model.
    "tokenizers>=0.23.3",
    "sentencepiece>=0.2.3",
]

EXTRAS = {
    # TensorBoard event files through clu; without TensorFlow the metric writer falls back
    # to logging + metrics.jsonl. tensorflow-cpu has no Linux aarch64 wheel (GH200/GB200).
    "tensorboard": [
        "tensorboard>=2.21",
        "tensorflow-cpu>=2.21; platform_machine == 'x86_64'",
        "tensorflow>=2.21; platform_machine != 'x86_64'",
    ],
    # HF Chameleon and Cosmos checkpoint conversion (torch tensors, transformers configs).
    "convert": ["torch>=2.13", "transformers>=5.24"],
    # Mock-TPU ahead-of-time compilation (compile_check): the libtpu that jax pins for its
    # own [tpu] extra, so it follows the installed jax (0.10.2 -> 0.0.42, 0.11.2 -> 0.0.48).
    "tpu": ["jax[tpu]>=0.10.2,<0.12"],
    "test": ["pytest>=9.2", "pytest-xdist>=3.8", "scikit-video>=1.1.11"],
    "lint": ["ruff>=0.17"],
}
# Everything the test suite exercises except libtpu, which `make test` adds as [tpu].
EXTRAS["all"] = sorted({r for k, v in EXTRAS.items() if k != "tpu" for r in v})

setuptools.setup(
    name="lumos_jax",
    version="0.1.0",
    description="Lumos-1 autoregressive video generation (AR-DF, MM-RoPE) in JAX/Flax",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=setuptools.find_packages(include=["lumos_jax", "lumos_jax.*"]),
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
)
