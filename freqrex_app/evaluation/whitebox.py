"""The gradient reference of the evaluation (SPEC section 8): the engine's gradient flips
(:mod:`freqrex_app.engine.gradient`) at an unbounded budget, the best k-bin removals the margin's
gradient guides (flip-k), and gradient saliency, the baseline a reviewer expects.

- **Quiet and STFT flips**: :func:`~freqrex_app.engine.gradient.gradient_flip`, the same code
  the engine runs for a differentiable model, with no budget.
- **Flip-k** (:func:`whitebox_flip_k`): the top k bins by predicted drop of the flip margin, a
  greedy variant that re-linearises after each bin, and for k = 1 the next few single bins too;
  the flipping candidate with the highest SNR (else the highest SNR).
- **Gradient saliency** (:func:`saliency_flip_k`): the top k bins by |gradient x input| of the
  label's score (|d score / d m_k| at 0), removed.

Every flip is the exact wave that was classified by ``predict``. It runs for models with the
differentiable forward ``predict_torch`` (SPEC section 6).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..engine.decision import Decision
from ..engine.gradient import (GAINS, STEPS, MaskedWave, gradient_flip,
                               margin_gradient, mask_gradient)
from ..engine.manipulations import remove_and_classify
from ..engine.oracle import Oracle
from ..engine.spaces import FrequencySpace, StftSpace
from ..models.base import differentiable

__all__ = ["WhiteBoxFlip", "WhiteBoxResult", "whitebox_flip_k", "saliency_flip_k", "run_whitebox"]


@dataclass
class WhiteBoxFlip:
    """Features ``index`` (flat) removed or attenuated by ``gain``: the exact wave, its label."""

    domain: str          #: "freq" (rfft bins) or "stft" (STFT cells)
    method: str          #: how the features were chosen
    index: np.ndarray
    gain: float
    label: int
    confidence: float
    flipped: bool
    snr_db: float
    wave: np.ndarray = field(repr=False)
    margin: float = float("nan")  #: the exact margin of ``wave`` (negative: flipped)

    @property
    def n(self) -> int:
        return int(self.index.shape[0])


@dataclass
class WhiteBoxResult:
    """The white-box reference of one clip (None where not found; the reason in ``notes``)."""

    quiet: WhiteBoxFlip | None
    stft: WhiteBoxFlip | None
    flips: list[WhiteBoxFlip]       #: k = 1..5, removal
    saliency: list[WhiteBoxFlip]    #: k = 1..5, removal
    queries: int
    gradients: int
    seconds: float
    trace: list[dict] = field(default_factory=list)  #: every prefix search: domain, step, gain, n, snr
    notes: dict[str, str] = field(default_factory=dict)



def _exact(space, oracle: Oracle, decision: Decision, index: np.ndarray, method: str,
           gain: float = 0.0) -> WhiteBoxFlip:
    """``index`` scaled by ``gain`` in the clip, classified exactly on its own."""
    flip = remove_and_classify(space, oracle, np.asarray(index, dtype=np.int64), decision, gain)
    return _from_engine(space, flip, method,
                        float(decision.flip_margin(np.asarray(flip.scores))))


def _from_engine(space, flip, method: str, margin: float = float("nan")) -> WhiteBoxFlip | None:
    if flip is None:
        return None
    return WhiteBoxFlip("freq" if space.ndim == 1 else "stft", method, flip.index, flip.gain,
                        flip.label, flip.confidence, flip.flipped, flip.snr_db, flip.wave, margin)


def _best(flips: list[WhiteBoxFlip]) -> WhiteBoxFlip:
    return max(flips, key=lambda f: (f.flipped, f.snr_db))


def whitebox_flip_k(model, masked: MaskedWave, oracle: Oracle, decision: Decision,
                    ks: Sequence[int] = range(1, 6),
                    singles: int = 8) -> tuple[list[WhiteBoxFlip], int]:
    """For each k, the best k-bin removal the margin's gradient guides (and the gradients)."""
    space = masked.space
    ks = list(ks)
    _, grad = margin_gradient(model, masked, decision)
    grads = 1
    top = np.lexsort((np.arange(grad.size), grad)).astype(np.int64)  # largest predicted drop
    greedy = [int(top[0])]
    while len(greedy) < max(ks):
        mask = np.zeros(grad.size)
        mask[greedy] = 1.0
        _, g = margin_gradient(model, masked, decision, mask)
        grads += 1
        g[greedy] = np.inf
        greedy.append(int(np.argmin(g)))
    out = []
    for k in ks:
        cands = [_exact(space, oracle, decision, top[:k], "top-k predicted drop")]
        if sorted(greedy[:k]) != sorted(top[:k].tolist()):
            cands.append(_exact(space, oracle, decision, np.array(greedy[:k]),
                                "greedy re-linearised"))
        if k == 1:
            cands += [_exact(space, oracle, decision, top[i:i + 1],
                             f"single bin #{i + 1} by predicted drop") for i in range(1, singles)]
        out.append(_best(cands))
    return out, grads


def saliency_flip_k(model, masked: MaskedWave, oracle: Oracle, target: int,
                    ks: Sequence[int] = range(1, 6)) -> list[WhiteBoxFlip]:
    """Remove the top-k bins by |gradient x input| of the label's score (nested over k)."""
    _, grad = mask_gradient(model, masked, lambda scores: scores[target])
    top = np.lexsort((np.arange(grad.size), -np.abs(grad))).astype(np.int64)
    return [_exact(masked.space, oracle, Decision(target), top[:k], "gradient saliency")
            for k in ks]


def run_whitebox(model, space: FrequencySpace, stft_space: StftSpace | None, target: int,
                 foil: int | None = None, *, ks: Sequence[int] = range(1, 6),
                 gains: Sequence[float] = GAINS, steps: int = STEPS, singles: int = 8,
                 oracle: Oracle | None = None) -> WhiteBoxResult | str:
    """The gradient reference of one clip, or the reason it cannot run for ``model``."""
    if not differentiable(model):
        return (f"model {getattr(model, 'name', type(model).__name__)!r} has no differentiable "
                "forward (predict_torch): the gradient reference needs one")
    t0 = time.perf_counter()
    oracle = oracle or Oracle(model)
    q0 = oracle.queries
    decision = Decision(target, foil)
    notes: dict[str, str] = {}
    trace: list[dict] = []
    found = gradient_flip(space, model, oracle, decision, gains=gains, steps=steps)
    grads = found.gradients
    trace += [{"domain": "freq", **t} for t in found.trace]
    quiet = _from_engine(space, found.flip, "gradient energy order")
    if quiet is None:
        notes["quiet"] = "no prefix of the gradient's energy order flips the label"
    stft = None
    if stft_space is not None:
        found = gradient_flip(stft_space, model, oracle, decision, gains=gains, steps=steps)
        grads += found.gradients
        trace += [{"domain": "stft", **t} for t in found.trace]
        stft = _from_engine(stft_space, found.flip, "gradient energy order")
        if stft is None:
            notes["stft"] = "no prefix of the gradient's energy order of STFT cells flips the label"
    freq = MaskedWave(space)
    flips, g = whitebox_flip_k(model, freq, oracle, decision, ks, singles)
    saliency = saliency_flip_k(model, freq, oracle, target, ks)
    return WhiteBoxResult(quiet, stft, flips, saliency, oracle.queries - q0, grads + g + 1,
                          time.perf_counter() - t0, trace, notes)
