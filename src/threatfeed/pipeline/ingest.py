"""Recording what the engine concluded about an archive, exactly once per engine version.

Both the registry pipeline and ``threatfeed scan --ingest`` end here, so a
package looks the same in the store however it arrived.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from threatfeed.analysis import Analysis
from threatfeed.store.models import Analysis as AnalysisRow
from threatfeed.store.models import Archive, Package, table, utcnow
from threatfeed.triage.index import NewAnalysis, on_analyses_recorded

PackageKey = tuple[str, str, str]
"""(ecosystem, name, version)"""


@dataclass(frozen=True)
class ArchiveRecord:
    """Where an archive came from: the registry's word, or the analysis' for local files."""

    ecosystem: str
    name: str
    version: str
    filename: str
    sha256: str
    size: int
    published_at: datetime | None = None
    url: str | None = None


@dataclass(frozen=True)
class Recorded:
    package_id: int
    archive_id: int
    analysis_id: int
    new: bool
    """False when this engine version had already analysed this archive."""


def package_id(session: Session, ecosystem: str, name: str, version: str) -> int | None:
    return session.scalar(
        select(Package.id).where(
            Package.ecosystem == ecosystem, Package.name == name, Package.version == version
        )
    )


def _package(session: Session, record: ArchiveRecord) -> Package:
    found = package_id(session, record.ecosystem, record.name, record.version)
    if found is not None:
        package = session.get_one(Package, found)
        if package.published_at is None and record.published_at is not None:
            package.published_at = record.published_at
        return package
    package = Package(
        ecosystem=record.ecosystem,
        name=record.name,
        version=record.version,
        published_at=record.published_at,
    )
    session.add(package)
    session.flush()
    return package


def storable(value: Any) -> Any:
    """``value`` with every NUL character written ``\\x00``: evidence comes from archives,
    and PostgreSQL's JSON (like its text) cannot hold U+0000. Values without one (almost
    all) are told apart by the C JSON encoder, several times faster than the walk that
    rewrites the others, and returned as they are."""
    if "\\u0000" not in json.dumps(value):
        return value
    return _without_nul(value)


def _as_stored(value: Any) -> Any:
    """``value`` as the JSON column gives it back (tuples are lists), without NUL."""
    return json.loads(json.dumps(storable(value)))


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\\x00")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    return value


def record_problem(session: Session, record: ArchiveRecord, status: str, error: str) -> int:
    """An archive that cannot be analysed as published (``digest_mismatch``, ``too_large``...).

    Recorded, never dropped: the operator sees it, and a digest mismatch may itself be
    the trace of tampering. The bytes are never stored as the archive's (``sha256`` and
    ``size`` of a problem are the registry's claims, kept only when given).
    """
    package = _package(session, record)
    archive = session.scalars(
        select(Archive).where(Archive.package_id == package.id, Archive.filename == record.filename)
    ).one_or_none()
    if archive is None:
        archive = Archive(package_id=package.id, filename=record.filename, url=record.url)
        session.add(archive)
    archive.status = status
    archive.error = error[:4000]
    archive.size = record.size or archive.size
    session.flush()
    return archive.id


@dataclass(frozen=True)
class Analysed:
    """One archive's analysis, ready to record."""

    record: ArchiveRecord
    analysis: Analysis
    elapsed_ms: float = 0.0


def record_analysis(
    session: Session, record: ArchiveRecord, analysis: Analysis, elapsed_ms: float = 0.0
) -> Recorded:
    """Stores the package, its archive and the analysis, unless this engine version already did."""
    return record_analyses(session, [Analysed(record, analysis, elapsed_ms)])[0]


def record_analyses(session: Session, items: Sequence[Analysed]) -> list[Recorded]:
    """:func:`record_analysis` of a batch, in a few statements whatever its size.

    Packages, archives and analyses are each looked up with one query and the missing
    ones inserted with one statement; only rows that already exist and change (a
    package's publication time learnt late, an archive analysed before by another
    engine version or recorded as a problem) are updated one by one. The triage index
    follows in one call for the batch (:func:`on_analyses_recorded`).
    """
    if not items:
        return []
    packages, created = _packages(session, [item.record for item in items])
    archives = _archives(session, [(packages[_key(i.record)], i.record) for i in items])
    wanted = {archives[(packages[_key(i.record)], i.record.filename)] for i in items}
    done = {
        (row.archive_id, row.engine_version): row.id
        for row in session.execute(
            select(AnalysisRow.id, AnalysisRow.archive_id, AnalysisRow.engine_version).where(
                AnalysisRow.archive_id.in_(sorted(wanted))
            )
        )
    }
    analysed_before = {archive_id for archive_id, _ in done}
    fresh: dict[tuple[int, str], Analysed] = {}
    for item in items:
        archive_id = archives[(packages[_key(item.record)], item.record.filename)]
        key = (archive_id, item.analysis.engine_version)
        if key not in done:
            fresh.setdefault(key, item)
    rows = {key: _analysis_row(key[0], item) for key, item in fresh.items()}
    if rows:
        analyses = table(AnalysisRow)
        inserted = session.execute(
            analyses.insert().returning(
                analyses.c.id, analyses.c.archive_id, analyses.c.engine_version
            ),
            list(rows.values()),
        )
        new = {(row.archive_id, row.engine_version): row.id for row in inserted}
        done.update(new)
    recorded, seen, indexed = [], set(), []
    for item in items:
        package_id = packages[_key(item.record)]
        archive_id = archives[(package_id, item.record.filename)]
        key = (archive_id, item.analysis.engine_version)
        is_new = key in fresh and key not in seen
        seen.add(key)
        if is_new:
            row = rows[key]
            indexed.append(
                NewAnalysis(
                    package_id=package_id,
                    archive_id=archive_id,
                    analysis_id=done[key],
                    ecosystem=item.record.ecosystem,
                    name=item.record.name,
                    version=item.record.version,
                    flagged=row["flagged"],
                    score=row["score"],
                    indicators=row["indicators"],
                    locations=row["locations"],
                    files=row["files"],
                    new_package=package_id in created,
                    first_analysis=archive_id not in analysed_before,
                )
            )
        recorded.append(Recorded(package_id, archive_id, done[key], new=is_new))
    on_analyses_recorded(session, indexed)
    return recorded


