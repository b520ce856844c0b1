"""How fast this server explains, measured here and now: the estimates the page shows.

Every number comes from this server: a model call timed at start-up (:func:`calibrate`) and
every finished job (:meth:`SpeedMeter.record_job`). An estimate before a job sums, for each
model of the job (a second model to compare included):

    expected calls x (seconds per waveform inside the model + the engine's own seconds per
    call) + the seconds after the search (figures, sounds, zip)

each at the excerpt's length, from the most recent measurements; the expected calls are the
budget times the share of their budget that recent jobs spent. While a job runs,
:meth:`SpeedMeter.remaining` uses the job's own rate so far instead. A model that has never
run here has no estimate (``None``): the page says so rather than invent one.

No Gradio, no model: :func:`calibrate` is given a loader.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

log = logging.getLogger("freqrex.app")

__all__ = ["SpeedMeter", "SPEED", "JobPlan", "calibrate", "KEEP"]

#: Measurements kept per quantity (the most recent win).
KEEP = 8
#: Durations within this ratio of each other count as the same excerpt length.
_SAME_LENGTH = 1.25


@dataclass(frozen=True)
class JobPlan:
    """What a job will do: each model's model calls (its budget), on one excerpt length."""

    models: tuple[str, ...]
    budget: int
    duration: float

    @property
    def calls(self) -> int:
        """The most model calls the job may make (every model's budget)."""
        return self.budget * len(self.models)


class _Series:
    """Recent measurements ``(excerpt seconds, value)`` of one quantity and a prediction for an
    excerpt length: the mean of recent ones at about that length, else a line
    ``a + b * seconds`` through the recent ones (a, b >= 0), else proportional to the length."""

    def __init__(self, keep: int = KEEP):
        self._items: deque[tuple[float, float]] = deque(maxlen=keep)

    def add(self, duration: float, value: float) -> None:
        if duration > 0 and np.isfinite(value) and value >= 0:
            self._items.append((float(duration), float(value)))

    def __bool__(self) -> bool:
        return bool(self._items)

    def predict(self, duration: float) -> float | None:
        items = list(self._items)
        if not items:
            return None
        near = [v for d, v in items if max(d, duration) / min(d, duration) <= _SAME_LENGTH]
        if near:
            return float(np.mean(near[-3:]))
        d = np.array([i[0] for i in items])
        v = np.array([i[1] for i in items])
        if np.ptp(d) > 0:
            b, a = np.polyfit(d, v, 1)
            if a >= 0 and b >= 0:
                return float(a + b * duration)
        return float(np.mean(v / d) * duration)


