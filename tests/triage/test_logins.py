from __future__ import annotations

from threatfeed.triage.logins import FailedLogins


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_failures_per_name_block_that_name_only() -> None:
    clock = Clock()
    limits = FailedLogins(per_name=3, per_address=100, window=60, clock=clock)
    for _ in range(3):
        assert limits.retry_after("alice", "10.0.0.1") is None
        limits.failed("alice", "10.0.0.1")
    assert limits.retry_after("alice", "10.0.0.9") == 60
    assert limits.retry_after("ALICE", "10.0.0.9") == 60
    assert limits.retry_after("bob", "10.0.0.1") is None
    clock.now = 60.5
    assert limits.retry_after("alice", "10.0.0.1") is None


def test_failures_per_address_block_spraying() -> None:
    limits = FailedLogins(per_name=100, per_address=4, window=60, clock=Clock())
    for number in range(4):
        limits.failed(f"user{number}", "10.0.0.1")
    assert limits.retry_after("someone-else", "10.0.0.1") is not None
    assert limits.retry_after(None, "10.0.0.1") is not None
    assert limits.retry_after("someone-else", "10.0.0.2") is None


def test_memory_is_bounded() -> None:
    limits = FailedLogins(max_keys=10, clock=Clock())
    for number in range(1000):
        limits.failed(None, f"10.0.{number // 256}.{number % 256}")
    assert len(limits._failures) <= 10
