"""Registries wired to the fake registry, and a clock that records waits instead of taking them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.fakeregistry import FakeRegistry
from tests.fakeregistry.fixtures import fake_registry
from threatfeed.registries import NpmRegistry, PoliteClient, PypiRegistry, RetryPolicy, Timeouts

__all__ = ["fake_registry"]

RETRY = RetryPolicy(attempts=3, backoff_base=0.5, backoff_cap=4.0, retry_after_cap=30.0)
TIMEOUTS = Timeouts(connect=2.0, read=0.5, total=10.0)
MAX_ARCHIVE_BYTES = 64 * 1024


class FakeClock:
    """Wall-clock time that only moves when someone sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(name: str, clock: FakeClock, *, concurrency: int = 4) -> PoliteClient:
    return PoliteClient(
        name,
        concurrency=concurrency,
        retry=RETRY,
        timeouts=TIMEOUTS,
        clock=clock,
        jitter=lambda: 1.0,
    )


@pytest.fixture
def npm(fake_registry: FakeRegistry, clock: FakeClock) -> Iterator[NpmRegistry]:
    registry = NpmRegistry(
        fake_registry.npm_changes_url,
        fake_registry.npm_registry_url,
        make_client("npm", clock),
        max_archive_bytes=MAX_ARCHIVE_BYTES,
        batch_limit=3,
        hole_tolerance=10,
        clock=clock,
    )
    yield registry
    registry.close()


@pytest.fixture
def pypi(fake_registry: FakeRegistry, clock: FakeClock) -> Iterator[PypiRegistry]:
    registry = PypiRegistry(
        fake_registry.pypi_url,
        make_client("pypi", clock),
        max_archive_bytes=MAX_ARCHIVE_BYTES,
        clock=clock,
    )
    yield registry
    registry.close()
