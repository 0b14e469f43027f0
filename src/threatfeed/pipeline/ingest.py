"""Recording what the engine concluded about an archive, exactly once per engine version.

Both the registry pipeline and ``threatfeed scan --ingest`` end here, so a
package looks the same in the store however it arrived.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from threatfeed.analysis import Analysis
from threatfeed.store.models import Analysis as AnalysisRow
from threatfeed.store.models import Archive, Package
from threatfeed.triage.index import on_analysis_recorded


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


def _archive(session: Session, package: Package, record: ArchiveRecord) -> Archive:
    archive = session.scalars(
        select(Archive).where(Archive.package_id == package.id, Archive.filename == record.filename)
    ).one_or_none()
    if archive is None:
        archive = Archive(package_id=package.id, filename=record.filename, url=record.url)
        session.add(archive)
    archive.sha256 = record.sha256
    archive.size = record.size
    archive.status = "verified"
    archive.error = None
    session.flush()
    return archive


def storable(value: Any) -> Any:
    """``value`` with every NUL character written ``\\x00``: evidence comes from archives,
    and PostgreSQL's JSON (like its text) cannot hold U+0000."""
    if isinstance(value, str):
        return value.replace("\x00", "\\x00")
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
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


def record_analysis(
    session: Session, record: ArchiveRecord, analysis: Analysis, elapsed_ms: float = 0.0
) -> Recorded:
    """Stores the package, its archive and the analysis, unless this engine version already did."""
    package = _package(session, record)
    archive = _archive(session, package, record)
    existing = session.scalar(
        select(AnalysisRow.id).where(
            AnalysisRow.archive_id == archive.id,
            AnalysisRow.engine_version == analysis.engine_version,
        )
    )
    if existing is not None:
        return Recorded(package.id, archive.id, existing, new=False)
    row = AnalysisRow(
        archive_id=archive.id,
        engine_version=analysis.engine_version,
        score=analysis.score,
        flagged=analysis.flagged,
        indicators=storable(analysis.indicators),
        errors=storable(list(analysis.errors)),
        locations=storable([asdict(location) for location in analysis.locations]),
        files=storable([list(entry) for entry in analysis.files]),
        elapsed_ms=elapsed_ms,
    )
    session.add(row)
    session.flush()
    on_analysis_recorded(session, package.id, archive.id)
    return Recorded(package.id, archive.id, row.id, new=True)
