"""The app's one in-memory cache: a bounded mapping that forgets the least recently used entry,
safe to share between the server's threads (loaded models, finished jobs, decoded sources)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

__all__ = ["BoundedLRU"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedLRU(Generic[K, V]):
    """At most ``size`` entries; reading or writing one makes it the most recent."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"a cache holds at least one entry, got size={size}")
        self.size = int(size)
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The entry of ``key`` (None when it is not kept)."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._put(key, value)

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The entry of ``key``, made by ``make()`` when it is not kept. ``make`` runs under
        the cache's lock, so that two threads never make the same costly entry twice (a model
        loaded twice at once would double its memory); what it raises is not kept."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            value = make()
            self._put(key, value)
            return value

    def __len__(self) -> int:
        return len(self._items)

    def _put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
