"""The sufficient, sufficient-and-necessary and complete sets (SPEC section 3).

All sets are prefixes of the ranking. Each is confirmed by one last model call on the exact
waveform that will be saved; a set whose check fails is not reported.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .decision import Decision
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


def find_sufficient(space, oracle: Oracle, ranking: np.ndarray,
                    decision: Decision) -> SetResult | None:
    """The shortest prefix P of ``ranking`` with keep(P) keeping the decision."""
    def test(k: int) -> bool:
        return bool(decision.holds(oracle.classify_one(space.keep(ranking[:k]))[2])[0])

    k = shortest_prefix(test, 1, space.n_features)
    if k is None:
        return None
    wave = space.keep(ranking[:k])
    label, conf, scores = oracle.classify_one(wave)
    if not decision.holds(scores)[0]:
        return None
    return SetResult(ranking[:k].copy(), label, conf, wave)


def find_necessary(space, oracle: Oracle, ranking: np.ndarray, decision: Decision,
                   start: int = 1) -> NecessaryResult | None:
    """The shortest prefix P with keep(P) keeping the decision and remove(P) changing it.

    Each test classifies remove(P) first and keep(P) only where the removal changed the
    decision: short prefixes mostly fail on the removal, so this takes one call, not two."""
    def test(k: int) -> bool:
        if not decision.changed(oracle.classify_one(space.remove(ranking[:k]))[2])[0]:
            return False
        return bool(decision.holds(oracle.classify_one(space.keep(ranking[:k]))[2])[0])

    k = shortest_prefix(test, max(1, start), space.n_features)
    if k is None:
        return None
    kept, removed = space.keep(ranking[:k]), space.remove(ranking[:k])
    lk, ck, sk = oracle.classify_one(kept)
    lr, cr, sr = oracle.classify_one(removed)
    if not decision.holds(sk)[0] or not decision.changed(sr)[0]:
        return None
    return NecessaryResult(ranking[:k].copy(), lk, ck, lr, cr, kept, removed)


def find_complete(space, oracle: Oracle, ranking: np.ndarray, decision: Decision,
                  core: np.ndarray, confidence: float,
                  tolerance: float = 0.01) -> tuple[SetResult, np.ndarray] | None:
    """SN plus the fewest bins from the low end of the ranking that restore the confidence
    (the label's score) while the decision holds.

    Returns the complete set and the adjustment set A.
    """
    n_core = core.shape[0]
    tail_max = space.n_features - n_core

    def kept(m: int) -> np.ndarray:
        return np.concatenate([core, ranking[space.n_features - m:]]) if m else core

    def ok(scores) -> bool:
        return bool(decision.holds(scores)[0]) and abs(scores[decision.target] - confidence) <= tolerance

    def test(m: int) -> bool:
        return ok(oracle.classify_one(space.keep(kept(m)))[2])

    m = shortest_prefix(test, 0, tail_max)
    if m is None:
        return None
    index = kept(m)
    wave = space.keep(index)
    label, conf, scores = oracle.classify_one(wave)
    if not ok(scores):
        return None
    adjustment = ranking[space.n_features - m:].copy() if m else np.zeros(0, dtype=np.int64)
    return SetResult(index.copy(), label, conf, wave), adjustment
