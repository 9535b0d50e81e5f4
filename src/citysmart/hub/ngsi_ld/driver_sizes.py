"""How many entities a query's conjunct selects, remembered for a few seconds.

Picking the conjunct that drives a query (``query.with_driver``) counts, capped, the
entities each candidate selects: a statement that reads up to a few thousand index
entries per conjunct, on every query. The sizes only steer the plan, never the answer, so
a size a few seconds old is as good: repeated queries (a dashboard polling the same
question) skip the count.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Final

TTL_S: Final = 10.0
CAPACITY: Final = 4096


class SizeCache:
    """Recent capped sizes, by (database, conjunct)."""

    def __init__(self, ttl_s: float = TTL_S, capacity: int = CAPACITY) -> None:
        self.ttl_s = ttl_s
        self.capacity = capacity
        self._sizes: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> int | None:
        """Return a size counted less than ``ttl_s`` ago, or None."""
        with self._lock:
            found = self._sizes.get(key)
            if found is None or found[0] < time.monotonic():
                return None
            return found[1]

    def put(self, key: Hashable, size: int) -> None:
        """Remember a size; the oldest go first when full."""
        with self._lock:
            self._sizes[key] = (time.monotonic() + self.ttl_s, size)
            self._sizes.move_to_end(key)
            while len(self._sizes) > self.capacity:
                self._sizes.popitem(last=False)


__all__ = ["SizeCache"]
