"""Shortest prefix of a ranking that satisfies a test: galloping, then bisection, from the
start (:func:`shortest_prefix`) or from a guess, to a relative precision (:func:`bracket`)."""
from __future__ import annotations

from typing import Callable

__all__ = ["shortest_prefix", "bracket"]


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
    return _bisect(t, fail, k)


def bracket(test, guess: int, hi: int, rel: float = 0.03) -> int | None:
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
    return _bisect(test, fail, ok, rel)


def _bisect(test: Callable[[int], bool], fail: int, ok: int, rel: float = 0.0) -> int:
    """Bisect between a failing ``fail`` and a passing ``ok`` until they are at most
    ``rel * ok`` apart (at least 1: ``rel=0`` is exact); the passing end."""
    while ok - fail > max(1, int(rel * ok)):
        mid = (ok + fail) // 2
        if test(mid):
            ok = mid
        else:
            fail = mid
    return ok
