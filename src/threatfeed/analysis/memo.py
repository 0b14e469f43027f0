"""Caches of what rules derive from one archive's files (syntax trees, the calls in them),
shared by the rules that read the same file in turn and emptied after each archive.

Kept past its archive, a tree is of no use to the next one (other bytes) and costs twice:
the cyclic collector walks every tree still held on each full collection, and a tree freed
dozens of archives later is freed from memory long gone cold. The engine calls ``forget``
once an archive's rules have run; callers of the rules alone keep a bounded cache.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import _lru_cache_wrapper, lru_cache, wraps
from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from threatfeed.analysis.package import Package

T = TypeVar("T")

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
