"""Failed logins, limited per account name and per client address.

A sliding window of failure times per key: past ``per_name`` failures for one
name (guessing one account's password) or ``per_address`` from one address
(spraying many names), further attempts are refused without checking the
password until the oldest failure leaves the window. Successful logins do not
count. Memory stays bounded: at most ``max_keys`` keys, least recently used
dropped first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class FailedLogins:
    def __init__(
        self,
        *,
        per_name: int = 5,
        per_address: int = 20,
        window: float = 300.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"name": per_name, "address": per_address}
        self._window = window
        self._max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, name: str | None, address: str) -> float | None:
        """Seconds to wait before trying again, or None if an attempt may be made now."""
        with self._lock:
            now = self._clock()
            waits = [
                self._wait(key, limit, now)
                for key, limit in self._keys(name, address)
                if key in self._failures
            ]
        blocked = [wait for wait in waits if wait is not None]
        return max(blocked) if blocked else None

    def failed(self, name: str | None, address: str) -> None:
        with self._lock:
            now = self._clock()
            for key, _ in self._keys(name, address):
                times = self._failures.pop(key, None) or deque()
                times.append(now)
                self._failures[key] = times
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)

    def _keys(self, name: str | None, address: str) -> list[tuple[str, int]]:
        keys = [(f"address:{address}", self._limits["address"])]
        if name:
            keys.append((f"name:{name.lower()}", self._limits["name"]))
        return keys

    def _wait(self, key: str, limit: int, now: float) -> float | None:
        times = self._failures[key]
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        if len(times) < limit:
            return None
        return times[-limit] + self._window - now
