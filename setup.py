# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""lumos_jax: Lumos-1-style autoregressive video generation in JAX/Flax."""
import setuptools

# Ranges are those that install together on Python 3.11 today (jax 0.10 <-> flax 0.12).
INSTALL_REQUIRES = [
    "numpy>=1.26,<3",
    "jax>=0.10.2,<0.11",
    "jaxlib>=0.10.2,<0.11",
    "flax>=0.12.8,<0.13",
    "optax>=0.2.8,<0.3",
    "orbax-checkpoint>=0.12.8,<0.13",
    "grain>=0.2.18,<0.3",
    "ml_collections>=1.1,<2",
    "tensorflow-datasets>=4.9.10,<5",
    "tensorflow-cpu>=2.21,<2.22",
    "clu>=0.0.12",
    "tensorboard>=2.18",
    "array-record>=0.8.6,<0.9",
    "absl-py>=2.1",
    "safetensors>=0.7,<0.9",
    "ml_dtypes>=0.5",
    "matplotlib>=3.8",
    "scipy>=1.11",
]

EXTRAS = {
    "video": ["av>=14,<20", "imageio>=2.34,<3", "pillow>=10"],
    "text": ["tokenizers>=0.21,<0.24", "sentencepiece>=0.2,<0.3"],
    # torch 2.13.0 is the CPU wheel available on the project's machines.
    "convert": ["torch==2.13.0", "transformers>=5.0,<6"],
    "test": ["pytest>=8,<10", "pytest-xdist>=3.6,<4", "scikit-video==1.1.11"],
    # Mock-TPU ahead-of-time compilation (compile_check); 0.0.52 pairs with jax 0.10.2.
    "tpu": ["libtpu==0.0.52"],
}
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
