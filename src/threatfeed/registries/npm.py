"""npm: the CouchDB replication feed says which packuments changed, the packument what they are.

Position: the ``_changes`` sequence, opaque to us except for its leading count
(see :func:`~threatfeed.registries.cursor.sequence_number`), passed back as
``since`` exactly as the server wrote it. Since 2025 the feed carries no
documents, so each change names a package and ``resolve`` fetches its packument
(``/<name>``, scoped ``/@scope%2Fname``).

``resolve`` returns *every* version the packument describes, with its state and
publish time (``time[version]``): the watcher keeps no state, so the pipeline
dedupes against the versions it already knows (unique ``(ecosystem, name,
version)``) and updates the state of known ones. Versions still listed in
``time`` but gone from ``versions``, or listed in ``time.unpublished``, come back
``unpublished``; ``0.0.1-security`` comes back ``placeholder``. A deleted document
(``"deleted": true`` in the feed) becomes a ``package_removed`` change, and a
packument that answers 404 resolves to no release at all: as everywhere in this
package, an empty ``resolve`` means the name is gone with all its versions.

Gaps: the feed lists each document once, at its latest sequence, so holes in
the sequence are normal (a document changed twice moved past the cursor) and
lose nothing. Only holes wider than ``hole_tolerance`` (default 1,000) are
reported. Backfilling one means replaying ``_changes`` from the gap's start,
which finds every document changed since then if the server still answers that
``since``; documents whose changes the server itself lost cannot be recovered
from the feed (the RSS fallback holds only the last 200 publications).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode, urlsplit

from threatfeed.registries import fields
from threatfeed.registries.cursor import Position, detect_gap, sequence_number
from threatfeed.registries.download import download
from threatfeed.registries.errors import ProtocolViolation, RegistryNotFound
from threatfeed.registries.http import Clock, PoliteClient, SystemClock
from threatfeed.registries.model import (
    NPM,
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

PLACEHOLDER_VERSION = "0.0.1-security"
_TIME_KEYS = frozenset({"created", "modified", "unpublished"})
_SRI_ALGORITHMS = ("sha512", "sha384", "sha256", "sha1")  # strongest first


class _Row(NamedTuple):
    seq: str
    name: str
    deleted: bool


class NpmRegistry:
    ecosystem = NPM

    def __init__(
        self,
        changes_url: str,
        registry_url: str,
        client: PoliteClient,
        *,
        max_archive_bytes: int,
        batch_limit: int = 1000,
        hole_tolerance: int = 1000,
        outage_seconds: float = 900.0,
        clock: Clock | None = None,
    ) -> None:
        self._changes = changes_url.rstrip("/")
        self._registry = registry_url.rstrip("/")
        self._client = client
        self._max_archive_bytes = max_archive_bytes
        self._batch_limit = batch_limit
        self._hole_tolerance = hole_tolerance
        self._outage_seconds = outage_seconds
        self._clock = clock or SystemClock()

    def close(self) -> None:
        self._client.close()

    def head(self) -> str:
        return Position(self._head_seq(), self._clock.time()).encode()

    def poll(self, position: str) -> ChangeBatch:
        cursor = Position.parse(position)
        rows, last_seq, complete = self._read_changes(cursor.seq)
        now = self._clock.time()
        seqs = [row.seq for row in rows]
        next_seq = _latest([cursor.seq, *seqs, *([last_seq] if last_seq else [])])
        gap = detect_gap(
            cursor,
            seqs,
            now=now,
            hole_tolerance=self._hole_tolerance,
            outage_seconds=self._outage_seconds,
            outage_until=lambda: _latest([next_seq, self._head_seq()]),
        )
        return ChangeBatch(
            events=_changes(rows, after=cursor.seq),
            next_position=Position(next_seq, now).encode(),
            gap=gap,
            caught_up=complete,
        )

    def backfill(self, gap: Gap) -> Backfill:
        """Replay the feed from ``gap.after`` up to ``gap.until``; what it lists is all there is."""
        until = sequence_number(gap.until)
        events: list[Change] = []
        since = gap.after
        while True:
            rows, last_seq, complete = self._read_changes(since)
            inside = [r for r in rows if until is None or (sequence_number(r.seq) or 0) <= until]
            events.extend(_changes(inside, after=since))
            if complete or len(inside) < len(rows) or not last_seq or last_seq == since:
                return Backfill(events=tuple(events), remaining=None)
            since = last_seq

    def resolve(self, change: Change) -> tuple[Release, ...]:
        if change.kind is ChangeKind.PACKAGE_REMOVED:
            return ()
        url = f"{self._registry}/{quote(change.name, safe='@')}"
        try:
            document = fields.mapping(self._client.get_json(url), url)
        except RegistryNotFound:
            return ()
        if document.get("name") != change.name:
            raise ProtocolViolation(f"{url} describes {str(document.get('name'))[:100]!r}")
        return _releases(change.name, document, url)

    def download(self, file: ReleaseFile) -> Download:
        return download(self._client, file, max_bytes=self._max_archive_bytes)

    def _head_seq(self) -> str:
        """``update_seq`` from the database info at the feed's base, else at the host's root.

        Since 2025 npm serves ``_changes`` under ``/registry/`` but the database info
        (with ``update_seq``) at the root of the replication host.
        """
        parts = urlsplit(self._changes)
        root = f"{parts.scheme}://{parts.netloc}/"
        for url in dict.fromkeys([f"{self._changes}/", root]):
            try:
                info = fields.mapping(self._client.get_json(url), url)
            except RegistryNotFound:
                continue
            if "update_seq" in info:
                return _seq(info["update_seq"], "update_seq")
        raise ProtocolViolation(f"no update_seq at {self._changes}/ nor at {root}")

    def _read_changes(self, since: str) -> tuple[list[_Row], str | None, bool]:
        """``(seq, id, deleted)`` rows, ``last_seq``, and whether the feed had no more."""
        query = urlencode({"since": since, "limit": self._batch_limit})
        url = f"{self._changes}/_changes?{query}"
        answer = fields.mapping(self._client.get_json(url), url)
        results = answer.get("results")
        if not isinstance(results, list):
            raise ProtocolViolation(f"{url}: 'results' must be a list")
        rows = []
        for raw in results:
            row = fields.mapping(raw, f"{url} results[]")
            rows.append(
                _Row(
                    _seq(row.get("seq"), "seq"),
                    fields.text(row, "id", f"{url} results[]"),
                    row.get("deleted") is True,
                )
            )
        last = answer.get("last_seq")
        return rows, None if last is None else _seq(last, "last_seq"), len(rows) < self._batch_limit


def _seq(value: Any, field: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value:
        return value
    raise ProtocolViolation(f"the replication feed's {field} is {str(value)[:80]!r}")


def _latest(seqs: list[str]) -> str:
    """The furthest sequence; opaque ones cannot be compared, so the last given wins."""
    numbered = [seq for seq in seqs if sequence_number(seq) is not None]
    if len(numbered) < len(seqs):
        return seqs[-1]
    return max(numbered, key=lambda seq: sequence_number(seq) or 0)


def _changes(rows: list[_Row], *, after: str) -> tuple[Change, ...]:
    """One change per document, at its latest sequence, in sequence order.

    Rows at or before the cursor are repeats of what was already handed over, and a
    document listed twice (duplicates, reordering) counts once, at its last position.
    """
    start = sequence_number(after)
    latest: dict[str, tuple[int, str, bool]] = {}
    for index, (seq, name, deleted) in enumerate(rows):
        number = sequence_number(seq)
        if start is not None and number is not None and number <= start:
            continue
        order = index if number is None else number
        if name.startswith("_design/") or (name in latest and latest[name][0] > order):
            continue
        latest[name] = (order, seq, deleted)
    ordered = sorted(latest.items(), key=lambda item: item[1][0])
    return tuple(
        Change(
            ecosystem=NPM,
            name=name,
            kind=ChangeKind.PACKAGE_REMOVED if deleted else ChangeKind.PACKAGE_CHANGED,
            position=seq,
            action="deleted" if deleted else "changed",
        )
        for name, (_, seq, deleted) in ordered
    )


def _releases(name: str, document: Mapping[str, Any], where: str) -> tuple[Release, ...]:
    times = fields.mapping(document.get("time") or {}, f"{where} time")
    versions = fields.mapping(document.get("versions") or {}, f"{where} versions")
    releases = [
        _release(name, version, fields.mapping(meta, f"{where} versions[{version!r}]"), times)
        for version, meta in versions.items()
    ]
    unpublished = times.get("unpublished")
    listed = unpublished.get("versions") if isinstance(unpublished, Mapping) else None
    gone = [v for v in times if v not in versions and v not in _TIME_KEYS]
    gone += [v for v in listed or () if isinstance(v, str) and v not in versions and v not in gone]
    releases += [
        Release(NPM, name, v, fields.timestamp(times.get(v)), (), ReleaseState.UNPUBLISHED)
        for v in gone
    ]
    return tuple(releases)


def _release(name: str, version: str, meta: Mapping[str, Any], times: Mapping[str, Any]) -> Release:
    state = ReleaseState.PLACEHOLDER if version == PLACEHOLDER_VERSION else ReleaseState.PUBLISHED
    dist = meta.get("dist")
    tarball = dist.get("tarball") if isinstance(dist, Mapping) else None
    files: tuple[ReleaseFile, ...] = ()
    if isinstance(dist, Mapping) and isinstance(tarball, str) and tarball:
        algorithm, digest = _digest(dist)
        filename = urlsplit(tarball).path.rsplit("/", 1)[-1] or f"{version}.tgz"
        files = (ReleaseFile(filename, tarball, algorithm, digest, None, "tarball"),)
    return Release(NPM, name, version, fields.timestamp(times.get(version)), files, state)


def _digest(dist: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The strongest digest of ``dist.integrity`` (SRI), else the sha1 ``dist.shasum``."""
    integrity = dist.get("integrity")
    found: dict[str, str] = {}
    for token in integrity.split() if isinstance(integrity, str) else ():
        algorithm, _, encoded = token.partition("-")
        try:
            found[algorithm] = base64.b64decode(encoded.split("?", 1)[0], validate=True).hex()
        except (binascii.Error, ValueError):
            continue
    for algorithm in _SRI_ALGORITHMS:
        if algorithm in found:
            return algorithm, found[algorithm]
    shasum = dist.get("shasum")
    if isinstance(shasum, str) and len(shasum) == 40:
        return "sha1", shasum.lower()
    return None, None