def _key(record: ArchiveRecord) -> PackageKey:
    return (record.ecosystem, record.name, record.version)


def _packages(
    session: Session, records: Sequence[ArchiveRecord]
) -> tuple[dict[PackageKey, int], set[int]]:
    """The id of each record's package, inserting the missing ones in one statement; and
    the ids of those inserted."""
    wanted = {_key(record): record for record in records}
    found: dict[PackageKey, int] = {}
    rows = session.execute(
        select(
            Package.id, Package.ecosystem, Package.name, Package.version, Package.published_at
        ).where(tuple_(Package.ecosystem, Package.name, Package.version).in_(sorted(wanted)))
    )
    for row in rows:
        key = (row.ecosystem, row.name, row.version)
        found[key] = row.id
        if row.published_at is None and wanted[key].published_at is not None:
            session.execute(
                update(Package)
                .where(Package.id == row.id)
                .values(published_at=wanted[key].published_at)
            )
    missing = [record for key, record in wanted.items() if key not in found]
    if missing:
        packages = table(Package)
        inserted = session.execute(
            packages.insert().returning(
                packages.c.id, packages.c.ecosystem, packages.c.name, packages.c.version
            ),
            [
                {
                    "ecosystem": r.ecosystem,
                    "name": r.name,
                    "version": r.version,
                    "published_at": r.published_at,
                }
                for r in missing
            ],
        )
        created = {(row.ecosystem, row.name, row.version): row.id for row in inserted}
        found.update(created)
        return found, set(created.values())
    return found, set()


def _archives(
    session: Session, records: Sequence[tuple[int, ArchiveRecord]]
) -> dict[tuple[int, str], int]:
    """The id of each verified archive, inserting the missing ones in one statement."""
    wanted = {(package_id, record.filename): record for package_id, record in records}
    verified = {"status": "verified", "error": None}
    found: dict[tuple[int, str], int] = {}
    rows = session.execute(
        select(
            Archive.id, Archive.package_id, Archive.filename, Archive.sha256, Archive.status
        ).where(tuple_(Archive.package_id, Archive.filename).in_(sorted(wanted)))
    )
    for row in rows:
        key = (row.package_id, row.filename)
        found[key] = row.id
        record = wanted[key]
        if (row.sha256, row.status) != (record.sha256, "verified"):
            session.execute(
                update(Archive)
                .where(Archive.id == row.id)
                .values(sha256=record.sha256, size=record.size, **verified)
            )
    missing = [(key, record) for key, record in wanted.items() if key not in found]
    if missing:
        archives = table(Archive)
        inserted = session.execute(
            archives.insert().returning(archives.c.id, archives.c.package_id, archives.c.filename),
            [
                {
                    "package_id": package_id,
                    "filename": record.filename,
                    "url": record.url,
                    "sha256": record.sha256,
                    "size": record.size,
                    **verified,
                }
                for (package_id, _), record in missing
            ],
        )
        found.update({(row.package_id, row.filename): row.id for row in inserted})
    return found


def _analysis_row(archive_id: int, item: Analysed) -> dict[str, Any]:
    analysis = item.analysis
    return {
        "archive_id": archive_id,
        "engine_version": analysis.engine_version,
        "score": analysis.score,
        "flagged": analysis.flagged,
        # the triage index tells evidence lists apart as stored; files, locations: any sequence
        "indicators": _as_stored(analysis.indicators),
        "errors": storable(analysis.errors),
        "locations": storable(
            [
                {"rule": at.rule, "file": at.file, "line": at.line, "excerpt": at.excerpt}
                for at in analysis.locations
            ]
        ),
        "files": storable(analysis.files),
        "elapsed_ms": item.elapsed_ms,
        "created_at": utcnow(),
    }
