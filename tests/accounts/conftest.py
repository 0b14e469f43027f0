from __future__ import annotations

from pathlib import Path

import pytest

from threatfeed.accounts import AccountService
from threatfeed.config import Settings
from threatfeed.store import Database


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        secret_key="test-secret-key",
        rate_limit_per_minute=600,
        rate_limit_burst=120,
        bearer_ttl_seconds=60,
    )


@pytest.fixture
def service(database: Database, settings: Settings, clock: Clock) -> AccountService:
    return AccountService(database, settings, cache_ttl=0, clock=clock)
