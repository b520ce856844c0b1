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
    full = (1 << n_parts) - 1
    resp = np.zeros(n_parts)
    for i in range(n_parts):
        others = full & ~(1 << i)
        w = others
        while True:  # every subset W of others, including the empty one
            kept = full & ~w
            if passes[kept] and not passes[kept & ~(1 << i)]:
                resp[i] = max(resp[i], 1.0 / (bin(w).count("1") + 1))
            if w == 0:
                break
            w = (w - 1) & others
    return resp


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
                          max_nodes: int = 2000) -> SearchResult:
    """Sum responsibility over ``space`` for the classification ``target``.

    ``budget`` bounds the queries of this search (the oracle bounds the whole explanation);
    each of the ``iterations`` gets an equal share, and what one leaves passes to the next.
    """
    resp = np.zeros(space.shape, dtype=np.float64)
    start = oracle.queries
    nodes = max_depth = done_iterations = 0
    finest = space.n_features
    exhausted = False
    counter = itertools.count()
    seeds = np.random.SeedSequence(seed).spawn(iterations)
    batch_cap = oracle.batch_size
    min_split = 2 * min_width if space.ndim == 1 else 2  # smallest band that can still be split

    for it in range(iterations):
        spent = oracle.queries - start
        share = (budget - spent) / (iterations - it)
        if share < 3 or oracle.left < 3:
            exhausted = True
            break
        rng = np.random.default_rng(seeds[it])
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
                if it < iterations - 1:
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
                r = part_responsibility(passes, len(parts))
                for part, value in zip(parts, r):
                    if value > 0:
                        space.add(resp, part, value)
                sizes = [space.size(p) for p in parts]
                finest = min(finest, *sizes)
                nodes += 1
                max_depth = max(max_depth, node.depth + 1)
                keep = smallest_passing(passes, sizes, score)
                chosen = [i for i in range(len(parts)) if keep >> i & 1]
                for i in chosen:
                    if sizes[i] < min_split:
                        continue
                    context = node.context + tuple(parts[j] for j in chosen if j != i)
                    heapq.heappush(heap, _Node((-r[i], -(node.depth + 1), next(counter)),
                                               context, parts[i], node.depth + 1))
        done_iterations += 1
    return SearchResult(responsibility=resp.astype(np.float32), queries=oracle.queries - start,
                        nodes=nodes, iterations=done_iterations, max_depth=max_depth,
                        budget_exhausted=exhausted, finest_width=int(finest))
