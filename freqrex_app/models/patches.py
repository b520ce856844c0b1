"""The patch hook: classifiers whose scores are the mean of independent per-window scores.

A classifier may declare, besides ``predict``, that ``predict(waves)[b]`` is the mean over
windows ("patches") ``i`` of a score that depends only on the samples
``waves[b, lo_i:hi_i]``, with ``patch_spans(N) = [(lo_0, hi_0), ...]``. It does so by having

* ``patch_spans(n_samples) -> list[tuple[int, int]]``: the spans, the same for every wave of
  ``n_samples`` samples, each with ``0 <= lo < hi <= n_samples``;
* ``predict_patches(waves [B, N], which [K, 2]) -> scores [K, len(labels)]``: the scores of
  patches ``which[k] = (row, i)``, so that ``predict(waves)[b]`` equals the mean of
  ``predict_patches(waves, [(b, 0), (b, 1), ...])`` over the patches (within float error).

:class:`PatchCache` then serves a batch of waves by computing only the patches whose samples
it has not seen: the engine's oracle uses one per explanation when the model has the hook
(:func:`has_patches`), and calls ``predict`` as before when it has not. The built-in musicnn
taggers have it (3 s patches, ``melspec.patch_span``).
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["PatchScored", "PatchCache", "has_patches", "without_patches"]


@runtime_checkable
class PatchScored(Protocol):
    """A classifier whose scores are the mean of per-patch scores (see the module docstring)."""

    def patch_spans(self, n_samples: int) -> list[tuple[int, int]]: ...

    def predict_patches(self, waves: np.ndarray, which: np.ndarray) -> np.ndarray: ...


def has_patches(model: Any) -> bool:
    """Whether ``model`` declares the patch hook (both methods, callable)."""
    return callable(getattr(model, "patch_spans", None)) and callable(getattr(model, "predict_patches", None))


class _Plain:
    """A classifier's ``predict`` and attributes, without the patch hook."""

    def __init__(self, model: Any):
        self._model = model

    def predict(self, waves: np.ndarray) -> np.ndarray:
        return self._model.predict(waves)

    def __getattr__(self, attr: str) -> Any:
        if attr in ("_model", "patch_spans", "predict_patches"):
            raise AttributeError(attr)
        return getattr(self._model, attr)


def without_patches(model: Any) -> Any:
    """``model`` without the patch hook: the engine then calls ``predict`` on every waveform
    (the full-recompute path; the environment's ``FREQREX_PATCH_CACHE=0`` does the same)."""
    return _Plain(model)


Key = tuple[int, int, int, bytes]


class PatchCache:
    """Scores of patches, keyed by their exact samples, for one clip's explanation.

    The key of a patch is ``(N, lo, hi, SHA-256 of the float32 bytes of waves[b, lo:hi])``:
    the same span of a wave of the same length holding the same samples. A 256-bit digest
    makes a collision practically impossible (none is known for SHA-256) and the span in the
    key rules out any between different windows. SHA-256 rather than BLAKE2b because CPUs with
    SHA extensions hash about 3x faster with it (measured 890 against 290 MB/s here: 2 ms
    for a 30 s wave, under 1% of one musicnn call). At most ``max_entries`` patches are
    kept, least recently used dropped first (an entry is ``len(labels)`` float32 scores plus
    its key, about 0.4 KB with 50 labels: 32 MB at the default 80,000; a standard explanation
    of a 30 s clip, 1,000 calls of 10 patches, stores at most 10,000).

    Counters: ``lookups`` (patches asked for) and ``evaluations`` (patches computed by the
    model; a patch that appears twice in one batch is computed once).
    """

    def __init__(self, model: PatchScored, max_entries: int = 80_000):
        if not has_patches(model):
            raise TypeError("the model does not declare patch_spans and predict_patches")
        if max_entries < 1:
            raise ValueError(f"max_entries must be positive, got {max_entries}")
        self.model = model
        self.max_entries = int(max_entries)
        self._scores: OrderedDict[Key, np.ndarray] = OrderedDict()
        self._spans: dict[int, list[tuple[int, int]]] = {}
        self.lookups = 0
        self.evaluations = 0

    def __len__(self) -> int:
        return len(self._scores)

    def clear(self) -> None:
        """Forget every score (the counters keep counting)."""
        self._scores.clear()

    def spans(self, n_samples: int) -> list[tuple[int, int]]:
        """The model's spans for waves of ``n_samples``, checked once per length."""
        if n_samples not in self._spans:
            spans = [(int(lo), int(hi)) for lo, hi in self.model.patch_spans(n_samples)]
            if not spans or any(not 0 <= lo < hi <= n_samples for lo, hi in spans):
                raise ValueError(f"patch_spans({n_samples}) must give spans 0 <= lo < hi <= {n_samples}, "
                                 f"got {spans[:4]}{'...' if len(spans) > 4 else ''}")
            self._spans[n_samples] = spans
        return self._spans[n_samples]

    def predict(self, waves: np.ndarray) -> np.ndarray:
        """Scores ``[B, L]`` of ``waves [B, N]`` (float32), the mean of the patch scores; only
        patches not already stored are computed, in one ``predict_patches`` call."""
        x = np.ascontiguousarray(waves, dtype=np.float32)
        n = x.shape[1]
        spans = self.spans(n)
        keys = [[(n, lo, hi, hashlib.sha256(x[b, lo:hi]).digest()) for lo, hi in spans]
                for b in range(x.shape[0])]
        self.lookups += x.shape[0] * len(spans)
        missing: dict[Key, tuple[int, int]] = {}
        for b, row in enumerate(keys):
            for i, key in enumerate(row):
                if key in self._scores:
                    self._scores.move_to_end(key)
                elif key not in missing:
                    missing[key] = (b, i)
        fresh: dict[Key, np.ndarray] = {}
        if missing:
            got = np.asarray(self.model.predict_patches(x, np.array(list(missing.values()), dtype=np.int64)),
                             dtype=np.float32)
            if got.ndim != 2 or got.shape[0] != len(missing):
                raise ValueError(f"predict_patches returned shape {got.shape} for {len(missing)} patches")
            self.evaluations += len(missing)
            fresh = dict(zip(missing, got))
        per_patch = np.stack([np.stack([fresh[k] if k in fresh else self._scores[k] for k in row])
                              for row in keys])  # [B, P, L]
        for key, value in fresh.items():
            self._scores[key] = value
        while len(self._scores) > self.max_entries:
            self._scores.popitem(last=False)
        return per_patch.mean(axis=1, dtype=np.float32)
