"""Responsibility over a feature space by recursive group testing (SPEC section 2).

Each node keeps a context C and splits one band B into up to 4 parts at random cuts. All
subsets of the parts (with C) are classified in one batch and every part gets its exact
degree of responsibility at that split. Every part with non-zero responsibility is refined
in turn, in the context of its smallest witness W (the other parts removed, so that removing
it changes the decision), and the witnesses removed on the way down add up: a part reached
after removing k parts in all has responsibility 1/(k+1). The map holds, for each feature,
the responsibility of the finest part it was measured in (not a sum over levels). Nodes are
expanded best-first (highest responsibility, then deepest), so the map is useful whenever the
budget runs out.
"""
from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .decision import Decision
from .oracle import BudgetExhausted, Oracle

__all__ = ["SearchResult", "part_responsibility", "responsibility_search"]


@dataclass
class SearchResult:
    """The responsibility map and what it took to compute it.

    ``responsibility[f]`` is the degree of responsibility of the finest part feature ``f`` was
    measured in, a *settled* measurement first: a part with responsibility 0, or too narrow
    to split, is settled; a cause that the budget left unrefined is not (a mean over the
    iterations that measured it alike). ``width[f]`` is that part's size in features
    (``n_features + 1``: never measured) and ``settled[f]`` says which kind it was.
    ``effect`` sums the margin drops of removing each part in its node's context (a
    tie-break).
    """

    responsibility: np.ndarray
    width: np.ndarray
    settled: np.ndarray
    effect: np.ndarray
    queries: int
    nodes: int
    iterations: int
    max_depth: int
    budget_exhausted: bool
    finest_width: int
    notes: list[str] = field(default_factory=list)


def part_responsibility(passes: np.ndarray, n_parts: int) -> np.ndarray:
    """Exact responsibility of each part given ``passes[s]`` for every subset bitmask ``s``.

    r_i = max over W (subset of the other parts) of 1/(|W|+1) such that keeping all parts but
    W passes and keeping all parts but W and i does not; 0 when no W does.
    """
    return np.array([1.0 / (bin(w).count("1") + 1) if w is not None else 0.0
                     for w in witnesses(passes, n_parts)])


def witnesses(passes: np.ndarray, n_parts: int) -> list[int | None]:
    """For each part, the smallest W (bitmask) that makes it a counterfactual cause, or None."""
    full = (1 << n_parts) - 1
    out: list[int | None] = []
    for i in range(n_parts):
        others = full & ~(1 << i)
        best = None
        w = others
        while True:  # every subset W of others, including the empty one
            kept = full & ~w
            if passes[kept] and not passes[kept & ~(1 << i)]:
                if best is None or bin(w).count("1") < bin(best).count("1"):
                    best = w
            if w == 0:
                break
            w = (w - 1) & others
        out.append(best)
    return out


@dataclass(order=True)
class _Node:
    priority: tuple
    context: tuple = field(compare=False)
    band: tuple = field(compare=False)
    depth: int = field(compare=False)
    removed: int = field(default=0, compare=False)  # parts removed on the way down (k so far)
    margin: float = field(default=0.0, compare=False)  # target margin of context + band
    parts: list | None = field(default=None, compare=False)  # drawn once, when first needed
    check: bool = False  # a context check: ``parts`` are context parts, each removed alone

    @property
    def cost(self) -> int:
        """Mutants of this node: each context part removed alone, or each proper subset."""
        return len(self.parts) if self.check else (1 << len(self.parts)) - 1


@dataclass
class _Iteration:
    """One random partition tree: its own seed, best-first frontier and share of the budget."""

    rng: np.random.Generator
    heap: list
    share: float
    spent: int = 0
    nodes: int = 0
    cut: bool = False  # stopped by the budget with nodes left
    checked: set = field(default_factory=set)  # contexts already checked


