"""The one interface the pipeline sees, and the registries built from the settings."""

from __future__ import annotations

from typing import Protocol

from threatfeed.config import Settings
from threatfeed.registries.http import Clock, PoliteClient, RetryPolicy, Timeouts
from threatfeed.registries.model import (
    Backfill,
    Change,
    ChangeBatch,
    Download,
    Gap,
    Release,
    ReleaseFile,
)
from threatfeed.registries.npm import NpmRegistry
from threatfeed.registries.pypi import PypiRegistry


class Registry(Protocol):
    """A registry watched without state: every position comes in and goes out as a string."""

    ecosystem: str

    def head(self) -> str:
        """The encoded position of the registry's present, to start a new cursor from."""
        ...

    def poll(self, position: str) -> ChangeBatch:
        """The changes after ``position`` and the position to store with them."""
        ...

    def backfill(self, gap: Gap) -> Backfill:
        """The changes inside a gap reported by an earlier poll."""
        ...

    def resolve(self, change: Change) -> tuple[Release, ...]:
        """The releases a change concerns, as the registry describes them now.

        Empty when the package is gone with all its versions (deleted, unpublished
        entirely, ``remove project``): every version the pipeline knows is gone too.
        """
        ...

    def download(self, file: ReleaseFile) -> Download:
        """The file's bytes, verified against its published digest, within the size cap."""
        ...

    def close(self) -> None: ...


def open_registries(
    settings: Settings,
    *,
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
    clock: Clock | None = None,
) -> dict[str, Registry]:
    """One registry per ecosystem, each with its own client (so its own concurrency limit)."""

    def client(name: str, concurrency: int) -> PoliteClient:
        return PoliteClient(
            name, concurrency=concurrency, retry=retry, timeouts=timeouts, clock=clock
        )

    npm = NpmRegistry(
        settings.npm_changes_url,
        settings.npm_registry_url,
        client("npm", settings.npm_concurrency),
        max_archive_bytes=settings.max_archive_bytes,
        clock=clock,
    )
    pypi = PypiRegistry(
        settings.pypi_url,
        client("pypi", settings.pypi_concurrency),
        max_archive_bytes=settings.max_archive_bytes,
        clock=clock,
    )
    return {npm.ecosystem: npm, pypi.ecosystem: pypi}