class SpeedMeter:
    """This server's measured speed, per model (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_wave: dict[str, _Series] = {}  # seconds inside the model per waveform
        self._engine = _Series()  # the engine's own seconds per model call (any model)
        self._tail = _Series()  # seconds after the search: figures, sounds, zip
        self._spent: deque[float] = deque(maxlen=KEEP)  # share of the budget a job spent

    # ---------------------------------------------------------------- measuring

    def record_calls(self, model_id: str, duration: float, waves: int, seconds: float) -> None:
        """``waves`` waveforms of ``duration`` s took ``seconds`` inside model ``model_id``."""
        if waves > 0 and seconds > 0:
            with self._lock:
                self._per_wave.setdefault(model_id, _Series()).add(duration, seconds / waves)

    def record_run(self, model_id: str, duration: float, *, queries: int, budget: int | None,
                   predict_seconds: float, seconds: float) -> None:
        """One model's explanation (the engine's run): its model calls, their seconds, and the
        engine's seconds around them."""
        if queries <= 0:
            return
        self.record_calls(model_id, duration, queries, predict_seconds)
        with self._lock:
            self._engine.add(duration, max(0.0, seconds - predict_seconds) / queries)
            if budget:
                self._spent.append(min(1.0, queries / budget))

    def record_tail(self, duration: float, seconds: float) -> None:
        """The seconds a job spent after its search (figures, sounds, zip)."""
        with self._lock:
            self._tail.add(duration, seconds)

    def measured(self, model_id: str) -> bool:
        with self._lock:
            return bool(self._per_wave.get(model_id))

    def forget(self, model_id: str | None = None) -> None:
        """Drop the measurements (of one model, or all)."""
        with self._lock:
            if model_id is not None:
                self._per_wave.pop(model_id, None)
                return
            self._per_wave.clear()
            self._engine, self._tail = _Series(), _Series()
            self._spent.clear()

    # ---------------------------------------------------------------- predicting

    def seconds_per_wave(self, model_id: str, duration: float) -> float | None:
        """Seconds model ``model_id`` takes for one waveform of ``duration`` s (None: never
        measured here)."""
        with self._lock:
            series = self._per_wave.get(model_id)
            return None if not series else series.predict(duration)

    def spent_share(self) -> float:
        """The share of its budget a recent job spent (1 before any job)."""
        with self._lock:
            return float(np.mean(self._spent)) if self._spent else 1.0

    def seconds_per_call(self, model_id: str, duration: float) -> float | None:
        """Wall-clock seconds per model call: the model's and the engine's own."""
        per_wave = self.seconds_per_wave(model_id, duration)
        if per_wave is None:
            return None
        with self._lock:
            engine = self._engine.predict(duration) or 0.0
        return per_wave + engine

    def tail_seconds(self, duration: float) -> float:
        with self._lock:
            return self._tail.predict(duration) or 0.0

    def estimate(self, plan: JobPlan) -> float | None:
        """Wall-clock seconds of the whole job (None when a model of it never ran here)."""
        share = self.spent_share()
        total = 0.0
        for model_id in plan.models:
            per_call = self.seconds_per_call(model_id, plan.duration)
            if per_call is None:
                return None
            total += plan.budget * share * per_call
        return total + self.tail_seconds(plan.duration)

    def remaining(self, plan: JobPlan, queries: int, elapsed: float,
                  since_first_call: float | None = None) -> float | None:
        """Seconds left of a running job that has made ``queries`` model calls, ``elapsed``
        seconds after it started (``since_first_call``: after its first model call): from
        the job's own rate once it has made a tenth of its calls, blended with the estimate
        before that."""
        expected = max(plan.calls * self.spent_share(), queries, 1.0)
        before = self.estimate(plan)
        tail = self.tail_seconds(plan.duration)
        own = None
        if queries > 0:
            span = elapsed if since_first_call is None else since_first_call
            own = (expected - queries) * span / queries + tail
        if before is None:
            return own
        left_before = max(0.0, before - elapsed)
        if own is None:
            return left_before
        weight = min(1.0, queries / (0.1 * expected))
        return weight * own + (1.0 - weight) * left_before


#: The server's meter (one per process).
SPEED = SpeedMeter()


def _noise(duration: float, sample_rate: int, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((n, int(duration * sample_rate)))).astype(np.float32)


def time_model(model, model_id: str, duration: float, *, waves: int = 2,
               meter: SpeedMeter | None = None) -> float:
    """Time ``model`` on ``waves`` waveforms of ``duration`` s (after one warm-up call) and
    record it; returns the seconds per waveform."""
    meter = meter or SPEED
    batch = _noise(duration, int(model.sample_rate), waves)
    if not meter.measured(model_id):
        model.predict(batch[:1])  # the first call warms caches and threads
    t0 = time.perf_counter()
    model.predict(batch)
    seconds = time.perf_counter() - t0
    meter.record_calls(model_id, duration, waves, seconds)
    return seconds / waves


def calibrate(model_ids: Iterable[str], load: Callable[[str], object], duration: float,
              *, stop: threading.Event | None = None, meter: SpeedMeter | None = None,
              job: Callable[[object, str], None] | None = None) -> list[str]:
    """Time one model call of each model (at ``duration`` s and a third of it, so that the
    estimate knows how the time grows with the excerpt) and, with ``job(model, model_id)``,
    one small job of the first model (the engine's own time and the files after it). Models
    already measured are skipped; one that fails to load is logged and skipped. Returns the
    models timed."""
    meter = meter or SPEED
    timed: list[str] = []
    for i, model_id in enumerate(model_ids):
        if stop is not None and stop.is_set():
            break
        if meter.measured(model_id):
            continue
        try:
            model = load(model_id)
            for d in (duration, max(1.0, duration / 3)):
                time_model(model, model_id, d, meter=meter)
            if i == 0 and job is not None:
                job(model, model_id)
        except Exception as exc:  # a model that cannot be timed has no estimate
            log.warning("timing %s at start-up failed: %s", model_id, exc)
            continue
        timed.append(model_id)
        per_wave = meter.seconds_per_wave(model_id, duration) or 0.0
        log.info("timed %s: %.3f s per %g s waveform", model_id, per_wave, duration)
    return timed
