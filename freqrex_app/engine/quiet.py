"""The least audible flip (SPEC section 4): a black-box search that minimises removed energy.

"Minimal" means least audible: the cost of a change is the energy it removes, not the number
of features. The search works on *tiles* of features on the scale a model hears: mel-spaced
bands times short time segments of the STFT, or, for the rfft bins, mel-spaced bands times
loudness levels within each band (its quietest bins, the next quietest, ...). A tile louder
than ``pool_db`` below the clip cannot be part of a change quieter than that: such tiles
are measured together, as one more loudness layer, so that a loud cue is still found.

1. **Effect per unit of energy.** A *group* of tiles is a box on that grid within a range of
   loudness layers (quantiles of tile energy). Groups are changed in the clip (a *probe*:
   removed, or attenuated by one gain), a batch per model call, and the drop of the label's
   margin (its score minus the best other score, or minus the foil's) is measured.
   Best-first, the groups with the largest drop per unit of energy are split into 4 and
   measured again, so the map gets finer where faint content matters. Each tile is scored by
   the finest group measured around it.
2. **The flip.** Tiles are changed in the order of that score; the shortest flipping prefix
   is bracketed around the one whose predicted drop (the sum of the measured drops) reaches
   the margin, at the probe's gain, then at each other gain in ``gains`` (0 is removal)
   wherever a prefix at that gain would change less energy; the loudest groups the flip does
   not need are put back.
3. **Two probes.** Steps 1-2 run by removal with half the budget; unless that flip is
   ``GOOD_DB`` quiet, they run again by attenuation to half with the other half and a map of
   its own (else the other half refines the removal map); the quieter flip wins. Removing
   faint content can push a model *towards* its label (silence between the notes sounds
   electronic to these taggers) where halving it pushes away: on 8 real clips labelled
   electronic that only a near-total removal flipped (0-1 dB), the attenuation probe found
   flips at 13-34 dB on 3 (``research/quiet_probes.py``).
4. The result is classified on its own, on the exact waveform that is returned.

It uses ``predict`` only.
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

import numpy as np

from ..audio.scales import hz_to_mel, mel_to_hz
from .decision import Decision
from .oracle import BudgetExhausted, Oracle
from .prefix import bracket

__all__ = ["QuietResult", "Tiling", "quiet_search", "mel_edges", "BLACK_BOX_GAINS", "PROBES"]

#: Attenuation gains the black-box search tries for the flip (0 is removal), removal first. Not
#: the gradient search's :data:`~freqrex_app.engine.gradient.GAINS`: without a gradient there is
#: no prediction of which gain flips, and removal is the gain most likely to.
BLACK_BOX_GAINS = (0.0, 0.4, 0.6, 0.8)
#: How the groups are changed to measure them, one search each: removed, and attenuated to
#: half. Where taking faint content out sounds like the label (silence between the notes of
#: electronic music), only an attenuation moves the model the other way.
PROBES = (0.0, 0.5)
#: ... unless the removal probe's flip is at least this quiet (dB): then the rest of the budget
#: refines the removal map.
GOOD_DB = 20.0


def mel_edges(n_bins: int, sample_rate: float, bin_hz: float, n_bands: int) -> np.ndarray:
    """Band edges in bins (first 0, last ``n_bins``), spaced on the mel scale; bands narrower
    than one bin merge."""
    top = hz_to_mel(sample_rate / 2.0, htk=True)  # HTK: the edges the search was measured with
    hz = mel_to_hz(np.linspace(0.0, top, n_bands + 1), htk=True)
    edges = np.clip(np.round(hz / bin_hz).astype(np.int64), 0, n_bins)
    edges[0], edges[-1] = 0, n_bins
    return np.unique(edges)


@dataclass
class Tiling:
    """Features grouped into tiles on a ``[rows, cols]`` grid; ``tile_of[feature]`` is the
    flat tile index and ``energy`` each tile's share of the clip's energy."""

    tile_of: np.ndarray
    energy: np.ndarray

    @classmethod
    def of(cls, space, n_bands: int, levels: int = 8, frames: int = 8) -> "Tiling":
        """STFT: ``n_bands`` mel bands x time segments of ``frames`` frames. rfft bins:
        ``n_bands`` mel bands x ``levels`` loudness levels within each band."""
        if space.ndim == 1:
            edges = mel_edges(space.n_features, space.sample_rate,
                              space.sample_rate / space.n_samples, n_bands)
            band = np.repeat(np.arange(edges.size - 1), np.diff(edges))
            level = np.empty(space.n_features, dtype=np.int64)
            for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):  # rank within the band
                rank = np.argsort(np.argsort(space.magnitude[lo:hi], kind="stable"), kind="stable")
                level[lo:hi] = rank * levels // max(1, hi - lo)
            tile_of = band * levels + level
            power = space.power
            shape = (edges.size - 1, levels)
        else:
            n_freq, n_frames = space.shape
            edges = mel_edges(n_freq, space.sample_rate, space.sample_rate / space.n_fft, n_bands)
            band = np.repeat(np.arange(edges.size - 1), np.diff(edges))
            segment = np.arange(n_frames) // frames
            n_seg = int(segment[-1]) + 1
            tile_of = (band[:, None] * n_seg + segment[None, :]).ravel()
            power = (space.magnitude.astype(np.float64) ** 2).ravel()
            shape = (edges.size - 1, n_seg)
        energy = np.bincount(tile_of, weights=power, minlength=shape[0] * shape[1])
        energy = (energy / max(float(energy.sum()), 1e-30)).reshape(shape)
        return cls(tile_of, energy)

    @property
    def shape(self) -> tuple[int, int]:
        return self.energy.shape

    def features(self, tiles: np.ndarray) -> np.ndarray:
        """Flat feature indices of the tiles in a boolean mask over the grid."""
        return np.flatnonzero(tiles.ravel()[self.tile_of])


@dataclass
class QuietResult:
    """What the search measured, and the least audible flip it found (``index`` is None when
    nothing flipped): the features changed, the gain, the label, the exact waveform."""

    drop_map: np.ndarray                 #: measured drop of the margin per feature (>= 0)
    queries: int
    index: np.ndarray | None = None
    gain: float = 0.0
    label: int = -1
    confidence: float = 0.0
    wave: np.ndarray | None = field(default=None, repr=False)


@dataclass(order=True)
class _Group:
    priority: float
    order: int
    box: tuple = field(compare=False)  # (r0, r1, c0, c1, l0, l1): grid box, loudness layers


def _cuts(n: int, parts: int, lo: int = 0) -> list[tuple[int, int]]:
    pts = np.unique(np.round(np.linspace(0, n, min(parts, n) + 1)).astype(int))
    return [(lo + int(a), lo + int(b)) for a, b in zip(pts[:-1], pts[1:])]


def _split(box: tuple) -> list[tuple]:
    """4 children: halves of the layers times halves of the longer grid side, else 2 x 2 on
    the grid, else 4 strips along the side longer than 1."""
    r0, r1, c0, c1, l0, l1 = box
    nr, nc = r1 - r0, c1 - c0
    if l1 - l0 >= 2 and max(nr, nc) >= 2:
        sides = ([(a, b, c0, c1) for a, b in _cuts(nr, 2, r0)] if nr >= nc
                 else [(r0, r1, a, b) for a, b in _cuts(nc, 2, c0)])
        return [(*s, a, b) for s in sides for a, b in _cuts(l1 - l0, 2, l0)]
    if l1 - l0 >= 2:
        return [(r0, r1, c0, c1, a, b) for a, b in _cuts(l1 - l0, 4, l0)]
    if nr >= 2 and nc >= 2:
        return [(a, b, c, d, l0, l1) for a, b in _cuts(nr, 2, r0) for c, d in _cuts(nc, 2, c0)]
    if nr >= 2:
        return [(a, b, c0, c1, l0, l1) for a, b in _cuts(nr, 4, r0)]
    if nc >= 2:
        return [(r0, r1, a, b, l0, l1) for a, b in _cuts(nc, 4, c0)]
    return []


def quiet_search(space, oracle: Oracle, decision: Decision, *, budget: float,
                 n_bands: int | None = None, levels: int = 8, frames: int = 8, layers: int = 4,
                 pool_db: float = 25.0, explore: float = 0.75, gains=BLACK_BOX_GAINS,
                 probes: tuple[float, ...] = PROBES, good_db: float = GOOD_DB,
                 clip_scores: np.ndarray | None = None, roots: tuple | None = None
                 ) -> QuietResult:
    """The label change that removes the least energy the search finds within ``budget``.

    ``space`` is a :class:`FrequencySpace` or a :class:`StftSpace`; ``clip_scores``, the
    scores of the whole clip when already known, saves a call. The budget is shared equally
    by the gains in ``probes`` (how the groups are changed to measure them): each measures a
    map of its own and flips from it, except that once a flip is ``good_db`` quiet, the next
    share refines that flip's map instead. The quietest flip wins, and its map is the
    result's ``drop_map``. The result has no flip when none was found within the budget.
    """
    start = oracle.queries
    n_bands = n_bands or (64 if space.ndim == 2 else 256)
    tiling = Tiling.of(space, n_bands, levels, frames)
    energy = tiling.energy
    sizes = np.bincount(tiling.tile_of, minlength=energy.size)
    pool = energy <= 10.0 ** (-pool_db / 10.0)
    # loudness layers: quantiles of tile energy over the faint pool (0: the quietest); the
    # loud tiles form one more layer, measured too, so that a loud cue is still found
    ranks = np.argsort(np.argsort(energy[pool], kind="stable"), kind="stable")
    layer = np.full(tiling.shape, layers, dtype=np.int64)
    layer[pool] = ranks * layers // max(1, ranks.size)
    n_layers = layers + int((~pool).any())
    if clip_scores is None:
        clip_scores = oracle.classify_one(space.wave)[2]
    base = float(decision.margin(clip_scores)[0])
    if oracle.left < 1:
        raise BudgetExhausted("no model call left for the quiet search")

    def spent() -> int:
        return oracle.queries - start

    def left() -> float:
        return min(budget - spent(), oracle.left)

    def group_mask(box) -> np.ndarray:
        r0, r1, c0, c1, l0, l1 = box
        m = np.zeros(tiling.shape, dtype=bool)
        sub = layer[r0:r1, c0:c1]
        m[r0:r1, c0:c1] = (sub >= l0) & (sub < l1)
        return m

    def wave(mask: np.ndarray, gain: float = 0.0) -> np.ndarray:
        return space.attenuate(tiling.features(mask), gain)

    rows, cols = tiling.shape
    share = budget / max(1, len(probes))
    roots = roots or ((4, 4, n_layers) if explore * share >= 320 else (2, 2, min(3, n_layers)))

    # 1. drop of the margin per unit of energy, best-first down the groups -------------------
    class Map:
        """One probe's map: each tile's score (drop per unit of energy of the finest group
        measured around it), its share of that drop, and that group's number; measured
        best-first, and resumable."""

        def __init__(self, probe: float):
            self.probe = probe
            self.score = np.full(tiling.shape, np.nan)
            self.drop_of = np.zeros(tiling.shape)
            self.group_of = np.full(tiling.shape, -1)
            self.counter = itertools.count()
            self.heap: list[_Group] = []
            todo = [(r0, r1, c0, c1, l0, l1) for r0, r1 in _cuts(rows, roots[0])
                    for c0, c1 in _cuts(cols, roots[1]) for l0, l1 in _cuts(n_layers, roots[2])]
            self.todo = [box for box in todo if group_mask(box).any()]

        def measure(self, until: float) -> "Map":
            """Measure groups until ``until`` queries of the search are spent."""
            while self.todo and until - spent() >= min(len(self.todo), oracle.batch_size) \
                    and left() >= min(len(self.todo), oracle.batch_size):
                batch = self.todo[:oracle.batch_size]
                self.todo = self.todo[oracle.batch_size:]
                masks = [group_mask(box) for box in batch]
                out = oracle.classify(np.stack([wave(m, self.probe) for m in masks]))
                drops = base - decision.margin(out.scores)
                for box, m, d in zip(batch, masks, drops):
                    e = max(float(energy[m].sum()), 1e-30)
                    self.score[m], self.drop_of[m] = float(d) / e, float(d) * energy[m] / e
                    self.group_of[m] = next(self.counter)
                    if d > 0 and _split(box):
                        heapq.heappush(self.heap, _Group(-float(d) / e, next(self.counter), box))
                while self.heap and len(self.todo) < oracle.batch_size:
                    self.todo.extend(c for c in _split(heapq.heappop(self.heap).box)
                                     if group_mask(c).any())
            return self

        def drop_map(self) -> np.ndarray:
            per_feature = np.maximum(self.drop_of.ravel(), 0.0) / np.maximum(sizes, 1)
            return per_feature[tiling.tile_of].reshape(space.shape)

    # 2. the shortest flipping prefix of the tiles by score, at each gain --------------------
    def flips(mask: np.ndarray, gain: float, until: float) -> bool:
        if left() < 2 or spent() >= until:  # one call kept for the last check
            raise BudgetExhausted("quiet search budget spent")
        return bool(decision.changed(oracle.classify_one(wave(mask, gain))[2])[0])

    def find_flip(map_: Map, until: float) -> tuple | None:
        """The quietest flip ``(cost, mask, gain)`` a map gives (None: none found); stops,
        keeping what it has, once ``until`` queries are spent."""
        probe, score, drop_of, group_of = map_.probe, map_.score, map_.drop_of, map_.group_of
        useful = score > 0
        flat = np.flatnonzero(useful.ravel())
        flat = flat[np.argsort(-score.ravel()[flat], kind="stable")]
        rest = np.flatnonzero(~useful.ravel())  # then the rest, quietest first
        flat = np.concatenate([flat, rest[np.argsort(energy.ravel()[rest], kind="stable")]])
        if flat.size == 0:
            return None
        cum = np.cumsum(energy.ravel()[flat])

        def mask_of(k: int) -> np.ndarray:
            m = np.zeros(energy.size, dtype=bool)
            m[flat[:k]] = True
            return m.reshape(tiling.shape)

        predicted = np.cumsum(drop_of.ravel()[flat])
        k = int(np.searchsorted(predicted, base)) + 1 if predicted[-1] >= base else flat.size
        found = None
        try:
            for gain in (probe, *(g for g in gains if g != probe)):
                # a gain pays only where its prefix removes less than the flip found so far
                hi = flat.size if found is None else int(
                    np.searchsorted(cum, found[0] / (1.0 - gain) ** 2))
                if hi < 1 or (found is not None and gain > found[2] and hi <= k):
                    continue  # (a gentler change of fewer tiles does not flip)
                kg = bracket(lambda j: flips(mask_of(j), gain, until), min(k, hi),
                              min(hi, flat.size))
                if kg is not None and (found is None or cum[kg - 1] * (1 - gain) ** 2 < found[0]):
                    found, k = (cum[kg - 1] * (1 - gain) ** 2, mask_of(kg), gain), kg
            if found is None:
                return None
            # backward elimination: put back the loudest groups the flip does not need
            _, mask, gain = found
            groups = np.unique(group_of[mask])
            for g in sorted(groups, key=lambda g: -energy[mask & (group_of == g)].sum()):
                trial = mask & (group_of != g)
                if trial.any() and flips(trial, gain, until):
                    mask = trial
                    found = (float(energy[mask].sum()) * (1 - gain) ** 2, mask, gain)
        except BudgetExhausted:
            pass
        return found

    # a search per probe, each with its share of the budget; the quietest flip wins. Once a
    # flip is at least ``good_db`` quiet, the rest of the budget refines its map instead
    best, best_map, map_ = None, None, None
    for i, probe in enumerate(probes):
        until = budget if i == len(probes) - 1 else spent() + share
        good = best is not None and best[0] <= 10.0 ** (-good_db / 10.0)
        map_ = map_ if good else Map(probe)
        found = find_flip(map_.measure(until - (1.0 - explore) * share), until)
        if best_map is None or (found is not None and (best is None or found[0] < best[0])):
            best, best_map = found or best, map_

    # 3. verified on the exact waveform ------------------------------------------------------
    drop_map = best_map.drop_map()
    if best is None:
        return QuietResult(drop_map, spent())
    _, mask, gain = best
    index = tiling.features(mask)
    final = space.attenuate(index, gain)
    label, conf, scores = oracle.classify_one(final)
    if not decision.changed(scores)[0]:
        return QuietResult(drop_map, spent())
    return QuietResult(drop_map, spent(), index=index, gain=float(gain), label=int(label),
                       confidence=float(conf), wave=final)

