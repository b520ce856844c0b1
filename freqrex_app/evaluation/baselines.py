"""Baselines for flip-k (SPEC section 8): remove k bins chosen without any causal search.

Every baseline removes exactly k rfft bins (k = 1..5) from the full spectrum, with the same
fill value and the same reconstruction as the engine (:class:`FrequencySpace`), and the
exact waveform is classified on its own (a batch of one), as the engine's flips are.

- **random**: the first k bins of a seeded random permutation of all F bins (so the sets are
  nested over k, as FreqReX's prefixes are). With ``draws > 1`` several permutations are
  tried; each draw is a separate row entry and the flip rate is their mean.
- **loudest**: the k bins with the largest magnitude |X| (ties by index).
- **occlusion** (single-band occlusion): split the F bins into ``bands`` contiguous bands of
  (almost) equal width; remove each band alone and measure the drop of the original label's
  score (``bands`` model queries, counted and reported as ``occlusion_queries``). The most
  important band is the one with the largest drop (a band whose removal changes the label
  ranks first among those, by the drop). Then remove the k loudest bins of that band.

For the STFT flip there is one more baseline, **quietest cells** (:func:`quietest_cells_flip`):
the fewest of the quietest STFT cells (a noise gate) whose removal changes the label, found
by the same prefix search and the same reconstruction as the engine's STFT flip.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..engine.decision import Decision
from ..engine.manipulations import Flip, remove_and_classify
from ..engine.prefix import shortest_prefix
from ..engine.oracle import Oracle
from ..engine.spaces import FrequencySpace, StftSpace

__all__ = ["BaselineFlip", "BaselineResult", "random_bins", "loudest_bins", "band_edges",
           "occlusion_importance", "quietest_cells_flip", "run_baselines", "METHODS"]

METHODS = ("random", "loudest", "occlusion")


@dataclass
class BaselineFlip:
    """Removing ``bins`` from the clip: the new label, whether it flipped, the SNR."""

    method: str
    k: int
    bins: np.ndarray
    label: int
    confidence: float
    flipped: bool
    snr_db: float
    wave: np.ndarray = field(repr=False)
    draw: int = 0


@dataclass
class BaselineResult:
    flips: list[BaselineFlip]
    occlusion_band: tuple[int, int]
    occlusion_band_flipped: bool
    occlusion_drops: np.ndarray
    queries: int
    occlusion_queries: int
    seconds: float
    #: the STFT flip's baseline (None when no STFT space was given, or no prefix flipped)
    quietest_stft: Flip | None = None


def random_bins(n_bins: int, k: int, seed: int = 0, draw: int = 0) -> np.ndarray:
    """The first k bins of a seeded random permutation of ``n_bins`` (nested over k)."""
    rng = np.random.default_rng([int(seed), 7919, int(draw)])
    # a full permutation of 240k bins is cheap; nested prefixes need the same order for all k
    return rng.permutation(n_bins)[:k].astype(np.int64)


def loudest_bins(magnitude: np.ndarray, k: int, within: tuple[int, int] | None = None) -> np.ndarray:
    """The k bins of largest magnitude (ties by lower index), optionally within [lo, hi)."""
    lo, hi = within if within is not None else (0, magnitude.shape[0])
    m = np.asarray(magnitude[lo:hi], dtype=np.float64)
    order = np.lexsort((np.arange(m.size), -m))
    return (order[:k] + lo).astype(np.int64)


def band_edges(n_bins: int, bands: int) -> np.ndarray:
    """``bands + 1`` edges splitting [0, n_bins) into contiguous bands of (almost) equal width."""
    bands = max(1, min(int(bands), n_bins))
    return np.linspace(0, n_bins, bands + 1).round().astype(np.int64)


def occlusion_importance(space: FrequencySpace, oracle: Oracle, target: int, confidence: float,
                         bands: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Remove each band alone; returns (best band, edges, score drops, whether each flipped)."""
    edges = band_edges(space.n_features, bands)
    waves = np.stack([space.remove(np.arange(edges[b], edges[b + 1])) for b in range(len(edges) - 1)])
    out = oracle.classify(waves)
    drops = confidence - out.scores[:, target]
    flipped = out.label != target
    # a band that flips the label outranks one that does not; then the largest drop
    best = int(np.lexsort((np.arange(drops.size), -drops, ~flipped))[0])
    return best, edges, drops.astype(np.float64), flipped


def quietest_cells_flip(space: StftSpace, oracle: Oracle, target: int) -> Flip | None:
    """Remove the fewest of the quietest STFT cells (ties by index) that change the label."""
    order = np.lexsort((np.arange(space.n_features), space.magnitude.ravel())).astype(np.int64)

    def test(k: int) -> bool:
        return int(oracle.classify_one(space.remove(order[:k]))[0]) != target

    k = shortest_prefix(test, 1, space.n_features)
    if k is None:
        return None
    result = remove_and_classify(space, oracle, order[:k], Decision(target))
    return result if result.flipped else None


def _one(space: FrequencySpace, oracle: Oracle, target: int, method: str, bins: np.ndarray,
         draw: int = 0) -> BaselineFlip:
    f = remove_and_classify(space, oracle, bins, Decision(target))
    return BaselineFlip(method, f.k, f.index, f.label, f.confidence, f.flipped, f.snr_db, f.wave,
                        draw)


def run_baselines(space: FrequencySpace, oracle: Oracle, target: int, confidence: float, *,
                  ks=range(1, 6), seed: int = 0, draws: int = 1, bands: int = 64,
                  stft_space: StftSpace | None = None) -> BaselineResult:
    """All three baselines at every k, and the quietest-cells STFT flip when ``stft_space``
    is given; the queries are counted by ``oracle``."""
    t0 = time.perf_counter()
    q0 = oracle.queries
    flips: list[BaselineFlip] = []
    ks = list(ks)
    kmax = max(ks)
    for d in range(max(1, int(draws))):
        order = random_bins(space.n_features, kmax, seed, d)
        flips += [_one(space, oracle, target, "random", order[:k], d) for k in ks]
    loud = loudest_bins(space.magnitude, kmax)
    flips += [_one(space, oracle, target, "loudest", loud[:k]) for k in ks]
    qo = oracle.queries
    best, edges, drops, band_flipped = occlusion_importance(space, oracle, target, confidence, bands)
    occlusion_queries = oracle.queries - qo
    band = (int(edges[best]), int(edges[best + 1]))
    inband = loudest_bins(space.magnitude, kmax, within=band)
    flips += [_one(space, oracle, target, "occlusion", inband[:k]) for k in ks]
    gate = quietest_cells_flip(stft_space, oracle, target) if stft_space is not None else None
    return BaselineResult(flips, band, bool(band_flipped[best]), drops, oracle.queries - q0,
                          occlusion_queries, time.perf_counter() - t0, gate)
