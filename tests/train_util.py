"""Helpers for training tests: learnable token records and a small tiny-config."""

import glob
import os

import numpy as np

from lumos_jax import config_lib, layout
from lumos_jax.data import records
from lumos_jax.metrics_io import read_jsonl

VOCAB = layout.compact_vocab()


def learnable_records(directory, n=48, split="train", seed=0):
    """2-frame 32x32 clips whose codes follow from the caption's first id (learnable)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        key = int(rng.integers(0, 16))
        text = np.concatenate(
            [[VOCAB.first_text_id + key], rng.integers(VOCAB.first_text_id, VOCAB.text_size, 7)]
        )
        codes = (key * 37 + np.arange(2 * 4 * 4).reshape(2, 4, 4)) % VOCAB.visual_size
        out.append(
            records.make_record(
                f"{split}{i}", f"clip {key}", text, codes, fps=8, duration=1, height=32, width=32
            )
        )
    os.makedirs(directory, exist_ok=True)
    records.write_array_record(os.path.join(directory, f"video-{split}-00000.array_record"), out)
    return directory


def small_config(data_dir, **train):
    c = config_lib.experiment("t2v", "tiny")
    c.model.update(
        num_layers=2, embed_dim=64, num_heads=2, num_kv_heads=2, head_dim=32, mlp_dim=128
    )
    c.data.streams.video.sources = f"array_record:{data_dir}/video-train-*.array_record"
    c.data.streams.video.seq_len = 128
    # These records use the compact vocabulary's 1000 visual ids, not the tiny preset's
    # 11 (the built-in codebook's).
    c.vocab.visual_size = VOCAB.visual_size
    c.model.update(vocab_size=VOCAB.size, visual_size=VOCAB.visual_size)
    c.data.batch_size = 8
    c.eval_sources = ""
    c.mesh.update(data=-1, fsdp=1, tensor=1)
    c.train.update(steps=8, log_every=1, checkpoint_every=4, eval_every=10**6)
    c.optim.update(warmup_steps=2)
    c.train.update(**train)
    return c


def losses(workdir):
    rows = read_jsonl(os.path.join(workdir, "metrics.jsonl"))
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def checkpoint_steps(workdir):
    return sorted(
        int(os.path.basename(p))
        for p in glob.glob(f"{workdir}/checkpoints/[0-9]*")
        if os.path.basename(p).isdigit()
    )  # not 'STEP.damaged-TIME', a tmp dir
