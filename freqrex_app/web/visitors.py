"""Who a visitor is, and what each visitor may spend. No Gradio.

A visitor is the client's address: the peer of the connection, or, where that peer is a proxy
the operator trusts (``FREQREX_TRUSTED_PROXIES``: addresses, networks, or ``*`` for every peer,
as on Hugging Face Spaces where only the platform's proxy reaches the app), the first hop of
its ``X-Forwarded-For`` header. A client's own session hash or headers never make it a new
visitor.
"""
from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict, deque
from typing import Iterable, Mapping

__all__ = ["visitor_of", "is_trusted", "Allowance"]


def is_trusted(peer: str | None, trusted: Iterable[str]) -> bool:
    """Whether ``peer`` is one of the ``trusted`` proxies (an address, a network, or ``*``)."""
    if not peer:
        return False
    try:
        ip = ipaddress.ip_address(peer)
    except ValueError:
        ip = None
    for item in trusted:
        if item == "*" or item == peer:
            return True
        if ip is not None and "/" in item:
            try:
                if ip in ipaddress.ip_network(item, strict=False):
                    return True
            except ValueError:
                continue
    return False


def visitor_of(peer: str | None, headers: Mapping[str, str] | None,
               trusted: Iterable[str] = ()) -> str:
    """The visitor's address: ``peer``, or the first ``X-Forwarded-For`` hop when ``peer`` is a
    trusted proxy (and that hop is an address)."""
    peer = peer or "unknown"
    if headers is not None and is_trusted(peer, trusted):
        forwarded = headers.get("x-forwarded-for") or ""
        first = forwarded.split(",")[0].strip()
        try:
            return str(ipaddress.ip_address(first))
        except ValueError:
            pass
    return peer


class Allowance:
    """What each visitor spent in the last ``window_s`` seconds, against ``per_window``.

    :meth:`spend` records an amount when it fits and says how long to wait when it does not.
    Visitors are kept in a bounded table (the least recent forgotten first)."""

    def __init__(self, per_window: float, window_s: float, max_visitors: int = 10_000):
        self.per_window = float(per_window)
        self.window_s = float(window_s)
        self.max_visitors = int(max_visitors)
        self._spent: OrderedDict[str, deque[tuple[float, float]]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, visitor: str, now: float) -> deque[tuple[float, float]]:
        q = self._spent.setdefault(visitor, deque())
        self._spent.move_to_end(visitor)
        while q and now - q[0][0] > self.window_s:
            q.popleft()
        while len(self._spent) > self.max_visitors:
            self._spent.popitem(last=False)
        return q

    def spent(self, visitor: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            return sum(a for _, a in self._recent(visitor, now))

    def spend(self, visitor: str, amount: float, now: float | None = None) -> float | None:
        """Record ``amount`` for ``visitor`` (None) or, when it would pass the allowance, the
        seconds until it fits (nothing recorded)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._recent(visitor, now)
            total = sum(a for _, a in q)
            if total + amount <= self.per_window:
                q.append((now, float(amount)))
                return None
            # the oldest spends leave the window first
            need, wait = total + amount - self.per_window, self.window_s
            for t, a in q:
                need -= a
                if need <= 0:
                    wait = t + self.window_s - now
                    break
            return max(1.0, wait)
