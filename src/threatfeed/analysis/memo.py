"""Caches of what rules derive from one archive's files (syntax trees, the calls in them),
shared by the rules that read the same file in turn and emptied after each archive.

Kept past its archive, a tree is of no use to the next one (other bytes) and costs twice:
the cyclic collector walks every tree still held on each full collection, and a tree freed
dozens of archives later is freed from memory long gone cold. The engine calls ``forget``
once an archive's rules have run; callers of the rules alone keep a bounded cache.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from functools import _lru_cache_wrapper, lru_cache, wraps
from typing import TYPE_CHECKING, Generic, TypeVar, cast

if TYPE_CHECKING:
    from threatfeed.analysis.package import Package

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

_CACHES: list[_lru_cache_wrapper[object]] = []


def per_archive(maxsize: int) -> Callable[[Callable[..., T]], _lru_cache_wrapper[T]]:
    """``lru_cache(maxsize)``, emptied by ``forget``."""

    def decorate(function: Callable[..., T]) -> _lru_cache_wrapper[T]:
        cached = lru_cache(maxsize=maxsize)(function)
        _CACHES.append(cached)
        return cached

    return decorate


def forget() -> None:
    """Drop everything remembered of the archive just analysed."""
    for cache in _CACHES:
        cache.cache_clear()


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector held off while one archive's trees are built and read.

    A syntax tree is up to hundreds of thousands of new objects with no cycle among them
    (reference counts free them): the collector, started every few hundred allocations,
    would walk them, and the older heap, over and over for nothing. What is left over
    waits for the next collection after the pause.
    """
    if not gc.isenabled():
        yield  # already paused by a caller: theirs to resume
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def per_package(function: Callable[[Package], T]) -> Callable[[Package], T]:
    """``function`` of a package computed once, for the rules that ask in turn, and kept
    in the package itself (``Package.derived``): nothing to forget, and no key to hash
    (a package's manifest is a dict). Kept under the function's name, so that a package
    still pickles."""
    key = f"{function.__module__}.{function.__qualname__}"

    @wraps(function)
    def cached(package: Package) -> T:
        derived = package.derived
        if key not in derived:
            derived[key] = function(package)
        return cast(T, derived[key])

    return cached


#: A file's length, first and last bytes, and the other argument of the function.
_Fingerprint = tuple[int, bytes, bytes, Hashable]
FINGERPRINT_BYTES = 64


class ByContent(Generic[K, T]):
    """``function(data, key)``, a pure function of a file's bytes, remembered for the
    latest files: releases, vendored libraries and campaigns bring the same files back.

    A file is looked up by its length and ends (hashing whole files costs as much as a
    pass over them), then compared whole, so no crafted file can pass for another. Files
    of at most ``smallest`` bytes cost less to read again than to look up; files over a
    sixteenth of the budget would push out too many others. Lookups are locked (the
    cache is shared by the threads of a process), the function runs unlocked."""

    def __init__(
        self, function: Callable[[bytes, K], T], *, budget: int, files: int, smallest: int
    ) -> None:
        self._function = function
        self._budget = budget
        self._files = files
        self._smallest = smallest
        self._seen: OrderedDict[_Fingerprint, tuple[bytes, T]] = OrderedDict()
        self._seen_bytes = 0
        self._lock = threading.Lock()

    def __call__(self, data: bytes, key: K) -> T:
        if not self._smallest < len(data) <= self._budget // 16:
            return self._function(data, key)
        fingerprint = (len(data), data[:FINGERPRINT_BYTES], data[-FINGERPRINT_BYTES:], key)
        with self._lock:
            seen = self._seen.get(fingerprint)
            if seen is not None and seen[0] == data:
                self._seen.move_to_end(fingerprint)
                return seen[1]
        result = self._function(data, key)
        with self._lock:
            replaced = self._seen.pop(fingerprint, None)
            if replaced is not None:
                self._seen_bytes -= len(replaced[0])
            self._seen[fingerprint] = (data, result)
            self._seen_bytes += len(data)
            while self._seen_bytes > self._budget or len(self._seen) > self._files:
                _, (oldest, _) = self._seen.popitem(last=False)
                self._seen_bytes -= len(oldest)
        return result
