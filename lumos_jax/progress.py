# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Console progress of a long stage (training, sampling, tokenising records):

  train step 250/3000 (8%): loss 4.2113, 0.35 step/s, ETA 2h11m

A line every `every` units (e.g. train.log_every steps), and whenever `interval_s`
seconds passed since the last one, so a slow stage is never silent for long. The rate
is measured since the previous line (it includes evaluations and checkpoints, which
is what the ETA must count). Standard library only: prepare uses it without JAX.
"""

from __future__ import annotations

import logging
import time

_log = logging.getLogger("lumos_jax.progress")


def duration(seconds: float) -> str:
    """42s, 12m05s, 2h11m."""
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _value(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _rate(r: float) -> str:
    return f"{r:,.0f}" if r >= 100 else f"{r:.3g}"


class Progress:
    """`update(done, **values)` -> the line it logged, or None when none was due."""

    def __init__(
        self,
        name: str,
        total: float,
        *,
        unit: str = "step",
        every: int = 0,
        interval_s: float = 30.0,
        start: float = 0,
        log=None,
        clock=time.monotonic,
    ):
        self.name, self.total, self.unit = name, total, unit
        self.every, self.interval_s = every, interval_s
        self.log = log or _log.info
        self.clock = clock
        self._done, self._time = start, clock()

    def due(self, done: float) -> bool:
        if done <= self._done:
            return False
        if done >= self.total or self.clock() - self._time >= self.interval_s:
            return True
        return bool(self.every) and int(done) % self.every == 0 and done == int(done)

    def update(self, done: float, *, force: bool = False, **values) -> str | None:
        if not (force or self.due(done)):
            return None
        now = self.clock()
        rate = (done - self._done) / max(now - self._time, 1e-9)
        self._done, self._time = done, now
        pct = 100.0 * done / self.total if self.total else 100.0
        eta = duration((self.total - done) / rate) if rate > 0 and done < self.total else "0s"
        fields = [f"{k} {_value(v)}" for k, v in values.items()]
        fields += [f"{_rate(rate)} {self.unit}/s", f"ETA {eta}"]
        # whole units done (a fraction counts toward the percentage only)
        line = (
            f"{self.name} {self.unit} {int(done):,}/{self.total:,.0f} ({pct:.0f}%): "
            + ", ".join(fields)
        )
        self.log(line)
        return line
