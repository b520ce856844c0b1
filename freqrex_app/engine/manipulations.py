"""Minimal perturbations a person can hear (SPEC section 4): flip-k and the STFT flip."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .oracle import Oracle
from .prefix import shortest_prefix

__all__ = ["Flip", "snr_db", "remove_and_classify", "flip_k", "stft_flip"]


@dataclass
class Flip:
    """Removing ``index`` (top of the ranking) from the clip: the new label and the change's SNR."""

    k: int
    index: np.ndarray
    label: int
    confidence: float
    flipped: bool
    snr_db: float
    wave: np.ndarray


def snr_db(original: np.ndarray, changed: np.ndarray) -> float:
    """10 log10(sum x^2 / sum (x - x')^2); ``inf`` when nothing changed."""
    x = original.astype(np.float64)
    noise = float(np.sum((x - changed.astype(np.float64)) ** 2))
    signal = float(np.sum(x ** 2))
    if noise == 0.0:
        return float("inf")
    return float(10.0 * np.log10(signal / noise))


def remove_and_classify(space, oracle: Oracle, index: np.ndarray, target: int) -> Flip:
    """Remove ``index`` from the full clip and classify that exact waveform on its own."""
    wave = space.remove(index)
    label, conf, _ = oracle.classify_one(wave)
    return Flip(int(index.shape[0]), index.copy(), label, conf, label != target,
                snr_db(space.wave, wave), wave)


def flip_k(space, oracle: Oracle, ranking: np.ndarray, target: int, ks=range(1, 6)) -> list[Flip]:
    """Remove the top-k bins for each k, classify the exact waveform (one call each)."""
    return [remove_and_classify(space, oracle, ranking[:k], target) for k in ks]


def stft_flip(space, oracle: Oracle, ranking: np.ndarray, target: int) -> Flip | None:
    """Remove the fewest top STFT cells that change the label; None when even all do not."""
    def test(k: int) -> bool:
        return int(oracle.classify_one(space.remove(ranking[:k]))[0]) != target

    k = shortest_prefix(test, 1, space.n_features)
    if k is None:
        return None
    result = remove_and_classify(space, oracle, ranking[:k], target)
    return result if result.flipped else None
