# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Train state, its shardings, and the jitted train / eval steps.

One `Trainer` builds everything from a config and a mesh; train.py, the benchmarks and
compile_check all use it, so they compile the same step. The state is a plain pytree:
{'step': int32, 'params': nested dict of fp32 arrays, 'opt_state': optax state}; the NNX
decoder is rebuilt from the params inside the step (nnx.merge), which costs nothing at
run time.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from lumos_jax import optim, parallel
from lumos_jax.model import attention_choice, context_parallel, decoder
from lumos_jax.model import params as params_lib
from lumos_jax.model.config import ModelConfig
from lumos_jax.model.decoder import Decoder
from lumos_jax.model.loss import visual_cross_entropy

BATCH_KEYS = ("tokens", "labels", "segments", "positions", "visual")


class Trainer:
    """Model, optimizer, shardings and compiled steps for one config on one mesh."""

    def __init__(self, config, mesh: jax.sharding.Mesh):
        self.config = config
        self.mesh = mesh
        # 'auto' -> the path for the mesh's devices (also a mock TPU topology's); train.py
        # resolves it earlier, before config.json is written.
        attention_choice.resolve(config, mesh.devices.flat)
        self.model_cfg = ModelConfig.from_dict(config.model.to_dict())
        self.abstract_model = decoder.abstract_decoder(self.model_cfg)
        self.axes = params_lib.logical_axes(self.abstract_model)
        self.tx = optim.make_optimizer(config.optim, self.axes)
        self.schedule = optim.schedule(config.optim)
        self.replicated = NamedSharding(mesh, P())
        # Rows over the batch axes, replicated over 'context' (the step splits sequences).
        self.context = dict(mesh.shape).get("context", 1)
        self.batch_sharding = NamedSharding(mesh, P(("data", "fsdp")))
        abstract_params = decoder.to_pure(self.abstract_model)
        self.param_shardings = parallel.shardings_from_axes(self.axes, abstract_params, mesh)
        abstract_opt = jax.eval_shape(self.tx.init, abstract_params)
        opt_shardings = optax.tree_map_params(
            self.tx,
            lambda _, s: s,
            abstract_opt,
            self.param_shardings,
            transform_non_params=lambda _: self.replicated,
        )
        self.state_shardings = {
            "step": self.replicated,
            "params": self.param_shardings,
            "opt_state": opt_shardings,
        }

    # ------------------------------------------------------------------ state
    def model(self, params) -> Decoder:
        """The decoder whose parameters are `params` (works on tracers inside jit)."""
        return decoder.with_params(self.abstract_model, params)

    def _init(self, seed):
        model = Decoder(self.model_cfg, rngs=nnx.Rngs(params=jax.random.key(seed)))
        params = decoder.to_pure(model)
        return self.state_from_params(params)

    def state_from_params(self, params):
        return {
            "step": jnp.zeros((), jnp.int32),
            "params": params,
            "opt_state": self.tx.init(params),
        }

    def init_state(self, seed: int):
        """A fresh state, created directly sharded (never materialised on one device)."""
        with jax.set_mesh(self.mesh):
            return jax.jit(self._init, static_argnums=0, out_shardings=self.state_shardings)(seed)

    def abstract_state(self):
        """ShapeDtypeStructs with shardings: Orbax restore targets and AOT compilation."""
        shapes = jax.eval_shape(self._init, 0)
        return jax.tree.map(
            lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
            shapes,
            self.state_shardings,
        )

    def abstract_batch(self, batch_size: int, seq_len: int):
        def spec(shape):
            return jax.ShapeDtypeStruct(shape, jnp.int32, sharding=self.batch_sharding)

        return {
            k: spec((batch_size, seq_len, 3) if k == "positions" else (batch_size, seq_len))
            for k in BATCH_KEYS
        }

    # ------------------------------------------------------------------- loss
    def _sums(self, params, batch):
        """Unnormalised loss sums of one (micro-)batch; gradients flow through 'objective'."""
        cfg, loss_cfg = self.model_cfg, self.config.loss
        model = self.model(params)
        if self.context > 1:  # load-balanced split of each sequence (context_parallel)
            batch = context_parallel.balance(batch, self.context)
        hidden, _ = model(
            batch["tokens"], batch["positions"], batch["segments"], indices=batch.get("indices")
        )
        _, aux = visual_cross_entropy(
            hidden,
            model.lm_head[...],
            batch["labels"],
            visual_offset=cfg.visual_offset,
            visual_size=cfg.visual_size,
            chunk=loss_cfg.chunk,
            z_loss=loss_cfg.z_loss,
            fused=loss_cfg.fused,
            seq_shards=self.context,
        )
        frames = jax.nn.one_hot(batch["segments"], self.config.max_frames, dtype=jnp.float32)
        mask = aux["mask"]  # the tokens the loss counted
        sums = {
            "nll": aux["nll_sum"],
            "z": aux["z_sum"],
            "count": aux["count"],
            "frame_nll": jnp.einsum("bs,bsf->f", aux["nll"], frames),
            "frame_count": jnp.einsum("bs,bsf->f", mask, frames),
            "tokens": (batch["segments"] != -2).sum().astype(jnp.float32),
        }
        return aux["objective"], sums

    def _grads(self, params, batch):
        """Gradient of the summed objective, accumulated over micro-batches in fp32."""
        n = int(self.config.train.micro_batches)
        grad_fn = jax.value_and_grad(self._sums, has_aux=True)
        if n == 1:
            (_, sums), grads = grad_fn(params, batch)
            return grads, sums

        def split(x):  # row i of micro-batch m is global row i*n + m: every shard keeps rows
            b = x.shape[0]
            if b % n:
                raise ValueError(
                    f"batch size {b} is not divisible by config train.micro_batches={n}"
                )
            return jnp.moveaxis(x.reshape(b // n, n, *x.shape[1:]), 1, 0)

        micro = jax.tree.map(split, batch)

        def body(carry, mb):
            mb = jax.tree.map(
                lambda x: parallel.constrain(x, ("act_batch",) + (None,) * (x.ndim - 1)), mb
            )
            (_, sums), grads = grad_fn(params, mb)
            return jax.tree.map(jnp.add, carry, (grads, sums)), None

        sums_shape = jax.eval_shape(
            lambda p, b: self._sums(p, b)[1], params, jax.tree.map(lambda x: x[0], micro)
        )
        init = (
            jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params),
            jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), sums_shape),
        )
        (grads, sums), _ = jax.lax.scan(body, init, micro)
        return grads, sums

    # ------------------------------------------------------------------ steps
    def train_step(self, state, batch):
        params = state["params"]
        grads, sums = self._grads(params, batch)
        denom = jnp.maximum(sums["count"], 1.0)
        grads = jax.tree.map(lambda g: (g / denom).astype(jnp.float32), grads)
        updates, opt_state = self.tx.update(grads, state["opt_state"], params)
        new_state = {
            "step": state["step"] + 1,
            "params": optax.apply_updates(params, updates),
            "opt_state": opt_state,
        }
        metrics = {
            "loss": sums["nll"] / denom,
            "z_loss": sums["z"] / denom,
            "grad_norm": optax.tree.norm(grads),
            "lr": self.schedule(state["step"]),
            "frame_loss": sums["frame_nll"] / jnp.maximum(sums["frame_count"], 1.0),
            "frame_count": sums["frame_count"],
            "loss_tokens": sums["count"],
            "tokens": sums["tokens"],
        }
        return new_state, metrics

    def eval_step(self, params, batch):
        _, sums = self._sums(params, batch)
        return sums

    def jit_train_step(self):
        batch_sh = {k: self.batch_sharding for k in BATCH_KEYS}
        return jax.jit(
            self.train_step,
            in_shardings=(self.state_shardings, batch_sh),
            out_shardings=(self.state_shardings, self.replicated),
            donate_argnums=(0,),
        )

    def jit_eval_step(self):
        batch_sh = {k: self.batch_sharding for k in BATCH_KEYS}
        return jax.jit(
            self.eval_step,
            in_shardings=(self.param_shardings, batch_sh),
            out_shardings=self.replicated,
        )

    def device_batch(self, local_batch: dict):
        """Host numpy batch (this process's rows) -> global sharded jax arrays."""
        return {
            k: jax.make_array_from_process_local_data(
                self.batch_sharding, np.asarray(local_batch[k])
            )
            for k in BATCH_KEYS
        }


def model_flops_per_token(cfg: ModelConfig, seq_len: int) -> float:
    """Training FLOPs per token (6 x matmul params + attention), PaLM-style accounting.

    Attention counts the full causal-ish score and value products: 12 * L * H * D * S / 2
    per token (frames are bidirectional inside but a frame is small next to the sequence).
    """
    e, h, hk, d, f = cfg.embed_dim, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim, cfg.mlp_dim
    per_layer = e * (h + 2 * hk) * d + h * d * e + 3 * e * f
    matmul = cfg.num_layers * per_layer + e * cfg.visual_size  # lm_head over the visual slice
    attention = 12 * cfg.num_layers * h * d * seq_len / 2
    return 6 * matmul + attention
