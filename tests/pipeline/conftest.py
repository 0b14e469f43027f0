"""The pipeline wired to the fake registry on loopback and a real database (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from tests.fakeregistry import FakeRegistry
from tests.fakeregistry.fixtures import fake_registry
from threatfeed.pipeline.embedded import EmbeddedQueue
from threatfeed.pipeline.process import Processor
from threatfeed.pipeline.watcher import Watcher
from threatfeed.registries import (
    NpmRegistry,
    PoliteClient,
    PypiRegistry,
    Registry,
    RetryPolicy,
    Timeouts,
)
from threatfeed.store import Database
from threatfeed.store.models import Analysis, Archive, Package

__all__ = ["fake_registry"]

RETRY = RetryPolicy(attempts=3, backoff_base=0.02, backoff_cap=0.1, retry_after_cap=0.2)
TIMEOUTS = Timeouts(connect=2.0, read=0.5, total=10.0)
MAX_ARCHIVE_BYTES = 256 * 1024


def open_fake_registries(fake: FakeRegistry) -> dict[str, Registry]:
    def client(name: str) -> PoliteClient:
        return PoliteClient(name, concurrency=4, retry=RETRY, timeouts=TIMEOUTS)

    npm = NpmRegistry(
        fake.npm_changes_url,
        fake.npm_registry_url,
        client("npm"),
        max_archive_bytes=MAX_ARCHIVE_BYTES,
        batch_limit=5,
        hole_tolerance=10,
    )
    pypi = PypiRegistry(fake.pypi_url, client("pypi"), max_archive_bytes=MAX_ARCHIVE_BYTES)
    return {"npm": npm, "pypi": pypi}


@dataclass
class Pipeline:
    database: Database
    queue: EmbeddedQueue
    registries: dict[str, Registry]
    processor: Processor
    watchers: dict[str, Watcher]

    def watch(self) -> int:
        """Polls every registry until caught up; returns the events seen."""
        events = 0
        for watcher in self.watchers.values():
            while True:
                step = watcher.step()
                events += step.events
                if step.caught_up:
                    break
        return events

    def work(self) -> int:
        """Runs every job that is due, including the jobs those jobs make."""
        ran = 0
        while (job := self.queue.claim("test")) is not None:
            self.processor.run(job)
            ran += 1
        return ran

    def drain(self) -> None:
        self.watch()
        self.work()

    def analyses(self) -> dict[tuple[str, str, str, str], bool]:
        """(ecosystem, name, version, filename) -> flagged, for every analysis stored."""
        with self.database.session() as session:
            rows = session.execute(
                select(
                    Package.ecosystem,
                    Package.name,
                    Package.version,
                    Archive.filename,
                    Analysis.flagged,
                )
                .join(Archive, Archive.package_id == Package.id)
                .join(Analysis, Analysis.archive_id == Archive.id)
            ).all()
        keys = [(r[0], r[1], r[2], r[3]) for r in rows]
        assert len(keys) == len(set(keys)), "an archive was analysed twice"
        return {(r[0], r[1], r[2], r[3]): r[4] for r in rows}

    def count(self, model: type) -> int:
        with self.database.session() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def pipeline(database: Database, fake_registry: FakeRegistry) -> Iterator[Pipeline]:
    registries = open_fake_registries(fake_registry)
    queue = EmbeddedQueue(database, lease_seconds=30, backoff_base=0.01, backoff_cap=0.05)
    processor = Processor(database, queue, registries)
    watchers = {
        name: Watcher(database, queue, registry, start="0") for name, registry in registries.items()
    }
    yield Pipeline(database, queue, registries, processor, watchers)
    processor.close()
    for registry in registries.values():
        registry.close()
