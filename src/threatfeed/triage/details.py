"""Everything the package view shows about one version, read in a handful of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from threatfeed.store.models import FeedEntry, Package, TriageItem
from threatfeed.triage.analyses import latest_analyses, union_indicators
from threatfeed.triage.campaigns import Related, related
from threatfeed.triage.errors import UnknownPackage
from threatfeed.triage.service import VerdictRecord, history, state_of
from threatfeed.triage.states import State

MAX_FILES = 1000
MAX_VERSIONS = 200


@dataclass(frozen=True)
class ArchiveDetail:
    filename: str
    sha256: str | None
    size: int | None
    url: str | None
    status: str
    engine_version: str | None
    score: float | None
    flagged: bool
    indicators: dict[str, Any]
    locations: tuple[dict[str, Any], ...]
    errors: tuple[str, ...]
    files: tuple[tuple[str, int], ...]
    """At most ``MAX_FILES``; ``file_count`` says how many there are."""
    file_count: int


@dataclass(frozen=True)
class OtherVersion:
    package_id: int
    version: str
    state: str


@dataclass(frozen=True)
class PackageDetail:
    package_id: int
    ecosystem: str
    name: str
    version: str
    published_at: datetime | None
    seen_at: datetime
    registry_state: str
    state: State
    score: float | None
    indicators: dict[str, Any]
    archives: tuple[ArchiveDetail, ...]
    verdicts: tuple[VerdictRecord, ...]
    versions: tuple[OtherVersion, ...]
    campaign: tuple[Related, ...]
    added_at: datetime | None
    withdrawn_at: datetime | None


def package_detail(session: Session, package_id: int) -> PackageDetail:
    package = session.get(Package, package_id)
    if package is None:
        raise UnknownPackage(f"unknown package version id {package_id}")
    analysed = {archive.id: analysis for archive, analysis in latest_analyses(session, package_id)}
    archives = []
    for archive in sorted(package.archives, key=lambda a: (a.filename, a.id)):
        analysis = analysed.get(archive.id)
        files = analysis.files if analysis else []
        archives.append(
            ArchiveDetail(
                filename=archive.filename,
                sha256=archive.sha256,
                size=archive.size,
                url=archive.url,
                status=archive.status,
                engine_version=analysis.engine_version if analysis else None,
                score=analysis.score if analysis else None,
                flagged=bool(analysis and analysis.flagged),
                indicators=analysis.indicators if analysis else {},
                locations=tuple(analysis.locations) if analysis else (),
                errors=tuple(str(e) for e in analysis.errors) if analysis else (),
                files=tuple((str(f[0]), int(f[1])) for f in files[:MAX_FILES]),
                file_count=len(files),
            )
        )
    item = session.get(TriageItem, package_id)
    entry = session.execute(
        select(FeedEntry.added_at, FeedEntry.withdrawn_at).where(FeedEntry.package_id == package_id)
    ).first()
    return PackageDetail(
        package_id=package.id,
        ecosystem=package.ecosystem,
        name=package.name,
        version=package.version,
        published_at=package.published_at,
        seen_at=package.seen_at,
        registry_state=package.registry_state,
        state=state_of(session, package_id),
        score=item.score if item else None,
        indicators=union_indicators(a.indicators for a in analysed.values()),
        archives=tuple(archives),
        verdicts=tuple(history(session, package_id)),
        versions=tuple(_other_versions(session, package)),
        campaign=tuple(related(session, package_id)),
        added_at=entry.added_at if entry else None,
        withdrawn_at=entry.withdrawn_at if entry else None,
    )


def _other_versions(session: Session, package: Package) -> list[OtherVersion]:
    rows = session.execute(
        select(Package.id, Package.version, TriageItem.state, FeedEntry.withdrawn_at, FeedEntry.id)
        .outerjoin(TriageItem, TriageItem.package_id == Package.id)
        .outerjoin(FeedEntry, FeedEntry.package_id == Package.id)
        .where(
            Package.ecosystem == package.ecosystem,
            Package.name == package.name,
            Package.id != package.id,
        )
        .order_by(Package.id.desc())
        .limit(MAX_VERSIONS)
    )
    versions = []
    for other_id, version, state, withdrawn_at, entry_id in rows:
        if state is None:
            if entry_id is not None:
                state = State.WITHDRAWN if withdrawn_at else State.MALICIOUS
            else:
                state = State.UNFLAGGED
        versions.append(OtherVersion(other_id, version, str(state)))
    return versions
