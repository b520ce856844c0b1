"""The oracle: classifies waveforms in batches, counts model queries and enforces the budget.

When the model declares the patch hook (``models.patches``), the oracle computes only the
patches whose samples it has not seen in this explanation (a :class:`PatchCache`); otherwise
it calls ``predict`` on every waveform, as before. Either way one query is one waveform.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import FreqReXError
from ..models.base import Classifier
from ..models.patches import PatchCache, has_patches

__all__ = ["Oracle", "Outcomes", "BudgetExhausted", "ModelError"]

ProgressFn = Callable[[int], None]


class BudgetExhausted(FreqReXError, RuntimeError):
    """Raised when a query would exceed the explanation's budget."""


class ModelError(FreqReXError, RuntimeError):
    """The classifier returned something that is not a valid score array."""


@dataclass(frozen=True)
class Outcomes:
    """Classifications of a batch: top-1 ``label`` index, its ``confidence``, all ``scores``."""

    label: np.ndarray
    confidence: np.ndarray
    scores: np.ndarray

    def passes(self, target: int) -> np.ndarray:
        return self.label == target


class Oracle:
    """Wraps a classifier: batched ``predict``, a query counter, the budget, time inside predict.

    One query is one waveform classified, whether its patches were computed or found in the
    cache. ``on_query`` is called with the total after every call. ``predict_seconds`` is the
    time spent computing scores: inside ``predict``, or for a patch-scored model the whole
    cache path (hashing, look-ups and ``predict_patches``). ``patch_cache``: ``None`` (the
    default) uses a :class:`PatchCache` when the model has the hook, ``False`` never does.
    ``patches`` is that cache (``None`` without one); its counters say how many patches were
    asked for and how many computed.
    """

    def __init__(self, model: Classifier, budget: int | None = None, batch_size: int = 32,
                 on_query: ProgressFn | None = None, patch_cache: bool | None = None):
        if budget is not None and budget < 1:
            raise ValueError(f"budget must be a positive number of model queries, got {budget}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.model = model
        self.budget = budget
        self.batch_size = int(batch_size)
        self.on_query = on_query
        self.queries = 0
        self.calls = 0
        self.predict_seconds = 0.0
        self.n_labels = len(model.labels)
        if patch_cache is None:
            patch_cache = has_patches(model) and os.environ.get("FREQREX_PATCH_CACHE", "1") != "0"
        self.patches: PatchCache | None = PatchCache(model) if patch_cache else None

    @property
    def left(self) -> float:
        """Queries left (``inf`` when unbounded)."""
        return math.inf if self.budget is None else self.budget - self.queries

    def classify(self, waves: np.ndarray) -> Outcomes:
        """Classify ``waves`` [B, N]; raises :class:`BudgetExhausted` if B exceeds what is left."""
        waves = np.asarray(waves, dtype=np.float32)
        if waves.ndim == 1:
            waves = waves[None]
        n = waves.shape[0]
        if n > self.left:
            raise BudgetExhausted(f"budget of {self.budget} model queries spent")
        chunks = []
        for lo in range(0, n, self.batch_size):
            chunks.append(self._predict(waves[lo:lo + self.batch_size]))
        scores = np.concatenate(chunks, axis=0)
        label = scores.argmax(axis=1)
        confidence = scores[np.arange(n), label]
        return Outcomes(label=label, confidence=confidence, scores=scores)

    def classify_one(self, wave: np.ndarray) -> tuple[int, float, np.ndarray]:
        """Classify one waveform on its own (batch of one), as a person re-checking a file would."""
        out = self.classify(np.asarray(wave, dtype=np.float32)[None])
        return int(out.label[0]), float(out.confidence[0]), out.scores[0]

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        if self.patches is not None:
            scores = self.patches.predict(batch)
        else:
            scores = self.model.predict(np.ascontiguousarray(batch))
        self.predict_seconds += time.perf_counter() - t0
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (batch.shape[0], self.n_labels):
            raise ModelError(f"model {self.model.name!r} returned scores of shape {scores.shape}, "
                             f"expected {(batch.shape[0], self.n_labels)}")
        if not np.all(np.isfinite(scores)):
            raise ModelError(f"model {self.model.name!r} returned non-finite scores")
        self.queries += batch.shape[0]
        self.calls += 1
        if self.on_query is not None:
            self.on_query(self.queries)
        return scores
