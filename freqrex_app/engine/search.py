"""Responsibility over a feature space by recursive group testing (SPEC section 2).

Each node keeps a context C and splits one band B into up to 4 parts at random cuts. All
subsets of the parts (with C) are classified in one batch, every part gets its exact degree
of responsibility 1/(k+1), and the search descends into the smallest passing subset. Nodes
are expanded best-first (highest responsibility, then deepest), so the map is useful
whenever the budget runs out.
"""
from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from .oracle import BudgetExhausted, Oracle

__all__ = ["SearchResult", "part_responsibility", "smallest_passing", "responsibility_search"]


@dataclass
class SearchResult:
    """The summed responsibility map and what it took to compute it."""

    responsibility: np.ndarray
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


def responsibility_search(space, oracle: Oracle, target: int, *, seed: int = 0,
                          budget: float = math.inf, iterations: int = 4, min_width: int = 1,
                          max_nodes: int = 2000, extend: bool = False,
                          max_iterations: int = 64, descend: str = "sufficient") -> SearchResult:
    """Sum responsibility over ``space`` for the classification ``target``.

    ``budget`` bounds the queries of this search (the oracle bounds the whole explanation);
    each of the ``iterations`` gets an equal share, and what one leaves passes to the next.
    With ``extend`` (and a finite budget), further iterations run while budget is left.

    ``descend`` picks the parts refined at the next level: ``"sufficient"`` (SPEC: each part
    of the smallest passing subset, with the subset's other parts as context),
    ``"counterfactual"`` (each part with responsibility > 0, in the context of its smallest
    witness, where removing it changes the label), or ``"both"``.
    """
    if descend not in ("sufficient", "counterfactual", "both"):
        raise ValueError(f"descend must be 'sufficient', 'counterfactual' or 'both', not {descend!r}")
    resp = np.zeros(space.shape, dtype=np.float64)
    start = oracle.queries
    nodes = max_depth = done_iterations = 0
    finest = space.n_features
    exhausted = False
    counter = itertools.count()
    batch_cap = oracle.batch_size
    min_split = 2 * min_width if space.ndim == 1 else 2  # smallest band that can still be split

    it = 0
    while it < iterations or (extend and math.isfinite(budget) and it < max_iterations):
        spent = oracle.queries - start
        last = it >= iterations - 1
        share = (budget - spent) / (1 if last else iterations - it)
        if share < 15 or oracle.left < 15:  # not even one node of 4 parts
            exhausted = exhausted or it < iterations
            break
        rng = np.random.default_rng([seed, it])
        it_start, it_nodes = oracle.queries, 0
        heap = [_Node((-1.0, 0, next(counter)), (), space.root, 0)]
        while heap and it_nodes < max_nodes:
            # Take nodes best-first until the batch is full; each brings 2^p - 1 mutants.
            batch, waves = [], []
            while heap and len(waves) < batch_cap and it_nodes < max_nodes:
                node = heap[0]
                parts = space.split(node.band, rng, min_width)
                n_mut = (1 << len(parts)) - 1 if parts else 0
                room = min(budget - (oracle.queries - start), oracle.left)
                if not last:
                    room = min(room, share - (oracle.queries - it_start))
                if n_mut + len(waves) > room:
                    if not waves:  # this iteration's share (or the whole budget) is spent
                        exhausted = True
                        heap.clear()
                    break
                heapq.heappop(heap)
                if not parts:
                    continue
                base = space.regions_wave(node.context) if node.context else space.empty_wave()
                part_waves = [space.regions_wave([p]) for p in parts]
                for s in range((1 << len(parts)) - 1):
                    w = base.copy()
                    for i, pw in enumerate(part_waves):
                        if s >> i & 1:
                            w += pw
                    waves.append(w)
                batch.append((node, parts))
                it_nodes += 1
            if not batch:
                break
            try:
                out = oracle.classify(np.stack(waves))
            except BudgetExhausted:
                exhausted = True
                heap.clear()
                break
            at = 0
            for node, parts in batch:
                n_mut = (1 << len(parts)) - 1
                passes = np.append(out.passes(target)[at:at + n_mut], True)  # full = parent: passes
                score = np.append(out.scores[at:at + n_mut, target], np.inf)
                at += n_mut
                wit = witnesses(passes, len(parts))
                r = [1.0 / (bin(w).count("1") + 1) if w is not None else 0.0 for w in wit]
                for part, value in zip(parts, r):
                    if value > 0:
                        space.add(resp, part, value)
                sizes = [space.size(p) for p in parts]
                finest = min(finest, *sizes)
                nodes += 1
                max_depth = max(max_depth, node.depth + 1)
                children: dict[int, tuple] = {}
                if descend != "counterfactual":
                    keep = smallest_passing(passes, sizes, score)
                    chosen = [i for i in range(len(parts)) if keep >> i & 1]
                    for i in chosen:
                        children[i] = tuple(parts[j] for j in chosen if j != i)
                if descend != "sufficient":
                    full = (1 << len(parts)) - 1
                    for i, w in enumerate(wit):
                        if w is not None and i not in children:
                            kept = full & ~w & ~(1 << i)
                            children[i] = tuple(parts[j] for j in range(len(parts)) if kept >> j & 1)
                for i, others in children.items():
                    if sizes[i] < min_split:
                        continue
                    heapq.heappush(heap, _Node((-r[i], -(node.depth + 1), next(counter)),
                                               node.context + others, parts[i], node.depth + 1))
        done_iterations += 1
        it += 1
    return SearchResult(responsibility=resp.astype(np.float32), queries=oracle.queries - start,
                        nodes=nodes, iterations=done_iterations, max_depth=max_depth,
                        budget_exhausted=exhausted, finest_width=int(finest))
