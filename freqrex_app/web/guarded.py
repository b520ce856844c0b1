"""A classifier that a job can stop: it classifies in pieces of about half a second and asks
before each whether the job was abandoned."""
from __future__ import annotations

import time
from typing import Callable

from ..models.patches import has_patches
from .errors import Cancelled

__all__ = ["GuardedModel"]


class GuardedModel:
    """A classifier that classifies in pieces small enough that one model call takes about
    ``target_s`` seconds, and asks ``should_stop`` before each piece (raising
    :class:`Cancelled`): abandoned work stops within about that long, whatever batch the engine
    asks for. The engine's own batching, hence its search, is unchanged; the scores are the
    model's. ``on_queries`` is told the running count of waveforms classified."""

    def __init__(self, model, should_stop: Callable[[], bool], *, seconds_per_wave: float | None,
                 target_s: float = 0.5, max_piece: int = 64,
                 on_queries: Callable[[int], None] | None = None):
        self._model = model
        self._should_stop = should_stop
        self._on_queries = on_queries
        self._measured = False  # until a call is timed, pieces are small (a cold model is slow)
        self.target_s = float(target_s)
        # never measured here: one waveform at a time until the first call is timed
        self._per_wave = max(float(seconds_per_wave or self.target_s), 1e-6)
        self.max_piece = int(max_piece)
        self.queries = 0
        self.name, self.sample_rate, self.labels = model.name, model.sample_rate, model.labels
        if has_patches(model):  # the engine's patch cache calls these: guard them too
            self.patch_spans = model.patch_spans
            self.predict_patches = self._predict_patches

    def __getattr__(self, name: str):  # everything else is the model's
        return getattr(self._model, name)

    @property
    def piece(self) -> int:
        """Waveforms per model call now (from the measured time per waveform; at most 4
        before the first call is timed)."""
        most = self.max_piece if self._measured else min(4, self.max_piece)
        return int(max(1, min(most, self.target_s // self._per_wave)))

    def _predict_patches(self, waves, which):
        """The model's ``predict_patches`` in pieces, asking ``should_stop`` before each; the
        waveforms of ``which`` count as classified once their patches are computed."""
        import numpy as np

        which = np.asarray(which)
        if len(which) == 0:
            return self._model.predict_patches(waves, which)
        out, lo, seen = [], 0, set()
        step = max(1, self.piece)  # a patch costs at most a waveform
        while lo < len(which):
            if self._should_stop():
                raise Cancelled()
            part = which[lo:lo + step]
            out.append(np.asarray(self._model.predict_patches(waves, part)))
            self._measured = True  # the model is warm: pieces of the measured size from now
            step = max(1, self.piece)
            lo += len(part)
            fresh = set(part[:, 0].tolist()) - seen
            seen |= fresh
            self.queries += len(fresh)
            if fresh and self._on_queries is not None:
                self._on_queries(self.queries)
        return out[0] if len(out) == 1 else np.concatenate(out, axis=0)

    def predict(self, waves):
        import numpy as np

        waves = np.asarray(waves)
        if len(waves) == 0:
            return self._model.predict(waves)
        out, lo = [], 0
        while lo < len(waves):
            if self._should_stop():
                raise Cancelled()
            piece = waves[lo:lo + self.piece]
            t0 = time.perf_counter()
            out.append(np.asarray(self._model.predict(piece)))
            took = (time.perf_counter() - t0) / len(piece)
            self._per_wave = took if not self._measured else 0.5 * self._per_wave + 0.5 * took
            self._measured = True
            lo += len(piece)
            self.queries += len(piece)
            if self._on_queries is not None:
                self._on_queries(self.queries)
        return out[0] if len(out) == 1 else np.concatenate(out, axis=0)
