"""The least audible flip (SPEC section 4): a black-box search that minimises removed energy.

"Minimal" means least audible: the cost of a change is the energy it removes, not the number
of features. The search works on *tiles* of features on the scale a model hears: mel-spaced
bands times short time segments of the STFT, or, for the rfft bins, mel-spaced bands times
loudness levels within each band (its quietest bins, the next quietest, ...). A tile louder
than ``pool_db`` below the clip cannot be part of a change quieter than that: such tiles
are measured together, as one more loudness layer, so that a loud cue is still found.

1. **Effect per unit of energy.** A *group* of tiles is a box on that grid within a range of
   loudness layers (quantiles of tile energy). Groups are removed from the clip, a batch per
   model call, and the drop of the label's margin (its score minus the best other score, or
   minus the foil's) is measured. Best-first, the groups with the largest drop per unit of
   removed energy are split into 4 and measured again, so the map gets finer where faint
   content matters. Each tile is scored by the finest group measured around it.
2. **The flip.** Tiles are removed in the order of that score; the shortest flipping prefix
   is bracketed around the one whose predicted drop (the sum of the measured drops) reaches
   the margin, and one attenuation gain in ``gains`` (0 is removal) is chosen where a longer
   prefix, attenuated, removes less energy and still flips.
3. **Anytime.** With a budget of ``ROUNDS_FROM`` queries or more, steps 1-2 run twice: a
   flip from the first half of the measurements, then one from the finer map of all of them;
   the quieter wins. A finer map can give a louder flip (the drops of many small groups do
   not add up exactly), so more budget never gives a louder result this way.
4. The result is classified on its own, on the exact waveform that is returned.

It uses ``predict`` only.
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

import numpy as np

from .decision import Decision
from .oracle import BudgetExhausted, Oracle

__all__ = ["QuietResult", "Tiling", "quiet_search", "mel_edges", "GAINS"]

#: Attenuation gains tried for the flip (0 is removal).
GAINS = (0.0, 0.4, 0.6, 0.8)
#: Shares of the budget for each round of measuring then flipping (the quietest flip wins),
#: for budgets of at least ``ROUNDS_FROM`` queries; smaller budgets measure once.
ROUNDS = (0.5, 0.5)
ROUNDS_FROM = 400


def mel_edges(n_bins: int, sample_rate: float, bin_hz: float, n_bands: int) -> np.ndarray:
    """Band edges in bins (first 0, last ``n_bins``), spaced on the mel scale; bands narrower
    than one bin merge."""
    top = 2595.0 * np.log10(1.0 + sample_rate / 2.0 / 700.0)
    hz = 700.0 * (10.0 ** (np.linspace(0.0, top, n_bands + 1) / 2595.0) - 1.0)
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
    def of(cls, space, n_bands: int, cols: int) -> "Tiling":
        """STFT: ``n_bands`` mel bands x segments of ``cols`` frames. rfft bins: ``n_bands``
        mel bands x ``cols`` loudness levels within each band."""
        if space.ndim == 1:
            edges = mel_edges(space.n_features, space.sample_rate,
                              space.sample_rate / space.n_samples, n_bands)
            band = np.repeat(np.arange(edges.size - 1), np.diff(edges))
            level = np.empty(space.n_features, dtype=np.int64)
            for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):  # rank within the band
                rank = np.argsort(np.argsort(space.magnitude[lo:hi], kind="stable"), kind="stable")
                level[lo:hi] = rank * cols // max(1, hi - lo)
            tile_of = band * cols + level
            power = space.power
            shape = (edges.size - 1, cols)
        else:
            n_freq, n_frames = space.shape
            edges = mel_edges(n_freq, space.sample_rate, space.sample_rate / space.n_fft, n_bands)
            band = np.repeat(np.arange(edges.size - 1), np.diff(edges))
            segment = np.arange(n_frames) // cols
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
                 n_bands: int | None = None, cols: int = 8, layers: int = 4,
                 pool_db: float = 25.0, explore: float = 0.75, gains=GAINS,
                 clip_scores: np.ndarray | None = None, roots: tuple | None = None,
                 rounds: tuple[float, ...] | None = None) -> QuietResult:
    """The label change that removes the least energy the search finds within ``budget``.

    ``space`` is a :class:`FrequencySpace` or a :class:`StftSpace`; ``clip_scores``, the
    scores of the whole clip when already known, saves a call. Returns None when no change of
    the faint tiles flips the decision within the budget.
    """
    start = oracle.queries
    n_bands = n_bands or (64 if space.ndim == 2 else 256)
    tiling = Tiling.of(space, n_bands, cols)
    energy = tiling.energy
    sizes = np.bincount(tiling.tile_of, minlength=energy.size)
    pool = energy <= 10.0 ** (-pool_db / 10.0)
    # loudness layers: quantiles of tile energy over the faint pool (0: the quietest); the
    # loud tiles form one more layer, measured too, so that a loud cue is still found
    ranks = np.argsort(np.argsort(energy[pool], kind="stable"), kind="stable")
    layer = np.full(tiling.shape, layers, dtype=np.int64)
    layer[pool] = ranks * layers // max(1, ranks.size)
    n_layers = layers + int((~pool).any())
    score = np.full(tiling.shape, np.nan)
    drop_of = np.zeros(tiling.shape)
    group_of = np.full(tiling.shape, -1)  # the finest group measured around each tile
    if clip_scores is None:
        clip_scores = oracle.classify_one(space.wave)[2]
    base = float(decision.margin(clip_scores)[0])

    def left() -> float:
        return min(budget - (oracle.queries - start), oracle.left)

    def group_mask(box) -> np.ndarray:
        r0, r1, c0, c1, l0, l1 = box
        m = np.zeros(tiling.shape, dtype=bool)
        sub = layer[r0:r1, c0:c1]
        m[r0:r1, c0:c1] = (sub >= l0) & (sub < l1)
        return m

    def wave(mask: np.ndarray, gain: float = 0.0) -> np.ndarray:
        return space.attenuate(tiling.features(mask), gain)

    def result(**found) -> QuietResult:
        per_feature = np.maximum(drop_of.ravel(), 0.0) / np.maximum(sizes, 1)
        return QuietResult(per_feature[tiling.tile_of].reshape(space.shape),
                           oracle.queries - start, **found)

    # 1. drop of the margin per unit of energy, best-first down the groups -------------------
    rows, cols_ = tiling.shape
    roots = roots or ((4, 4, n_layers) if explore * budget >= 320 else (2, 2, min(3, n_layers)))
    todo = [(r0, r1, c0, c1, l0, l1) for r0, r1 in _cuts(rows, roots[0])
            for c0, c1 in _cuts(cols_, roots[1]) for l0, l1 in _cuts(n_layers, roots[2])]
    todo = [box for box in todo if group_mask(box).any()]
    if oracle.left < 1:
        raise BudgetExhausted("no model call left for the quiet search")
    heap: list[_Group] = []
    counter = itertools.count()

    def measure(until: float) -> None:
        """Measure groups, best-first, until ``until`` queries of the search are spent."""
        nonlocal todo
        while todo and until - (oracle.queries - start) >= min(len(todo), oracle.batch_size) \
                and left() >= min(len(todo), oracle.batch_size):
            batch, todo = todo[:oracle.batch_size], todo[oracle.batch_size:]
            masks = [group_mask(box) for box in batch]
            out = oracle.classify(np.stack([wave(m) for m in masks]))
            drops = base - decision.margin(out.scores)
            for box, m, d in zip(batch, masks, drops):
                e = max(float(energy[m].sum()), 1e-30)
                score[m], drop_of[m] = float(d) / e, float(d) * energy[m] / e
                group_of[m] = next(counter)
                if d > 0 and _split(box):
                    heapq.heappush(heap, _Group(-float(d) / e, next(counter), box))
            while heap and len(todo) < oracle.batch_size:
                todo.extend(c for c in _split(heapq.heappop(heap).box) if group_mask(c).any())

    # 2. the shortest flipping prefix of the tiles by score, then the gain -------------------
    def flips(mask: np.ndarray, gain: float, until: float) -> bool:
        if left() < 2 or oracle.queries - start >= until:  # one call kept for the last check
            raise BudgetExhausted("quiet search budget spent")
        return bool(decision.changed(oracle.classify_one(wave(mask, gain))[2])[0])

    def find_flip(until: float, best: tuple | None) -> tuple | None:
        """The quietest flip ``(cost, mask, gain)`` the current map gives, or ``best`` when it
        is quieter; stops (keeping what it has) once ``until`` queries are spent."""
        useful = score > 0
        flat = np.flatnonzero(useful.ravel())
        flat = flat[np.argsort(-score.ravel()[flat], kind="stable")]
        rest = np.flatnonzero(~useful.ravel())  # then the rest, quietest first
        flat = np.concatenate([flat, rest[np.argsort(energy.ravel()[rest], kind="stable")]])
        if flat.size == 0:
            return best
        cum = np.cumsum(energy.ravel()[flat])

        def mask_of(k: int) -> np.ndarray:
            m = np.zeros(energy.size, dtype=bool)
            m[flat[:k]] = True
            return m.reshape(tiling.shape)

        def test(k: int, gain: float) -> bool:
            return flips(mask_of(k), gain, until)

        predicted = np.cumsum(drop_of.ravel()[flat])
        guess = int(np.searchsorted(predicted, base)) + 1 if predicted[-1] >= base else flat.size
        found = None
        try:
            k = _bracket(lambda k: test(k, 0.0), min(guess, flat.size), flat.size)
            if k is None:
                return best
            found = (cum[k - 1], mask_of(k), 0.0)
            for gain in gains:
                limit = int(np.searchsorted(cum, cum[k - 1] / (1.0 - gain) ** 2))
                if gain <= 0.0 or limit <= k:
                    continue  # a gain pays only if a longer prefix, attenuated, removes less
                kg = _bracket(lambda j: test(j, gain), k, min(limit, flat.size))
                if kg is not None and cum[kg - 1] * (1 - gain) ** 2 < found[0]:
                    found = (cum[kg - 1] * (1 - gain) ** 2, mask_of(kg), gain)
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
        if found is not None and (best is None or found[0] < best[0]):
            return found
        return best

    # anytime: a flip from the first map, then a finer map and a flip from it; the quieter wins
    best = None
    rounds = rounds or (ROUNDS if budget >= ROUNDS_FROM else (1.0,))
    for i, share in enumerate(rounds):
        last = i == len(rounds) - 1
        flip_share = share * (1.0 - explore) * budget
        measure(budget - flip_share if last else oracle.queries - start + share * explore * budget)
        best = find_flip(budget if last else oracle.queries - start + flip_share, best)
    if best is None:
        return result()

    # 3. verified on the exact waveform ------------------------------------------------------
    _, mask, gain = best
    index = tiling.features(mask)
    final = space.attenuate(index, gain)
    label, conf, scores = oracle.classify_one(final)
    if not decision.changed(scores)[0]:
        return result()
    return result(index=index, gain=float(gain), label=int(label), confidence=float(conf),
                  wave=final)


def _bracket(test, guess: int, hi: int, rel: float = 0.03) -> int | None:
    """A short prefix ``k <= hi`` with ``test(k)``: from ``guess``, gallop down (halving)
    while it passes or up (doubling) until it does, then bisect to within ``rel`` of ``k``.
    None when ``test(hi)`` fails. Assumes the test is monotone in ``k``."""
    guess = max(1, min(guess, hi))
    if test(guess):
        ok, fail = guess, 0
        while ok > 1:
            k = ok // 2
            if not test(k):
                fail = k
                break
            ok = k
    else:
        fail, k = guess, guess
        while True:
            if k >= hi:
                return None
            k = min(hi, 2 * k)
            if test(k):
                ok = k
                break
            fail = k
    while ok - fail > max(1, int(rel * ok)):
        mid = (ok + fail) // 2
        if test(mid):
            ok = mid
        else:
            fail = mid
    return ok
