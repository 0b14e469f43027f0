"""The values that leave ``registries/``: changes seen, releases resolved, files downloaded.

A watcher's work is split in two so that the pipeline can make it durable:
``poll`` turns the registry's change stream into :class:`Change` events (one cheap
request, and the new cursor position to commit with them), and ``resolve`` turns
one event into the :class:`Release` values the registry describes *now* (one
metadata request, safe to repeat). The ``to_dict``/``from_dict`` pairs exist so a
job queue can carry these values as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

NPM = "npm"
PYPI = "pypi"


class ReleaseState(StrEnum):
    """What the registry says of a version right now."""

    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"
    """npm: listed in ``time`` but gone from ``versions`` (or ``time.unpublished``)."""
    REMOVED = "removed"
    """PyPI: ``remove release`` or the version's JSON no longer exists."""
    YANKED = "yanked"
    PLACEHOLDER = "placeholder"
    """npm ``0.0.1-security``: the registry took the name over, usually after malware."""


class ChangeKind(StrEnum):
    """What one change-stream entry announces."""

    PACKAGE_CHANGED = "package_changed"
    """npm: the packument changed; only ``resolve`` tells what (new version, unpublish...)."""
    PACKAGE_REMOVED = "package_removed"
    """npm ``"deleted": true``, PyPI ``remove project``: every version of the name is gone."""
    RELEASE_ADDED = "release_added"
    FILE_ADDED = "file_added"
    FILE_REMOVED = "file_removed"
    RELEASE_REMOVED = "release_removed"
    RELEASE_YANKED = "release_yanked"
    RELEASE_UNYANKED = "release_unyanked"


@dataclass(frozen=True)
class Change:
    """One entry of a registry's change stream, in order of ``position``."""

    ecosystem: str
    name: str
    kind: ChangeKind
    position: str
    """The sequence (npm) or serial (PyPI) of this entry, as the registry wrote it."""
    version: str | None = None
    filename: str | None = None
    occurred_at: datetime | None = None
    action: str = ""
    """The registry's own words (PyPI's action string), kept for the record."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["occurred_at"] = self.occurred_at.isoformat() if self.occurred_at else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        occurred_at = data.get("occurred_at")
        return cls(
            ecosystem=data["ecosystem"],
            name=data["name"],
            kind=ChangeKind(data["kind"]),
            position=data["position"],
            version=data.get("version"),
            filename=data.get("filename"),
            occurred_at=datetime.fromisoformat(occurred_at) if occurred_at else None,
            action=data.get("action", ""),
        )


@dataclass(frozen=True)
class ReleaseFile:
    """One downloadable file of a release, with the digest the registry published for it."""

    filename: str
    url: str
    """Taken from the metadata as given (``dist.tarball``, ``urls[].url``)."""
    digest_algorithm: str | None
    """A :mod:`hashlib` name (``sha512``, ``sha256``, ``sha1``); ``None`` when none was given."""
    digest: str | None
    """Lower-case hex."""
    size: int | None
    packagetype: str
    """``tarball`` (npm), ``sdist``, ``bdist_wheel``, ... (PyPI)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReleaseFile:
        return cls(**data)


@dataclass(frozen=True)
class Release:
    """One version as the registry describes it at the time of ``resolve``."""

    ecosystem: str
    name: str
    version: str
    published_at: datetime | None
    files: tuple[ReleaseFile, ...]
    state: ReleaseState

    def to_dict(self) -> dict[str, Any]:
        return {
            "ecosystem": self.ecosystem,
            "name": self.name,
            "version": self.version,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "files": [file.to_dict() for file in self.files],
            "state": self.state.value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Release:
        published_at = data.get("published_at")
        return cls(
            ecosystem=data["ecosystem"],
            name=data["name"],
            version=data["version"],
            published_at=datetime.fromisoformat(published_at) if published_at else None,
            files=tuple(ReleaseFile.from_dict(file) for file in data["files"]),
            state=ReleaseState(data["state"]),
        )


@dataclass(frozen=True)
class Gap:
    """Positions whose changes may have been missed: ``after`` < missing <= ``until``.

    ``after`` and ``until`` are raw sequences/serials (not encoded cursors), so a
    gap can be stored, shown and handed back to ``backfill`` as it is.
    """

    after: str
    until: str
    reason: str


@dataclass(frozen=True)
class ChangeBatch:
    """The result of one poll (or backfill): commit ``events`` and ``next_position`` together."""

    events: tuple[Change, ...]
    next_position: str
    """The encoded cursor to store, even when ``events`` is empty (it carries the poll time)."""
    gap: Gap | None = None
    caught_up: bool = True
    """False when the registry has more right now: poll again without waiting."""


@dataclass(frozen=True)
class Backfill:
    """What a second look at a :class:`Gap` found; it never moves the cursor."""

    events: tuple[Change, ...]
    remaining: Gap | None
    """The part still unaccounted for, or ``None`` when the gap is closed."""


@dataclass(frozen=True)
class Download:
    """A file's bytes, complete and verified against the registry's digest."""

    file: ReleaseFile
    content: bytes
    sha256: str
