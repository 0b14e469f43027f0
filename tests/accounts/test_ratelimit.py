from __future__ import annotations

import threading

import pytest

from threatfeed.accounts.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_caller_waits_for_the_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)

    assert [limiter.hit("a") for _ in range(3)] == [None, None, None]
    assert limiter.hit("a") == pytest.approx(1.0)
    clock.now += 0.25
    assert limiter.hit("a") == pytest.approx(0.75)
    clock.now += 0.75
    assert limiter.hit("a") is None
    assert limiter.hit("a") == pytest.approx(1.0)


def test_keys_have_separate_buckets() -> None:
    limiter = RateLimiter(per_minute=60, burst=1, clock=Clock())
    assert limiter.hit("a") is None
    assert limiter.hit("a") is not None
    assert limiter.hit("b") is None


def test_a_long_pause_refills_only_up_to_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=600, burst=2, clock=clock)
    limiter.hit("a")
    clock.now += 3600
    assert [limiter.hit("a") is None for _ in range(3)] == [True, True, False]


def test_idle_buckets_are_dropped_and_memory_stays_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=2, max_keys=100, clock=clock)
    for n in range(1000):
        limiter.hit(f"key-{n}")
    assert len(limiter) == 100

    clock.now += 2  # every bucket has refilled: none carries information any more
    limiter.hit("fresh")
    assert len(limiter) == 1


def test_a_busy_bucket_is_kept_while_refilled_ones_go() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock)
    limiter.hit("idle")
    for _ in range(3):
        limiter.hit("busy")  # empty now
    clock.now += 1.5
    limiter.hit("busy")  # 1.5 refilled, 0.5 left
    clock.now += 0.5
    limiter.hit("other")  # "idle" has refilled two full tokens: it goes

    assert len(limiter) == 2
    assert [limiter.hit("busy") is None for _ in range(2)] == [True, False]


def test_concurrent_hits_never_exceed_the_burst() -> None:
    limiter = RateLimiter(per_minute=1, burst=50, clock=Clock())
    allowed = []
    lock = threading.Lock()

    def worker() -> None:
        mine = sum(limiter.hit("shared") is None for _ in range(100))
        with lock:
            allowed.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 50


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(per_minute=0, burst=1)
    with pytest.raises(ValueError):
        RateLimiter(per_minute=60, burst=0.5)
