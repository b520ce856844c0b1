"""Minimal perturbations a person can hear (SPEC section 4): flip-k, and the least audible
flips in both domains (the quiet flip over rfft bins, the STFT flip over cells)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .decision import Decision
from .oracle import Oracle
from .quiet import quiet_search

__all__ = ["Flip", "snr_db", "loudest_first", "remove_and_classify", "flip_k", "least_audible_flip"]


@dataclass
class Flip:
    """Features ``index`` scaled by ``gain`` (0: removed) in the clip: the new label, whether
    the decision changed, and the change's SNR. ``k`` is the number of features changed."""

    k: int
    index: np.ndarray
    label: int
    confidence: float
    flipped: bool
    snr_db: float
    wave: np.ndarray
    gain: float = 0.0

    @property
    def change(self) -> str:
        """What was done to the features, in words: "removed", or "attenuated (× 0.8)"."""
        return "removed" if self.gain <= 0.0 else f"attenuated (× {self.gain:g})"


def snr_db(original: np.ndarray, changed: np.ndarray) -> float:
    """10 log10(sum x^2 / sum (x - x')^2); ``inf`` when nothing changed."""
    x = original.astype(np.float64)
    noise = float(np.sum((x - changed.astype(np.float64)) ** 2))
    signal = float(np.sum(x ** 2))
    if noise == 0.0:
        return float("inf")
    return float(10.0 * np.log10(signal / noise))


def loudest_first(space, index: np.ndarray) -> np.ndarray:
    """The features ``index`` (flat) of ``space``, the loudest first (the order of the JSON)."""
    return index[np.argsort(-space.magnitude.ravel()[index], kind="stable")]


def remove_and_classify(space, oracle: Oracle, index: np.ndarray, decision: Decision,
                        gain: float = 0.0) -> Flip:
    """Scale ``index`` by ``gain`` in the full clip and classify that exact waveform alone."""
    wave = space.attenuate(index, gain)
    label, conf, scores = oracle.classify_one(wave)
    return Flip(int(index.shape[0]), np.asarray(index).copy(), label, conf,
                bool(decision.changed(scores)[0]), snr_db(space.wave, wave), wave, float(gain))


def flip_k(space, oracle: Oracle, ranking: np.ndarray, decision: Decision,
           ks=range(1, 6)) -> list[Flip]:
    """Remove the top-k bins for each k, classify the exact waveform (one call each)."""
    return [remove_and_classify(space, oracle, ranking[:k], decision) for k in ks]


def least_audible_flip(space, oracle: Oracle, decision: Decision, *, budget: float,
                       clip_scores: np.ndarray | None = None,
                       **settings) -> tuple[Flip | None, np.ndarray | None]:
    """The quietest change found by :func:`quiet_search` (its features listed loudest first),
    and its map of the margin's drop
    per feature (each tile's measured drop spread evenly over its features). The flip is None
    when nothing flipped."""
    found = quiet_search(space, oracle, decision, budget=budget, clip_scores=clip_scores,
                         **settings)
    if found.index is None:
        return None, found.drop_map
    index = loudest_first(space, found.index)
    flip = Flip(int(index.shape[0]), index, found.label, found.confidence, True,
                snr_db(space.wave, found.wave), found.wave, found.gain)
    return flip, found.drop_map
