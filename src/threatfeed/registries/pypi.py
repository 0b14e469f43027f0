"""PyPI: the XML-RPC changelog says what changed, the JSON API what a version is now.

Position: the changelog serial. ``changelog_since_serial(serial)`` answers every
journal entry after it, in serial order, so a resumed poll is exact. Files are
tracked, not only releases (``add source file``, ``add py3 file``...: wheels
often arrive after the release); removals and yanks become changes of their own.
Entries that do not touch releases or files (roles, ownership...) still move the
cursor but produce no event.

Gaps: serials are a PostgreSQL sequence, so a serial can be missing when the
transaction that took it has not committed yet (it will appear later, *behind*
the cursor) or rolled back (it never will). Any missing serial is therefore
reported (``hole_tolerance=0``); :meth:`PypiRegistry.backfill` asks the changelog
again from the gap's start, which is exact, and reports what is still missing.
A hole left by a rollback stays missing forever: the pipeline closes such gaps
after a few backfills.

PyPI answers at most 50,000 entries per call (``page_size``): a full page means
more is waiting (``caught_up=False``), and a backfill reads page after page up
to the end of its gap, never further.

``resolve`` fetches ``/pypi/<name>/<version>/json`` and returns the release with
*all* its current files (the pipeline dedupes by file name and SHA256); a 404
there means the release is gone and is reported as ``removed``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from threatfeed.registries import fields, xmlrpc
from threatfeed.registries.cursor import Position, detect_gap, find_hole
from threatfeed.registries.download import download
from threatfeed.registries.errors import ProtocolViolation, RegistryError, RegistryNotFound
from threatfeed.registries.http import Clock, PoliteClient, SystemClock
from threatfeed.registries.model import (
    PYPI,
    Backfill,
    Change,
    ChangeBatch,
    ChangeKind,
    Download,
    Gap,
    Release,
    ReleaseFile,
    ReleaseState,
)

_ADD_FILE = re.compile(r"add (?P<type>\S+) file (?P<filename>.+)")
_REMOVE_FILE = re.compile(r"remove file (?P<filename>.+)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ACTIONS = {
    "new release": ChangeKind.RELEASE_ADDED,
    "remove release": ChangeKind.RELEASE_REMOVED,
    "yank release": ChangeKind.RELEASE_YANKED,
    "unyank release": ChangeKind.RELEASE_UNYANKED,
    "remove project": ChangeKind.PACKAGE_REMOVED,
}


@dataclass(frozen=True)
class _Entry:
    name: str
    version: str | None
    timestamp: int
    action: str
    serial: int


class PypiRegistry:
    ecosystem = PYPI

    def __init__(
        self,
        base_url: str,
        client: PoliteClient,
        *,
        max_archive_bytes: int,
        hole_tolerance: int = 0,
        outage_seconds: float = 900.0,
        page_size: int = 50_000,
        clock: Clock | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._page_size = page_size
        self._xmlrpc = f"{self._base}/pypi"
        self._client = client
        self._max_archive_bytes = max_archive_bytes
        self._hole_tolerance = hole_tolerance
        self._outage_seconds = outage_seconds
        self._clock = clock or SystemClock()

    def close(self) -> None:
        self._client.close()

    def head(self) -> str:
        serial = xmlrpc.call(self._client, self._xmlrpc, "changelog_last_serial")
        if not isinstance(serial, int) or isinstance(serial, bool) or serial < 0:
            raise ProtocolViolation(f"changelog_last_serial answered {serial!r}")
        return Position(str(serial), self._clock.time()).encode()

    def poll(self, position: str) -> ChangeBatch:
        cursor = Position.parse(position)
        after = _serial(cursor.seq)
        entries, complete = self._changelog(after)
        last = str(entries[-1].serial) if entries else cursor.seq
        now = self._clock.time()
        gap = detect_gap(
            cursor,
            [str(entry.serial) for entry in entries],
            now=now,
            hole_tolerance=self._hole_tolerance,
            outage_seconds=self._outage_seconds,
            outage_until=lambda: last,
        )
        return ChangeBatch(
            events=_changes(entries),
            next_position=Position(last, now).encode(),
            gap=gap,
            caught_up=complete,
        )

    def backfill(self, gap: Gap) -> Backfill:
        after, until = _serial(gap.after), _serial(gap.until)
        entries: list[_Entry] = []
        since = after
        while True:
            page, complete = self._changelog(since)
            entries += [entry for entry in page if entry.serial <= until]
            if complete or not page or page[-1].serial >= until:
                break
            since = page[-1].serial
        # A sentinel past the end makes a missing tail a hole like the others.
        serials = [*(entry.serial for entry in entries), until + 1]
        hole = find_hole(after, serials, self._hole_tolerance)
        remaining = None if hole is None else Gap(str(hole[0] - 1), str(hole[1]), gap.reason)
        return Backfill(events=_changes(entries), remaining=remaining)

    def resolve(self, change: Change) -> tuple[Release, ...]:
        if change.kind is ChangeKind.PACKAGE_REMOVED or change.version is None:
            return ()
        if change.kind is ChangeKind.RELEASE_REMOVED:
            return (_removed(change.name, change.version),)
        url = (
            f"{self._base}/pypi/{quote(change.name, safe='')}/{quote(change.version, safe='')}/json"
        )
        try:
            data = fields.mapping(self._client.get_json(url), url)
        except RegistryNotFound:
            return (_removed(change.name, change.version),)
        return (_release(change.name, change.version, data, url),)

    def download(self, file: ReleaseFile) -> Download:
        return download(self._client, file, max_bytes=self._max_archive_bytes)

    def _changelog(self, after: int) -> tuple[list[_Entry], bool]:
        """Entries after ``after``, deduplicated and in serial order, whatever the server sent;
        and whether that was all (a page shorter than ``page_size``)."""
        answer = xmlrpc.call(self._client, self._xmlrpc, "changelog_since_serial", after)
        if not isinstance(answer, list):
            raise ProtocolViolation("changelog_since_serial did not answer a list")
        entries = {_entry(raw) for raw in answer}
        ordered = sorted((e for e in entries if e.serial > after), key=lambda e: e.serial)
        return ordered, len(answer) < self._page_size


def _serial(seq: str) -> int:
    if not seq.isdigit():
        raise RegistryError(f"a PyPI position is a serial number, not {seq[:80]!r}")
    return int(seq)


def _entry(raw: Any) -> _Entry:
    if not isinstance(raw, list | tuple) or len(raw) != 5:
        raise ProtocolViolation(f"a changelog entry is not a 5-tuple: {str(raw)[:200]}")
    name, version, timestamp, action, serial = raw
    if not (
        isinstance(name, str)
        and name
        and isinstance(version, str | None)
        and isinstance(timestamp, int)
        and isinstance(action, str)
        and isinstance(serial, int)
        and not isinstance(serial, bool)
    ):
        raise ProtocolViolation(f"a changelog entry has wrong types: {str(raw)[:200]}")
    return _Entry(name, version or None, timestamp, action, serial)


def _changes(entries: Sequence[_Entry]) -> tuple[Change, ...]:
    changes = []
    for entry in entries:
        filename = None
        if match := _ADD_FILE.fullmatch(entry.action):
            kind, filename = ChangeKind.FILE_ADDED, match["filename"]
        elif match := _REMOVE_FILE.fullmatch(entry.action):
            kind, filename = ChangeKind.FILE_REMOVED, match["filename"]
        elif entry.action in _ACTIONS:
            kind = _ACTIONS[entry.action]
        else:
            continue
        if entry.version is None and kind is not ChangeKind.PACKAGE_REMOVED:
            continue  # a release or file change always names its version
        changes.append(
            Change(
                ecosystem=PYPI,
                name=entry.name,
                kind=kind,
                position=str(entry.serial),
                version=entry.version,
                filename=filename,
                occurred_at=datetime.fromtimestamp(entry.timestamp, UTC),
                action=entry.action,
            )
        )
    return tuple(changes)


def _removed(name: str, version: str) -> Release:
    return Release(PYPI, name, version, None, (), ReleaseState.REMOVED)


def _release(name: str, version: str, data: Mapping[str, Any], where: str) -> Release:
    info = fields.mapping(data.get("info"), f"{where} info")
    urls = data.get("urls")
    if not isinstance(urls, list):
        raise ProtocolViolation(f"{where}: 'urls' must be a list")
    items = [fields.mapping(item, f"{where} urls[]") for item in urls]
    files = tuple(_file(item, where) for item in items)
    uploads = [t for item in items if (t := fields.timestamp(item.get("upload_time_iso_8601")))]
    state = ReleaseState.YANKED if info.get("yanked") is True else ReleaseState.PUBLISHED
    return Release(PYPI, name, version, min(uploads, default=None), files, state)


def _file(item: Mapping[str, Any], where: str) -> ReleaseFile:
    digests = fields.mapping(item.get("digests"), f"{where} digests")
    sha256 = fields.optional_text(digests, "sha256", where)
    if sha256 is not None and not _SHA256.fullmatch(sha256.lower()):
        raise ProtocolViolation(f"{where}: a sha256 digest must be 64 hex digits")
    return ReleaseFile(
        filename=fields.text(item, "filename", where),
        url=fields.text(item, "url", where),
        digest_algorithm="sha256" if sha256 else None,
        digest=sha256.lower() if sha256 else None,
        size=fields.optional_int(item, "size", where),
        packagetype=fields.text(item, "packagetype", where),
    )
