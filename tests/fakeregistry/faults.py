"""Faults the fake registry injects on demand, matched by URL path prefix.

Each fault fires for the next ``times`` requests whose path starts with its
prefix (``times=None``: for ever), in the order the faults were added. They are
what real registries do on a bad day: answer slowly, fail with 5xx, rate-limit
with ``Retry-After``, cut a body short, or say something hostile.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Fault:
    prefix: str
    kind: str
    """``status``, ``stall``, ``trickle``, ``truncate`` or ``raw``."""
    times: int | None = 1
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    body: bytes = b""
    content_type: str = "text/plain"
    fired: int = 0


class FaultPlan:
    """Thread-safe list of pending faults; the server takes one per request at most."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.prefix):
                    fault.fired += 1
                    if fault.times is not None and fault.fired >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
