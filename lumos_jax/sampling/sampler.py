# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""AR-DF inference (reference section 4) and the two baselines the paper times.

Modes (`sampling.mode`):
  ardf_cache    per latent frame: T masked-decoding steps that each run only the current
                frame over the KV caches of both CFG branches (written at the frame start,
                never advanced, i.e. cropped back); the finished frame is re-encoded once
                with history masking and kept (`advance`).
  ardf_nocache  the same decoding, but every step runs the whole sequence so far (prompt,
                history-masked frames, current frame): identical codes, more compute.
  next_token    plain autoregressive decoding with the KV cache, one token per forward
                pass in raster order (newlines and frame specials are fed, not drawn).
                A timing baseline: Lumos-1 is not trained for it, so its samples are noise.
Both CFG branches run as rows of one batch (see plan.py), so one forward pass serves both.

Every compiled program has static shapes; the frame index is a traced argument (one
compilation for all frames) except in ardf_nocache, whose sequence grows per frame.
"""

from __future__ import annotations

import contextlib
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from lumos_jax import layout, parallel
from lumos_jax.model import decoder
from lumos_jax.model import params as params_lib
from lumos_jax.model.config import ModelConfig
from lumos_jax.model.decoder import Decoder
from lumos_jax.model.kv_cache import KVCache
from lumos_jax.sampling import decode, schedule
from lumos_jax.sampling import plan as plan_lib
from lumos_jax.sampling.config import Settings


class Sampler:
    """Compiled sampler for one model config, settings, batch size and prompt bucket.

    `stats` counts forward passes and token rows processed, cumulatively over calls
    (benchmarks take differences).
    """

    def __init__(
        self,
        model_cfg: ModelConfig,
        settings: Settings,
        vocab: layout.Vocab,
        *,
        batch: int,
        prompt_len: int,
        mesh: jax.sharding.Mesh | None = None,
    ):
        self.cfg, self.settings, self.vocab, self.mesh = model_cfg, settings, vocab, mesh
        parallel.refuse_context(mesh, "sampling")  # KV-cached AR-DF: no sequence split
        if (vocab.visual_offset, vocab.visual_size) != (
            model_cfg.visual_offset,
            model_cfg.visual_size,
        ):
            raise ValueError("the vocabulary's visual slice differs from the model config's")
        self.abstract_model = decoder.abstract_decoder(model_cfg)
        self.batch, self.prompt_len = batch, prompt_len
        self.branches = 1 if settings.guidance == 1.0 else 2
        self.rows = batch * self.branches
        self.plan = plan_lib.frame_plan(settings, vocab, rope_1d=model_cfg.rope_variant == "1d")
        self.max_len = prompt_len + settings.latent_frames * self.plan.per
        self.counts = schedule.masked_counts(self.plan.num_codes, settings.steps)
        self.taus = schedule.choice_temperatures(
            settings.choice_temperature, settings.steps, settings.latent_frames, settings.anneal
        )
        self.stats = {"forward_passes": 0, "tokens": 0}
        jit = functools.partial(
            jax.jit, compiler_options=parallel.compiler_options(settings.fast_compile)
        )
        self._prefill = jit(self._prefill_impl)
        self._append = jit(self._append_impl, static_argnames="history")
        self._frame_cached = jit(self._frame_cached_impl)
        self._frame_next = jit(self._frame_next_impl)
        self._frame_nocache = jit(self._frame_nocache_impl, static_argnames="f")
        self._write_history = jit(self._write_history_impl)

    # --------------------------------------------------------------------- helpers
    def _model(self, params) -> Decoder:
        return decoder.with_params(self.abstract_model, params)

    def _ctx(self):
        return jax.set_mesh(self.mesh) if self.mesh is not None else contextlib.nullcontext()

    def _row_sharding(self, ndim: int, axis: int = 0):
        """Rows (prompts x branches) over the mesh's batch axes where they divide evenly."""
        if self.mesh is None:
            return None
        spec = parallel.logical_to_spec(("act_batch",), (self.rows,), dict(self.mesh.shape))
        dims = [None] * ndim
        dims[axis] = spec[0]
        return NamedSharding(self.mesh, P(*dims))

    def _put_rows(self, x, axis: int = 0):
        sharding = self._row_sharding(np.ndim(x), axis)
        return jnp.asarray(x) if sharding is None else jax.device_put(x, sharding)

    def _constrain_cache(self, cache: KVCache) -> KVCache:
        if self.mesh is None:
            return cache
        c = jax.lax.with_sharding_constraint
        kv = self._row_sharding(5, 1)  # [layers, rows, slots, kv_heads, head_dim]
        return KVCache(
            c(cache.k, kv),
            c(cache.v, kv),
            c(cache.segments, self._row_sharding(2)),
            c(cache.end, self._row_sharding(1)),
        )

    @functools.cached_property
    def param_shardings(self):
        """NamedShardings of the params (logical-axis rules of parallel.py), or None."""
        if self.mesh is None:
            return None
        return params_lib.param_shardings(self.abstract_model, self.mesh)

    def _count(self, passes: int, tokens_per_pass: int) -> None:
        self.stats["forward_passes"] += passes
        self.stats["tokens"] += passes * tokens_per_pass * self.rows

    def _frame_tokens(self, codes, masked=None):
        """codes [B, N] (+ masked [B, N]) -> frame tokens [R, per], repeated per branch."""
        vals = codes + self.vocab.visual_offset
        if masked is not None:
            vals = jnp.where(masked, self.vocab.mask, vals)
        base = jnp.broadcast_to(
            jnp.asarray(self.plan.masked_frame), (codes.shape[0], self.plan.per)
        )
        frame = base.at[:, self.plan.code_offsets].set(vals)
        return jnp.repeat(frame, self.branches, axis=0)

    def _history_tokens(self, codes, history: bool = True):
        """The copy of a finished frame that enters the context: [R, per]."""
        tokens = self._frame_tokens(codes)
        if history and self.plan.history.size:
            tokens = tokens.at[:, self.plan.history].set(self.vocab.mask)
        return tokens

    def _code_logits(self, model, hidden, first: int = 0):
        """Visual logits at the current frame's code positions: [R, N, V] fp32."""
        return model.logits(hidden[:, first + self.plan.code_offsets], visual_only=True)

    # ------------------------------------------------------------ masked decoding
    def _maskgit(self, key, f, logits_fn, state):
        """T steps over one frame: logits_fn(codes, masked, state) -> (logits, state)."""
        b, n = self.batch, self.plan.num_codes
        counts, taus = jnp.asarray(self.counts), jnp.asarray(self.taus)[f]

        def body(s, carry):
            codes, masked, state = carry
            logits, state = logits_fn(codes, masked, state)
            guided = decode.guide(logits, self.settings.guidance, self.branches)
            k_draw, k_noise = jax.random.split(jax.random.fold_in(key, s))
            ids, logp = decode.draw(k_draw, guided, self.settings)
            codes, masked = decode.remask(k_noise, codes, masked, ids, logp, counts[s], taus[s])
            return codes, masked, state

        init = (jnp.zeros((b, n), jnp.int32), jnp.ones((b, n), bool), state)
        codes, _, state = jax.lax.fori_loop(0, self.settings.steps, body, init)
        return codes, state

    # ------------------------------------------------------------ compiled programs
    def _prefill_impl(self, params, tokens, positions, segments):
        model = self._model(params)
        dtype = jnp.dtype(self.settings.cache_dtype or self.cfg.dtype)
        cache = self._constrain_cache(model.init_cache(self.rows, self.max_len, dtype))
        _, cache = model(tokens, positions, segments, cache)
        return cache.advance(tokens.shape[1])

    def _append_impl(self, params, cache, codes, positions, f, history: bool):
        """Encode a finished (or given) frame into the cache and keep it."""
        model = self._model(params)
        segments = jnp.full((self.rows, self.plan.per), f, jnp.int32)
        _, cache = model(self._history_tokens(codes, history), positions, segments, cache)
        return cache.advance(self.plan.per)

    def _frame_cached_impl(self, params, cache, positions, f, key):
        model = self._model(params)
        segments = jnp.full((self.rows, self.plan.per), f, jnp.int32)

        def logits_fn(codes, masked, cache):
            hidden, cache = model(self._frame_tokens(codes, masked), positions, segments, cache)
            return self._code_logits(model, hidden), cache  # written, end unchanged: a crop

        return self._maskgit(key, f, logits_fn, cache)

    def _frame_nocache_impl(self, params, tokens, positions, segments, key, *, f: int):
        model = self._model(params)
        start = self.prompt_len + f * self.plan.per
        end = start + self.plan.per
        ctx = tokens[:, :end]

        def logits_fn(codes, masked, _):
            seq = jax.lax.dynamic_update_slice(ctx, self._frame_tokens(codes, masked), (0, start))
            hidden, _ = model(seq, positions[:, :end], segments[:, :end])
            return self._code_logits(model, hidden, start), None

        return self._maskgit(key, f, logits_fn, None)[0]

    def _write_history_impl(self, tokens, codes, f):
        start = self.prompt_len + f * self.plan.per
        return jax.lax.dynamic_update_slice(tokens, self._history_tokens(codes), (0, start))

    def _frame_next_impl(self, params, cache, positions, f, key):
        """Raster-order next-token decoding: feed token j, draw token j + 1 if it is a code."""
        model = self._model(params)
        per, off = self.plan.per, self.vocab.visual_offset
        is_code = np.zeros(per + 1, bool)
        is_code[self.plan.code_offsets] = True
        is_code = jnp.asarray(is_code)
        segments = jnp.full((self.rows, 1), f, jnp.int32)
        frame = jnp.broadcast_to(
            jnp.asarray(np.append(self.plan.masked_frame, self.vocab.pad)), (self.batch, per + 1)
        )

        def body(j, carry):
            cache, frame = carry
            tok = jnp.repeat(jax.lax.dynamic_slice_in_dim(frame, j, 1, 1), self.branches, 0)
            pos = jax.lax.dynamic_slice_in_dim(positions, j, 1, 1)
            hidden, cache = model(tok, pos, segments, cache)
            logits = model.logits(hidden, visual_only=True)[:, 0]
            guided = decode.guide(logits, self.settings.guidance, self.branches)
            ids, _ = decode.draw(jax.random.fold_in(key, j), guided, self.settings)
            nxt = jax.lax.dynamic_slice_in_dim(frame, j + 1, 1, 1)[:, 0]
            nxt = jnp.where(is_code[j + 1], ids + off, nxt)
            return cache.advance(1), jax.lax.dynamic_update_slice_in_dim(
                frame, nxt[:, None], j + 1, 1
            )

        cache, frame = jax.lax.fori_loop(0, per, body, (cache, frame))
        return frame[:, self.plan.code_offsets] - off, cache

    # --------------------------------------------------------------------- driver
    def generate(self, params, prompts, key, *, first_frames=None, on_frame=None) -> np.ndarray:
        """prompts: B int arrays (unified text ids); first_frames: codes [B, rows, cols] or
        None -> codes int32 [B, F, rows, cols]. on_frame(f, codes [B, rows, cols]) is called
        after each frame is finished (device work done: use it to time frames)."""
        if len(prompts) != self.batch:
            raise ValueError(f"sampler built for {self.batch} prompts, got {len(prompts)}")
        pre = plan_lib.prefix_rows(prompts, self.settings, self.vocab, self.branches)
        if pre["tokens"].shape[1] != self.prompt_len:
            raise ValueError(
                f"prompts need a {pre['tokens'].shape[1]}-token bucket; the "
                f"sampler was built for {self.prompt_len}"
            )
        frame_pos, frame_seg = plan_lib.frame_rows(self.plan, pre["lengths"])
        shape = (self.batch, self.plan.rows, self.plan.cols)
        out = np.zeros((self.batch, self.settings.latent_frames, *shape[1:]), np.int32)
        first = 0
        if first_frames is not None:
            out[:, 0] = _check_first_frames(first_frames, shape, self.vocab)
            first = 1
        with self._ctx():
            run = {
                "ardf_cache": self._run_cached,
                "next_token": self._run_cached,
                "ardf_nocache": self._run_nocache,
            }[self.settings.mode]
            run(params, pre, frame_pos, frame_seg, out, first, key, on_frame)
        return out

    def _run_cached(self, params, pre, frame_pos, frame_seg, out, first, key, on_frame):
        del frame_seg  # segments are built inside the compiled programs
        nt = self.settings.mode == "next_token"
        cache = self._prefill(
            params,
            self._put_rows(pre["tokens"]),
            self._put_rows(pre["positions"]),
            self._put_rows(pre["segments"]),
        )
        self._count(1, self.prompt_len)
        per, last = self.plan.per, self.settings.latent_frames - 1
        if first:  # I2V: the given frame is history (masked, except in plain next-token)
            cache = self._append(
                params,
                cache,
                jnp.asarray(out[:, 0].reshape(self.batch, -1)),
                self._put_rows(frame_pos[:, 0]),
                jnp.int32(0),
                history=not nt,
            )
            self._count(1, per)
        for f in range(first, last + 1):
            pos = self._put_rows(frame_pos[:, f])
            fkey = jax.random.fold_in(key, f)
            if nt:
                codes, cache = self._frame_next(params, cache, pos, jnp.int32(f), fkey)
                self._count(per, 1)
            else:
                codes, cache = self._frame_cached(params, cache, pos, jnp.int32(f), fkey)
                self._count(self.settings.steps, per)
                if f < last:
                    cache = self._append(params, cache, codes, pos, jnp.int32(f), history=True)
                    self._count(1, per)
            out[:, f] = np.asarray(codes).reshape(out.shape[0], *out.shape[2:])
            if on_frame is not None:
                on_frame(f, out[:, f])

    def _run_nocache(self, params, pre, frame_pos, frame_seg, out, first, key, on_frame):
        r, per = self.rows, self.plan.per
        frames = self.settings.latent_frames
        masked = np.tile(self.plan.masked_frame, (r, frames))
        tokens = self._put_rows(np.concatenate([pre["tokens"], masked], 1))
        positions = self._put_rows(
            np.concatenate([pre["positions"], frame_pos.reshape(r, -1, 3)], 1)
        )
        segments = self._put_rows(
            np.concatenate(
                [pre["segments"], np.broadcast_to(frame_seg.reshape(1, -1), (r, frame_seg.size))], 1
            )
        )
        if first:
            tokens = self._write_history(
                tokens, jnp.asarray(out[:, 0].reshape(self.batch, -1)), jnp.int32(0)
            )
        for f in range(first, frames):
            codes = self._frame_nocache(
                params, tokens, positions, segments, jax.random.fold_in(key, f), f=f
            )
            self._count(self.settings.steps, self.prompt_len + (f + 1) * per)
            tokens = self._write_history(tokens, codes, jnp.int32(f))
            out[:, f] = np.asarray(codes).reshape(out.shape[0], *out.shape[2:])
            if on_frame is not None:
                on_frame(f, out[:, f])


def _check_first_frames(first_frames, shape, vocab: layout.Vocab) -> np.ndarray:
    codes = np.asarray(first_frames)
    if codes.shape != shape:
        raise ValueError(
            f"first_frames must be codes [batch, rows, cols] = {shape} for this "
            f"resolution and batch, got {codes.shape}"
        )
    if codes.min() < 0 or codes.max() >= vocab.visual_size:
        raise ValueError(
            f"first-frame codes outside [0, {vocab.visual_size}): "
            f"min {codes.min()}, max {codes.max()}"
        )
    return codes.astype(np.int32)


@functools.lru_cache(maxsize=16)
def get_sampler(
    model_cfg: ModelConfig,
    settings: Settings,
    vocab: layout.Vocab,
    batch: int,
    prompt_len: int,
    mesh=None,
) -> Sampler:
    """A cached Sampler: calls with the same static signature reuse its compilations."""
    return Sampler(model_cfg, settings, vocab, batch=batch, prompt_len=prompt_len, mesh=mesh)