def responsibility_search(space, oracle: Oracle, decision: Decision, *, seed: int = 0,
                          budget: float = math.inf, iterations: int = 4, min_width: int = 1,
                          max_nodes: int = 2000, extend: bool = False,
                          max_iterations: int = 64,
                          parallel: int | None = None, root_margin: float = 0.0,
                          on_update: Callable[[np.ndarray], None] | None = None) -> SearchResult:
    """Sum responsibility over ``space`` for the ``decision`` (a part passes while it holds).

    ``budget`` bounds the queries of this search (the oracle bounds the whole explanation);
    each of the ``iterations`` may spend an equal share. With ``extend`` (and a finite budget)
    further iterations run while budget is left. ``parallel`` iterations (default: as many as
    fill one batch) run side by side, and the mutants of their best nodes share model calls.

    Every part with responsibility > 0 is refined, in the context of its smallest witness W
    (where removing it changes the decision); a part reached after removing k parts in all,
    on every level down to it, has responsibility 1/(k+1).

    Beside the responsibility map, the search sums a graded *effect* map: how much removing
    each part lowers the margin of the target label (its score minus the best other score)
    in the node's context; ``root_margin`` is that margin for the whole clip. Where no part
    of a node is a cause (only possible where keeping the context alone keeps the decision,
    as at a root whose empty mutant does), the search goes on into the part whose removal
    lowers the margin most, so single bins with the largest effect are reached.

    ``on_update(responsibility)`` (optional) is called after each model call of the search
    (at most ``oracle.batch_size`` mutants) with a float32 copy of the map so far; it spends
    no query, and what it raises propagates.
    """
    resp = np.zeros(space.shape, dtype=np.float64)
    unsettled = space.n_features + 1  # added to the width of an unsettled measurement
    order = np.full(space.shape, 2 * unsettled, dtype=np.int64)  # settled first, then finer
    count = np.zeros(space.shape, dtype=np.int32)
    effect = np.zeros(space.shape, dtype=np.float64)
    start = oracle.queries
    counter = itertools.count()
    batch_cap = oracle.batch_size
    parallel = min(parallel or max(1, batch_cap // 15), max(1, iterations))
    min_split = 2 * min_width if space.ndim == 1 else 2  # smallest band that can still be split
    share = budget / max(1, iterations)
    stats = {"nodes": 0, "max_depth": 0, "finest": space.n_features, "done": 0}
    active: list[_Iteration] = []
    started, exhausted = 0, False

    def room() -> float:
        return min(budget - (oracle.queries - start), oracle.left)

    def may_start() -> bool:
        if started >= max_iterations:
            return False
        return started < iterations or (extend and math.isfinite(budget))

    while True:
        while len(active) < parallel and may_start() and room() >= 3:  # a root: 3 mutants
            active.append(_Iteration(np.random.default_rng([seed, started]),
                                     [_Node((-1.0, 0, next(counter)), (), space.root, 0, margin=root_margin)],
                                     share))
            started += 1
        if not active:
            exhausted = exhausted or started < iterations
            break
        # Fill one batch: the best node of each iteration in turn.
        batch, waves, pending = [], [], {id(itx): 0 for itx in active}
        while len(waves) < batch_cap:
            added = False
            for itx in active:
                node = _next_node(itx, space, min_width)
                if node is None:
                    continue
                n_mut = node.cost
                if waves and len(waves) + n_mut > batch_cap:
                    continue
                if itx.spent + pending[id(itx)] + n_mut > itx.share or len(waves) + n_mut > room():
                    if pending[id(itx)] == 0:  # its share (or the whole budget) is spent
                        itx.cut, itx.heap = True, []
                    continue
                heapq.heappop(itx.heap)
                waves.extend(_mutants(space, node))
                pending[id(itx)] += n_mut
                batch.append((itx, node))
                added = True
            if not added:
                break
        if batch:
            try:
                out = oracle.classify(np.stack(waves))
            except BudgetExhausted:
                exhausted = True
                break
            at = 0
            for itx, node in batch:
                n_mut = node.cost
                _expand(space, (resp, order, count), effect, node,
                        decision.holds(out.scores[at:at + n_mut]), out.scores[at:at + n_mut],
                        decision, min_split, itx, counter, stats)
                itx.spent += n_mut
                at += n_mut
            if on_update is not None:
                on_update(resp.astype(np.float32))
        for itx in list(active):
            if not itx.heap or itx.nodes >= max_nodes:
                exhausted |= itx.cut
                stats["done"] += 1
                active.remove(itx)
    settled = order < unsettled
    return SearchResult(responsibility=resp.astype(np.float32),
                        width=np.where(settled, order, order - unsettled), settled=settled,
                        effect=effect.astype(np.float32),
                        queries=oracle.queries - start,
                        nodes=stats["nodes"], iterations=stats["done"],
                        max_depth=stats["max_depth"], budget_exhausted=exhausted,
                        finest_width=int(stats["finest"]))


def _next_node(itx: _Iteration, space, min_width: int) -> _Node | None:
    """The iteration's best node that can be split (unsplittable ones are dropped)."""
    while itx.heap:
        node = itx.heap[0]
        if node.parts is None:
            node.parts = space.split(node.band, itx.rng, min_width)
        if node.parts:
            return node
        heapq.heappop(itx.heap)
    return None


def _mutants(space, node: _Node) -> list[np.ndarray]:
    """Waves keeping the context plus each proper subset of the parts (linearity: sums); for
    a context check, the context and the band less each context part in turn."""
    if node.check:
        whole = space.regions_wave([*node.context, node.band])
        return [whole - space.regions_wave([p]) for p in node.parts]
    base = space.regions_wave(node.context) if node.context else space.empty_wave()
    part_waves = [space.regions_wave([p]) for p in node.parts]
    out = []
    for s in range((1 << len(node.parts)) - 1):
        w = base.copy()
        for i, pw in enumerate(part_waves):
            if s >> i & 1:
                w += pw
        out.append(w)
    return out


def _slices(region: tuple) -> tuple[slice, ...]:
    """Index of a region: ``(lo, hi)`` bins or ``(f0, f1, t0, t1)`` cells."""
    return tuple(slice(region[j], region[j + 1]) for j in range(0, len(region), 2))


def _record(maps: tuple, region: tuple, key: int, value: float) -> None:
    """Write ``value`` over ``region`` where the measurement there has a larger ``key``
    (unsettled, or as settled but wider); average where the key is the same."""
    resp, order, count = (m[_slices(region)] for m in maps)  # views
    finer, same = key < order, key == order
    resp[finer], order[finer], count[finer] = value, key, 1
    resp[same] = (resp[same] * count[same] + value) / (count[same] + 1)
    count[same] += 1


def _expand_check(space, maps: tuple, effect, node: _Node, passes: np.ndarray,
                  scores: np.ndarray, decision: Decision, min_split: int, itx: _Iteration,
                  counter, stats: dict) -> None:
    """A context part whose removal alone changes the decision, where the node's witnesses are
    removed, is a cause too (k as the node's): refine it, the rest of the context and the
    band kept. This finds the cause that an earlier cut kept in the context (A in (A and B)
    or C, once C is removed to make B a cause)."""
    stats["nodes"] += 1
    itx.nodes += 1
    margin = decision.margin(scores)
    value = 1.0 / (node.removed + 1)
    for part, held, m in zip(node.parts, passes, margin):
        space.add(effect, part, node.margin - m)
        if held:
            continue
        size = space.size(part)
        _record(maps, part, size if size < min_split else size + space.n_features + 1, value)
        if size >= min_split:
            rest = tuple(p for p in node.context if p != part) + (node.band,)
            heapq.heappush(itx.heap, _Node((-value, -(node.depth + 1), next(counter)), rest,
                                           part, node.depth + 1, node.removed, node.margin))


def _expand(space, maps: tuple, effect, node: _Node, passes_proper: np.ndarray,
            scores: np.ndarray, decision: Decision, min_split: int, itx: _Iteration, counter,
            stats: dict) -> None:
    """Record the parts' responsibility and effect; push every part that is a cause."""
    if node.check:
        return _expand_check(space, maps, effect, node, passes_proper, scores, decision,
                             min_split, itx, counter, stats)
    parts = node.parts
    full = (1 << len(parts)) - 1
    passes = np.append(passes_proper, True)  # the full set is the parent: it passes
    margin = np.append(decision.margin(scores), node.margin)
    wit = witnesses(passes, len(parts))
    removed = [node.removed + bin(w).count("1") if w is not None else None for w in wit]
    r = [1.0 / (k + 1) if k is not None else 0.0 for k in removed]
    drop = [node.margin - margin[full & ~(1 << i)] for i in range(len(parts))]
    sizes = [space.size(p) for p in parts]
    unsettled = space.n_features + 1
    for part, size, value, d in zip(parts, sizes, r, drop):
        settled = value == 0 or size < min_split  # else it is refined, budget permitting
        _record(maps, part, size if settled else size + unsettled, value)
        space.add(effect, part, d)
    stats["finest"] = min(stats["finest"], *sizes)
    stats["nodes"] += 1
    stats["max_depth"] = max(stats["max_depth"], node.depth + 1)
    itx.nodes += 1
    children: dict[int, tuple[int, int]] = {}  # part -> (subset kept around it, its full set)
    for i, w in enumerate(wit):
        if w is not None:
            children[i] = (full & ~w & ~(1 << i), full & ~w)
    if not children:  # no cause here: follow the largest effect
        i = int(np.argmax(drop))
        if drop[i] > 0:
            children[i] = (full & ~(1 << i), full)
    leaf = max((r[i] for i in children if sizes[i] < min_split), default=0.0)
    if leaf > 0 and node.context and node.context not in itx.checked:
        # a cause at full resolution: is a part of its context one too?
        itx.checked.add(node.context)
        heapq.heappush(itx.heap, _Node((-leaf, -(node.depth + 1), next(counter)), node.context,
                                       node.band, node.depth + 1, node.removed, node.margin,
                                       parts=list(node.context), check=True))
    for i, (kept, whole) in children.items():
        if sizes[i] >= min_split:
            others = tuple(parts[j] for j in range(len(parts)) if kept >> j & 1)
            heapq.heappush(itx.heap, _Node((-r[i], -(node.depth + 1), next(counter)),
                                           node.context + others, parts[i], node.depth + 1,
                                           removed[i] if removed[i] is not None else node.removed,
                                           float(margin[whole])))
