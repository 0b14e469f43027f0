"""Running one job: a change resolved into archive jobs, an archive fetched, verified, analysed.

Network and analysis happen outside any transaction; each job then ends in one
short transaction that completes it *and* stores what it produced, so a process
killed at any moment leaves either nothing (the job runs again when its lease
expires) or everything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from threatfeed.analysis import ENGINE_VERSION, Analysis, Engine, Location
from threatfeed.errors import ThreatfeedError
from threatfeed.pipeline import metrics
from threatfeed.pipeline.ingest import ArchiveRecord, record_analysis, record_problem
from threatfeed.pipeline.jobs import ARCHIVE, CHANGE, archive_job, archive_payload
from threatfeed.pipeline.queue import Job, JobSpec, LeaseLost, Queue
from threatfeed.pipeline.sessions import work_session
from threatfeed.registries import (
    ArchiveTooLarge,
    Change,
    ChangeKind,
    DigestMismatch,
    DigestMissing,
    Registry,
    RegistryNotFound,
    RegistryUnavailable,
    Release,
    ReleaseState,
)
from threatfeed.store import Database
from threatfeed.store.models import Analysis as AnalysisRow
from threatfeed.store.models import Archive, Package, Verdict
from threatfeed.triage.service import Author, decide
from threatfeed.triage.states import Kind

log = logging.getLogger(__name__)

PIPELINE_AUTHOR = Author("threatfeed-pipeline")
_GONE = {ChangeKind.PACKAGE_REMOVED, ChangeKind.PACKAGE_CHANGED}


class Processor:
    """Runs jobs against the registries, the engine (compiled on first use) and the store."""

    def __init__(
        self,
        database: Database,
        queue: Queue,
        registries: Mapping[str, Registry],
        *,
        backlog_days: float = 7.0,
        engine: Callable[[], Engine] = Engine,
    ) -> None:
        self.database = database
        self.queue = queue
        self.registries = registries
        self.backlog = timedelta(days=backlog_days)
        self._make_engine = engine
        self._local = threading.local()

    @property
    def engine(self) -> Engine:
        """This thread's engine: compiled rules are bound to the thread that compiled them
        (YARA-X scanners refuse to move), so each worker thread compiles once."""
        engine: Engine | None = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._local.engine = self._make_engine()
        return engine

    def run(self, job: Job) -> None:
        """Runs a claimed job to completion, or hands it back to the queue with its error."""
        try:
            if job.kind == CHANGE:
                self._change(job)
            elif job.kind == ARCHIVE:
                self._archive(job)
            else:
                self.queue.fail(job, f"unknown job kind {job.kind!r}", retry=False)
        except LeaseLost as exc:
            log.warning("%s", exc)
        except RegistryUnavailable as exc:
            metrics.JOB_ERRORS.labels(job.kind).inc()
            log.info("job %s (%s): registry unavailable, retried later: %s", job.id, job.kind, exc)
            self.queue.fail(job, f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            metrics.JOB_ERRORS.labels(job.kind).inc()
            log.exception("job %s (%s) failed", job.id, job.kind)
            self.queue.fail(job, f"{type(exc).__name__}: {exc}")

    # -- change: what does the registry say now? -------------------------------------------

    def _change(self, job: Job) -> None:
        change = Change.from_dict(dict(job.payload))
        releases = self.registries[change.ecosystem].resolve(change)
        with work_session(self.database) as session:
            self.queue.complete(session, job)
            if not releases and change.kind in _GONE:
                _set_state(session, change.ecosystem, change.name, None, ReleaseState.REMOVED)
            specs: list[JobSpec] = []
            for release in releases:
                specs.extend(self._new_files(session, release))
            self.queue.enqueue(session, specs)

    def _oldest(self) -> datetime:
        return datetime.now(UTC) - self.backlog

    def _new_files(self, session: Session, release: Release) -> list[JobSpec]:
        known = _set_state(session, release.ecosystem, release.name, release.version, release.state)
        if release.state is not ReleaseState.PUBLISHED:
            return []
        old = release.published_at is not None and release.published_at < self._oldest()
        if not known and old:
            return []
        done = _analysed_files(session, release) if known else set()
        return [archive_job(release, file) for file in release.files if file.filename not in done]

    # -- archive: fetch, verify, analyse, record ---------------------------------------------

    def _archive(self, job: Job) -> None:
        ecosystem, name, version, published_at, file = archive_payload(dict(job.payload))
        record = ArchiveRecord(
            ecosystem, name, version, file.filename, "", file.size or 0, published_at, file.url
        )
        with work_session(self.database) as session:
            already = _analysed_files_of(session, ecosystem, name, version)
        if file.filename in already:
            with work_session(self.database) as session:
                self.queue.complete(session, job)
            return
        try:
            download = self.registries[ecosystem].download(file)
        except (DigestMismatch, DigestMissing, ArchiveTooLarge, RegistryNotFound) as exc:
            self._problem(job, record, exc)
            return
        metrics.DOWNLOAD_BYTES.labels(ecosystem).inc(len(download.content))
        record = ArchiveRecord(
            ecosystem,
            name,
            version,
            file.filename,
            download.sha256,
            len(download.content),
            published_at,
            file.url,
        )
        analysis, elapsed_ms = self._analyse(record, download.content)
        with work_session(self.database) as session:
            self.queue.complete(session, job)
            recorded = record_analysis(session, record, analysis, elapsed_ms)
            if recorded.new:
                self._mark_known_malware(session, recorded.package_id, record.sha256)
        metrics.ANALYSED.labels(ecosystem).inc()
        if analysis.flagged:
            metrics.FLAGGED.labels(ecosystem).inc()

    def _analyse(self, record: ArchiveRecord, content: bytes) -> tuple[Analysis, float]:
        """The engine's analysis, or this engine version's earlier one of the same bytes."""
        with work_session(self.database) as session:
            earlier = _earlier_analysis(session, record)
        if earlier is not None:
            return earlier
        started = time.perf_counter()
        analysis = self.engine.analyze(content)
        elapsed = time.perf_counter() - started
        metrics.ANALYSIS_SECONDS.observe(elapsed)
        return analysis, elapsed * 1000

    def _problem(self, job: Job, record: ArchiveRecord, exc: ThreatfeedError) -> None:
        status = {
            DigestMismatch: "digest_mismatch",
            ArchiveTooLarge: "too_large",
            DigestMissing: "unverifiable",
            RegistryNotFound: "gone",
        }[type(exc)]
        metrics.FAILED.labels(record.ecosystem, status).inc()
        log.warning("%s/%s@%s %s: %s", record.ecosystem, record.name, record.version, status, exc)
        with work_session(self.database) as session:
            self.queue.complete(session, job)
            record_problem(session, record, status, str(exc))

    def _mark_known_malware(self, session: Session, package_id: int, sha256: str) -> None:
        """The same bytes as a version already confirmed malicious are malicious, at once."""
        twin = _confirmed_twin(session, package_id, sha256)
        if twin is None:
            return
        reason = (
            f"identical archive (sha256 {sha256}) to {twin.ecosystem}/{twin.name}@{twin.version},"
            " confirmed malicious"
        )
        try:
            decide(session, [package_id], Kind.MALICIOUS, reason, PIPELINE_AUTHOR)
        except ThreatfeedError as exc:  # already decided: the researcher's word stands
            log.info("not marking package %s: %s", package_id, exc)


def _set_state(
    session: Session, ecosystem: str, name: str, version: str | None, state: ReleaseState
) -> bool:
    """Records what the registry says of known versions; whether any was known."""
    where = [Package.ecosystem == ecosystem, Package.name == name]
    if version is not None:
        where.append(Package.version == version)
    result = session.execute(
        update(Package)
        .where(*where, Package.registry_state != state.value)
        .values(registry_state=state.value)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return True
    return session.scalar(select(Package.id).where(*where).limit(1)) is not None


def _analysed_files_of(session: Session, ecosystem: str, name: str, version: str) -> set[str]:
    """Files of the version this engine version has analysed (problems are tried again)."""
    analysed = (
        select(Archive.filename)
        .join(Package)
        .join(AnalysisRow, AnalysisRow.archive_id == Archive.id)
        .where(
            Package.ecosystem == ecosystem,
            Package.name == name,
            Package.version == version,
            AnalysisRow.engine_version == ENGINE_VERSION,
        )
    )
    return set(session.scalars(analysed))


def _analysed_files(session: Session, release: Release) -> set[str]:
    return _analysed_files_of(session, release.ecosystem, release.name, release.version)


def _earlier_analysis(session: Session, record: ArchiveRecord) -> tuple[Analysis, float] | None:
    row = session.scalars(
        select(AnalysisRow)
        .join(Archive, AnalysisRow.archive_id == Archive.id)
        .where(Archive.sha256 == record.sha256, AnalysisRow.engine_version == ENGINE_VERSION)
        .limit(1)
    ).first()
    if row is None:
        return None
    analysis = Analysis(
        ecosystem=record.ecosystem,
        name=record.name,
        version=record.version,
        sha256=record.sha256,
        score=row.score,
        flagged=row.flagged,
        indicators=row.indicators,
        locations=tuple(Location(**_location(item)) for item in row.locations),
        errors=tuple(str(error) for error in row.errors),
        files=tuple((str(path), int(size)) for path, size in row.files),
        engine_version=row.engine_version,
    )
    return analysis, 0.0


def _location(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: item.get(key) for key in ("rule", "file", "line", "excerpt")}


def _confirmed_twin(session: Session, package_id: int, sha256: str) -> Package | None:
    twins = session.scalars(
        select(Package)
        .join(Archive)
        .where(Archive.sha256 == sha256, Package.id != package_id)
        .distinct()
    ).all()
    for twin in twins:
        latest = session.scalar(
            select(Verdict.verdict)
            .where(Verdict.package_id == twin.id)
            .order_by(Verdict.created_at.desc(), Verdict.id.desc())
            .limit(1)
        )
        if latest == Kind.MALICIOUS.value:
            return twin
    return None
