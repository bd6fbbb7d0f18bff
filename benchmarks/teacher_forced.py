# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Teacher-forced diagnosis of a t2v checkpoint: masked-token accuracy and loss per latent
frame on held-out records, at several masking ratios.

  python benchmarks/teacher_forced.py --workdir=runs/demo/t2v \
      --records='array_record:runs/demo/tokens/video-validation-*.array_record'

The records are laid out and masked by the training pipeline (AR-DF tube masks) with the
minimum masking ratio set to each --ratios value: 0.7 is the training distribution
(ratio = max(cos(pi u / 2), 0.7)); 1.0 masks every content token of every frame, as the
sampler's first step of a frame sees it (text and earlier frames then help, not the frame). Accuracy: the argmax over the visual slice equals the label.
Prints a table and, last, one JSON line.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from lumos_jax import config_lib, layout, parallel  # noqa: E402
from lumos_jax.data import pipeline  # noqa: E402
from lumos_jax.model import decoder  # noqa: E402
from lumos_jax.sampling import loaders  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--checkpoint", default="")
    p.add_argument("--records", required=True, help="eval sources (array_record:GLOB)")
    p.add_argument("--ratios", default="0.7,1.0")
    p.add_argument("--batches", type=int, default=4)
    a = p.parse_args()
    config = config_lib.experiment("t2v", "tiny")
    config.mesh.update(data=-1, fsdp=1, tensor=1)
    vocab = layout.vocab_from_config(config.vocab)
    mesh = parallel.make_mesh(dict(config.mesh))
    cfg = loaders.model_config(config, mesh)
    params, ckpt = loaders.load_decoder_params(
        cfg, mesh, vocab, workdir=a.workdir, checkpoint=a.checkpoint
    )
    model = decoder.with_params(decoder.abstract_decoder(cfg), params)

    @jax.jit
    def predict(batch):
        hidden, _ = model(batch["tokens"], batch["positions"], batch["segments"])
        return jnp.argmax(model.logits(hidden, visual_only=True), -1), model.logits(
            hidden, visual_only=True
        )

    rows = {}
    for ratio in [float(r) for r in a.ratios.split(",")]:
        c = config.data
        with c.unlocked():
            c.streams.image.weight = 0.0
            c.streams.video.update(sources=a.records, weight=1.0)
            c.update(shuffle=False, num_epochs=1, cfg_dropout=0.0)
            c.masking.update(min_ratio=ratio)
        right, count, nll = np.zeros(8), np.zeros(8), np.zeros(8)
        it = pipeline.make_iterator(c)
        for _, batch in zip(range(a.batches), it):
            pred, logits = predict({k: jnp.asarray(v) for k, v in batch.items()})
            labels, seg = batch["labels"], batch["segments"]
            mask = labels >= 0
            target = np.where(mask, labels - cfg.visual_offset, 0)
            logp = jax.nn.log_softmax(np.asarray(logits), -1)
            tok_nll = -np.take_along_axis(np.asarray(logp), target[..., None], -1)[..., 0]
            for f in range(8):
                m = mask & (seg == f)
                right[f] += (np.asarray(pred) == target)[m].sum()
                count[f] += m.sum()
                nll[f] += tok_nll[m].sum()
        used = count > 0
        rows[ratio] = {
            "accuracy": (right[used] / count[used]).round(4).tolist(),
            "nll": (nll[used] / count[used]).round(4).tolist(),
            "tokens": count[used].astype(int).tolist(),
        }
        print(
            f"ratio {ratio}: accuracy per frame {rows[ratio]['accuracy']}, nll {rows[ratio]['nll']}"
        )
    print(json.dumps({"checkpoint": ckpt, "per_ratio": rows}))


if __name__ == "__main__":
    main()
