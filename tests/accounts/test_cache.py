from __future__ import annotations

from threatfeed.accounts.cache import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_live_for_the_ttl() -> None:
    clock = Clock()
    cache: TTLCache[str, int] = TTLCache(5, clock)
    cache.put("a", 1)
    clock.now = 4.99
    assert cache.get("a") == 1
    clock.now = 5
    assert cache.get("a") is None


def test_a_zero_ttl_caches_nothing() -> None:
    cache: TTLCache[str, int] = TTLCache(0, Clock())
    cache.put("a", 1)
    assert cache.get("a") is None


def test_the_cache_is_bounded_and_drops_the_oldest() -> None:
    cache: TTLCache[int, int] = TTLCache(60, Clock(), max_entries=3)
    for n in range(5):
        cache.put(n, n)
    assert [cache.get(n) for n in range(5)] == [None, None, 2, 3, 4]


def test_clear_forgets_everything() -> None:
    cache: TTLCache[str, int] = TTLCache(60, Clock())
    cache.put("a", 1)
    cache.clear()
    assert cache.get("a") is None
