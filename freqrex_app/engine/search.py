"""Responsibility over a feature space by recursive group testing (SPEC section 2).

Each node keeps a context C and splits one band B into up to 4 parts at random cuts. All
subsets of the parts (with C) are classified in one batch, every part gets its exact degree
of responsibility 1/(k+1), and the search descends into the smallest passing subset and/or
the parts that are counterfactual causes (``descend``). Nodes are expanded best-first
(highest responsibility, then deepest), so the map is useful whenever the budget runs out.
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

__all__ = ["SearchResult", "part_responsibility", "smallest_passing", "responsibility_search"]


@dataclass
class SearchResult:
    """The summed responsibility map and what it took to compute it."""

    responsibility: np.ndarray
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
    return np.array(degrees(witnesses(passes, n_parts)))


def degrees(wit: list[int | None]) -> list[float]:
    """Degree of responsibility 1/(|W|+1) of each part from its smallest witness W (0: none)."""
    return [1.0 / (bin(w).count("1") + 1) if w is not None else 0.0 for w in wit]


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


def smallest_passing(passes: np.ndarray, sizes: list[int], score: np.ndarray) -> int:
    """The proper subset that passes with the fewest features (ties: highest score); else full."""
    full = (1 << len(sizes)) - 1
    best, key = full, None
    for s in range(full):
        if not passes[s]:
            continue
        k = (sum(sz for i, sz in enumerate(sizes) if s >> i & 1), -score[s])
        if key is None or k < key:
            best, key = s, k
    return best


@dataclass(order=True)
class _Node:
    priority: tuple
    context: tuple = field(compare=False)
    band: tuple = field(compare=False)
    depth: int = field(compare=False)
    margin: float = field(default=0.0, compare=False)  # target margin of context + band
    parts: list | None = field(default=None, compare=False)  # drawn once, when first needed


@dataclass
class _Iteration:
    """One random partition tree: its own seed, best-first frontier and share of the budget."""

    rng: np.random.Generator
    heap: list
    share: float
    spent: int = 0
    nodes: int = 0
    cut: bool = False  # stopped by the budget with nodes left


def responsibility_search(space, oracle: Oracle, decision: Decision, *, seed: int = 0,
                          budget: float = math.inf, iterations: int = 4, min_width: int = 1,
                          max_nodes: int = 2000, extend: bool = False,
                          max_iterations: int = 64, descend: str = "sufficient",
                          parallel: int | None = None, root_margin: float = 0.0,
                          on_update: Callable[[np.ndarray], None] | None = None) -> SearchResult:
    """Sum responsibility over ``space`` for the ``decision`` (a part passes while it holds).

    ``budget`` bounds the queries of this search (the oracle bounds the whole explanation);
    each of the ``iterations`` may spend an equal share. With ``extend`` (and a finite budget)
    further iterations run while budget is left. ``parallel`` iterations (default: as many as
    fill one batch) run side by side, and the mutants of their best nodes share model calls.

    ``descend`` picks the parts refined at the next level: ``"sufficient"`` (SPEC: each part
    of the smallest passing subset, with the subset's other parts as context),
    ``"counterfactual"`` (each part with responsibility > 0, in the context of its smallest
    witness, where removing it changes the label), or ``"both"``.

    Beside the responsibility map, the search sums a graded *effect* map: how much removing
    each part lowers the margin of the target label (its score minus the best other score)
    in the node's context; ``root_margin`` is that margin for the whole clip. Where no part
    of a node is a counterfactual cause, the counterfactual descent goes on into the part
    whose removal lowers the margin most, so single bins with the largest effect are reached.

    ``on_update(responsibility)`` (optional) is called after each model call of the search
    (at most ``oracle.batch_size`` mutants) with a float32 copy of the map so far; it spends
    no query, and what it raises propagates.
    """
    if descend not in ("sufficient", "counterfactual", "both"):
        raise ValueError(f"descend must be 'sufficient', 'counterfactual' or 'both', not {descend!r}")
    resp = np.zeros(space.shape, dtype=np.float64)
    effect = np.zeros(space.shape, dtype=np.float64)
    start = oracle.queries
    counter = itertools.count()
    batch_cap = oracle.batch_size
    parallel = parallel or max(1, batch_cap // 15)
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
        while len(active) < parallel and may_start() and room() >= 15:
            active.append(_Iteration(np.random.default_rng([seed, started]),
                                     [_Node((-1.0, 0, next(counter)), (), space.root, 0, root_margin)],
                                     share))
            started += 1
        if not active:
            exhausted = exhausted or started < iterations
            break
        # Fill one batch: the best node of each iteration in turn; 2^p - 1 mutants per node.
        batch, waves, pending = [], [], {id(itx): 0 for itx in active}
        while len(waves) < batch_cap:
            added = False
            for itx in active:
                node = _next_node(itx, space, min_width)
                if node is None:
                    continue
                n_mut = (1 << len(node.parts)) - 1
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
                n_mut = (1 << len(node.parts)) - 1
                _expand(space, resp, effect, node, decision.holds(out.scores[at:at + n_mut]),
                        out.scores[at:at + n_mut], decision, descend, min_split, itx, counter,
                        stats)
                itx.spent += n_mut
                at += n_mut
            if on_update is not None:
                on_update(resp.astype(np.float32))
        for itx in list(active):
            if not itx.heap or itx.nodes >= max_nodes:
                exhausted |= itx.cut
                stats["done"] += 1
                active.remove(itx)
    return SearchResult(responsibility=resp.astype(np.float32), effect=effect.astype(np.float32),
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
    """Waves keeping the context plus each proper subset of the parts (linearity: sums)."""
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


def _expand(space, resp, effect, node: _Node, passes_proper: np.ndarray, scores: np.ndarray,
            decision: Decision, descend: str, min_split: int, itx: _Iteration, counter,
            stats: dict) -> None:
    """Add the parts' responsibility and effect to the maps; push the parts to refine next."""
    parts = node.parts
    full = (1 << len(parts)) - 1
    passes = np.append(passes_proper, True)  # the full set is the parent: it passes
    score = np.append(scores[:, decision.target], np.inf)
    margin = np.append(decision.margin(scores), node.margin)
    wit = witnesses(passes, len(parts))
    r = degrees(wit)
    drop = [node.margin - margin[full & ~(1 << i)] for i in range(len(parts))]
    for part, value, d in zip(parts, r, drop):
        if value > 0:
            space.add(resp, part, value)
        space.add(effect, part, d)
    sizes = [space.size(p) for p in parts]
    stats["finest"] = min(stats["finest"], *sizes)
    stats["nodes"] += 1
    stats["max_depth"] = max(stats["max_depth"], node.depth + 1)
    itx.nodes += 1
    children: dict[int, tuple[int, int]] = {}  # part -> (subset kept around it, its full set)
    if descend != "counterfactual":
        keep = smallest_passing(passes, sizes, score)
        for i in range(len(parts)):
            if keep >> i & 1:
                children[i] = (keep & ~(1 << i), keep)
    if descend != "sufficient":
        for i, w in enumerate(wit):
            if w is not None and i not in children:
                children[i] = (full & ~w & ~(1 << i), full & ~w)
        if all(w is None for w in wit):  # no counterfactual cause here: follow the largest effect
            i = int(np.argmax(drop))
            if drop[i] > 0 and i not in children:
                children[i] = (full & ~(1 << i), full)
    for i, (kept, whole) in children.items():
        if sizes[i] >= min_split:
            others = tuple(parts[j] for j in range(len(parts)) if kept >> j & 1)
            heapq.heappush(itx.heap, _Node((-r[i], -(node.depth + 1), next(counter)),
                                           node.context + others, parts[i], node.depth + 1,
                                           float(margin[whole])))
