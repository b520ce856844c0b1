"""The sufficient, sufficient-and-necessary and complete sets (SPEC section 3).

All sets are prefixes of the ranking. Each is confirmed by one last model call on the exact
waveform that will be saved; a set whose check fails is not reported.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .oracle import Oracle
from .prefix import shortest_prefix

__all__ = ["SetResult", "NecessaryResult", "find_sufficient", "find_necessary", "find_complete"]


@dataclass
class SetResult:
    """A kept set of bins, the label and confidence of keeping only it, and its waveform."""

    index: np.ndarray
    label: int
    confidence: float
    wave: np.ndarray


@dataclass
class NecessaryResult:
    """SN: keeping it gives the label, removing it gives another."""

    index: np.ndarray
    label_kept: int
    confidence_kept: float
    label_removed: int
    confidence_removed: float
    wave_kept: np.ndarray
    wave_removed: np.ndarray


def find_sufficient(space, oracle: Oracle, ranking: np.ndarray, target: int) -> SetResult | None:
    """The shortest prefix P of ``ranking`` with keep(P) classified as ``target``."""
    def test(k: int) -> bool:
        return int(oracle.classify_one(space.keep(ranking[:k]))[0]) == target

    k = shortest_prefix(test, 1, space.n_features)
    if k is None:
        return None
    wave = space.keep(ranking[:k])
    label, conf, _ = oracle.classify_one(wave)
    if label != target:
        return None
    return SetResult(ranking[:k].copy(), label, conf, wave)


def find_necessary(space, oracle: Oracle, ranking: np.ndarray, target: int,
                   start: int = 1) -> NecessaryResult | None:
    """The shortest prefix P with keep(P) -> ``target`` and remove(P) -> another label."""
    def test(k: int) -> bool:
        kept = space.keep(ranking[:k])
        removed = space.remove(ranking[:k])
        out = oracle.classify(np.stack([kept, removed]))
        return int(out.label[0]) == target and int(out.label[1]) != target

    k = shortest_prefix(test, max(1, start), space.n_features)
    if k is None:
        return None
    kept, removed = space.keep(ranking[:k]), space.remove(ranking[:k])
    lk, ck, _ = oracle.classify_one(kept)
    lr, cr, _ = oracle.classify_one(removed)
    if lk != target or lr == target:
        return None
    return NecessaryResult(ranking[:k].copy(), lk, ck, lr, cr, kept, removed)


def find_complete(space, oracle: Oracle, ranking: np.ndarray, target: int, core: np.ndarray,
                  confidence: float, tolerance: float = 0.01) -> tuple[SetResult, np.ndarray] | None:
    """SN plus the fewest bins from the low end of the ranking that restore the confidence.

    Returns the complete set and the adjustment set A.
    """
    n_core = core.shape[0]
    tail_max = space.n_features - n_core

    def kept(m: int) -> np.ndarray:
        return np.concatenate([core, ranking[space.n_features - m:]]) if m else core

    def test(m: int) -> bool:
        label, conf, _ = oracle.classify_one(space.keep(kept(m)))
        return label == target and abs(conf - confidence) <= tolerance

    m = shortest_prefix(test, 0, tail_max)
    if m is None:
        return None
    index = kept(m)
    wave = space.keep(index)
    label, conf, _ = oracle.classify_one(wave)
    if label != target or abs(conf - confidence) > tolerance:
        return None
    adjustment = ranking[space.n_features - m:].copy() if m else np.zeros(0, dtype=np.int64)
    return SetResult(index.copy(), label, conf, wave), adjustment
