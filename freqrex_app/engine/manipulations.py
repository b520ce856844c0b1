"""Minimal perturbations (SPEC section 4): the ``Flip`` of a set of features, its SNR, and
flip-k. The least audible flips are searched in ``least_audible``."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..audio.hearing import snr_db
from .decision import Decision
from .oracle import Oracle

__all__ = ["Flip", "snr_db", "loudest_first", "remove_and_classify", "flip_k"]


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
    wave: np.ndarray = field(repr=False)
    gain: float = 0.0
    #: how the features were found: "black-box" (flip-k's ranking, the black-box search) or
    #: "gradient"
    search: str = "black-box"
    #: the model's scores of ``wave`` (not saved)
    scores: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def change(self) -> str:
        """What was done to the features, in words: "removed", or "attenuated (× 0.8)"."""
        return "removed" if self.gain <= 0.0 else f"attenuated (× {self.gain:g})"


def loudest_first(space, index: np.ndarray) -> np.ndarray:
    """The features ``index`` (flat) of ``space``, the loudest first (the order of the JSON)."""
    return index[np.argsort(-space.magnitude.ravel()[index], kind="stable")]


def remove_and_classify(space, oracle: Oracle, index: np.ndarray, decision: Decision,
                        gain: float = 0.0, search: str = "black-box") -> Flip:
    """Scale ``index`` by ``gain`` in the full clip and classify that exact waveform alone."""
    wave = space.attenuate(index, gain)
    label, conf, scores = oracle.classify_one(wave)
    return Flip(int(index.shape[0]), np.asarray(index).copy(), label, conf,
                bool(decision.changed(scores)[0]), snr_db(space.wave, wave), wave, float(gain),
                search, np.asarray(scores))


def flip_k(space, oracle: Oracle, ranking: np.ndarray, decision: Decision,
           ks=range(1, 6)) -> list[Flip]:
    """Remove the top-k bins for each k, classify the exact waveform (one call each)."""
    return [remove_and_classify(space, oracle, ranking[:k], decision) for k in ks]

