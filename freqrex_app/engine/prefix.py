"""Shortest prefix of a ranking that satisfies a test: galloping, then bisection."""
from __future__ import annotations

from typing import Callable

__all__ = ["shortest_prefix"]


def shortest_prefix(test: Callable[[int], bool], lo: int, hi: int) -> int | None:
    """Smallest ``k`` in ``[lo, hi]`` with ``test(k)``, assuming the test is monotone in ``k``.

    Gallops ``lo, lo+1, lo+3, lo+7, ...`` (steps 1, 2, 4, ...) until the test passes, then
    bisects between the last failure and the first pass. Returns None when ``test(hi)`` fails.
    Each value is tested at most once.
    """
    if lo > hi:
        return None
    seen: dict[int, bool] = {}

    def t(k: int) -> bool:
        if k not in seen:
            seen[k] = bool(test(k))
        return seen[k]

    fail, step, k = lo - 1, 1, lo
    while not t(k):
        fail = k
        if k >= hi:
            return None
        k = min(hi, k + step)
        step *= 2
    ok = k
    while ok - fail > 1:
        mid = (ok + fail) // 2
        if t(mid):
            ok = mid
        else:
            fail = mid
    return ok
