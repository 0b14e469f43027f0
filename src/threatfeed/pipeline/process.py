"""Running jobs: a change resolved into archive jobs, an archive fetched, verified, analysed.

Network and analysis happen outside any transaction; a batch of jobs then ends
in one short transaction that completes them *and* stores what they produced,
so a process killed at any moment leaves either nothing (the jobs run again when
their lease expires) or everything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from threatfeed.analysis import ENGINE_VERSION, Analysis, Engine, Location
from threatfeed.errors import ThreatfeedError
from threatfeed.pipeline import metrics
from threatfeed.pipeline.engine_process import EngineProcess
from threatfeed.pipeline.engine_process import Result as EngineResult
from threatfeed.pipeline.ingest import Analysed, ArchiveRecord, record_analyses, record_problem
from threatfeed.pipeline.jobs import ARCHIVE, CHANGE, archive_job, archive_payload
from threatfeed.pipeline.queue import Job, JobSpec, Queue
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
RECENT = 64
"""Analyses an analysis thread remembers by SHA256, for twins not stored yet."""
_GONE = {ChangeKind.PACKAGE_REMOVED, ChangeKind.PACKAGE_CHANGED}


@dataclass(frozen=True)
class Fetched:
    """A claimed job after its network part: what the registry said, or why it failed.

    ``releases`` for a change; ``record`` and ``content`` for an archive (no content:
    already analysed by this engine version, nothing to do); ``problem`` for an
    archive that cannot be analysed as published; ``error`` for a failed attempt.
    """

    job: Job
    releases: tuple[Release, ...] = ()
    record: ArchiveRecord | None = None
    content: bytes | None = None
    problem: tuple[str, str] | None = None
    error: Exception | None = None
    earlier: Analysis | None = None
    """This engine version's analysis of the same bytes, already stored: none to make."""


@dataclass(frozen=True)
class Outcome:
    """A job ready to store: its fetch, and for an archive the analysis."""

    fetched: Fetched
    analysis: Analysis | None = None
    elapsed_ms: float = 0.0


class Processor:
    """Runs jobs against the registries, the engine (compiled on first use) and the store.

    Jobs run in batches, in three stages: :meth:`fetch` (the network: metadata and
    downloads of the whole batch at once, on ``fetch_threads`` threads, bounded
    further by each registry's own concurrency limit), :meth:`analyse` (the engine
    on each archive, in the thread that compiled it or in that thread's engine
    process, one round trip per batch) and :meth:`store` (*one*
    transaction that completes every job still leased and stores everything they
    produced). A worker runs the stages of consecutive batches at once, so downloads
    and database round trips overlap analysis; the fixed cost of a transaction is
    paid once per batch, not per job.
    """

    def __init__(
        self,
        database: Database,
        queue: Queue,
        registries: Mapping[str, Registry],
        *,
        backlog_days: float = 7.0,
        engine: Callable[[], Engine] = Engine,
        fetch_threads: int = 8,
        engine_process: bool = False,
    ) -> None:
        """``engine_process``: analyse in a child process of this one (see
        :mod:`threatfeed.pipeline.engine_process`), for a process whose other threads
        (an API, watchers) would otherwise share the interpreter with the engine."""
        self.database = database
        self.queue = queue
        self.registries = registries
        self.backlog = timedelta(days=backlog_days)
        self._make_engine = engine
        self._local = threading.local()
        self._fetchers = ThreadPoolExecutor(fetch_threads, thread_name_prefix="fetch")
        self._isolated = engine_process
        self._engine_processes: list[EngineProcess] = []

    @property
    def engine(self) -> Engine:
        """This thread's engine: compiled rules are bound to the thread that compiled them
        (YARA-X scanners refuse to move), so each worker thread compiles once."""
        engine: Engine | None = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._local.engine = self._make_engine()
        return engine

    def run(self, job: Job) -> None:
        """Runs one claimed job through the three stages in this thread, or hands it back
        to the queue with its error."""
        self.store(self.analyse(self.fetch([job])))

    def release_engine(self) -> None:
        """Frees this thread's engine, here: each thread that analysed calls it when it
        is done, as only the thread that compiled an engine can free it (see
        ``Engine.close``). A later analysis in this thread compiles another."""
        engine: Engine | None = vars(self._local).pop("engine", None)
        if engine is not None:
            engine.close()

    def close(self) -> None:
        """Stops the fetch threads and the engine processes, and frees the engine of the
        calling thread (the other analysing threads free theirs: ``release_engine``)."""
        self.release_engine()
        self._fetchers.shutdown(wait=False, cancel_futures=True)
        for child in self._engine_processes:
            child.close()

    # -- stage 1: the network ----------------------------------------------------------------

    def fetch(self, jobs: Sequence[Job]) -> list[Fetched]:
        """Every job's requests, concurrently; archives this engine version already
        analysed (one query for the batch) are not downloaded again."""
        archives = [job for job in jobs if job.kind == ARCHIVE]
        done: set[tuple[str, str, str, str]] = set()
        try:
            if archives:  # a batch of changes asks the database nothing here
                with work_session(self.database) as session:
                    done = _analysed_keys(session, archives)
        except Exception as exc:  # the database is away: every job is retried later
            return [Fetched(job, error=exc) for job in jobs]
        return self._with_earlier(self._fetchers.map(lambda job: self._fetch_one(job, done), jobs))

    def _with_earlier(self, batch: Iterable[Fetched]) -> list[Fetched]:
        """The batch, with this engine version's earlier analysis of each download's bytes
        (one query for the batch): looked up here, so that the analysis stage, the
        pipeline's bottleneck, asks the database nothing."""
        batch = list(batch)
        digests = {item.record.sha256 for item in batch if item.record and item.content}
        if not digests:
            return batch
        try:
            with work_session(self.database) as session:
                known = _earlier_analyses(session, digests)
        except Exception as exc:  # the database is away: the downloads are retried later
            return [replace(item, error=exc) if item.content else item for item in batch]
        return [
            replace(item, earlier=known.get(item.record.sha256))
            if item.record is not None and item.content is not None
            else item
            for item in batch
        ]

    def _fetch_one(self, job: Job, done: set[tuple[str, str, str, str]]) -> Fetched:
        try:
            if job.kind == CHANGE:
                change = Change.from_dict(dict(job.payload))
                return Fetched(job, releases=self.registries[change.ecosystem].resolve(change))
            if job.kind == ARCHIVE:
                return self._download(job, done)
            return Fetched(job, error=UnknownJob(f"unknown job kind {job.kind!r}"))
        except Exception as exc:
            return Fetched(job, error=exc)

    def _download(self, job: Job, done: set[tuple[str, str, str, str]]) -> Fetched:
        ecosystem, name, version, published_at, file = archive_payload(dict(job.payload))
        record = ArchiveRecord(
            ecosystem, name, version, file.filename, "", file.size or 0, published_at, file.url
        )
        if (ecosystem, name, version, file.filename) in done:
            return Fetched(job, record=record)
        try:
            download = self.registries[ecosystem].download(file)
        except (DigestMismatch, DigestMissing, ArchiveTooLarge, RegistryNotFound) as exc:
            return Fetched(job, record=record, problem=(_PROBLEMS[type(exc)], str(exc)))
        metrics.DOWNLOAD_BYTES.labels(ecosystem).inc(len(download.content))
        record = replace(record, sha256=download.sha256, size=len(download.content))
        return Fetched(job, record=record, content=download.content)

    # -- stage 2: the engine -----------------------------------------------------------------

    def analyse(self, batch: Sequence[Fetched]) -> list[Outcome]:
        """The batch's jobs ready to store; those that failed are handed back to the queue."""
        outcomes = self._analyse([item for item in batch if item.error is None])
        for item in batch:
            if item.error is not None:
                self._fail(item.job, item.error)
        return outcomes

    def _analyse(self, batch: Sequence[Fetched]) -> list[Outcome]:
        """The engine's analysis of each download, or this engine version's earlier one of
        the same bytes: stored (found by the fetch stage) or made by this thread in its
        last ``RECENT`` analyses (twins in a batch, or in batches not stored yet)."""
        recent: OrderedDict[str, Analysis] | None = getattr(self._local, "recent", None)
        if recent is None:
            recent = self._local.recent = OrderedDict()
        todo: dict[str, bytes] = {}  # each new SHA256 of the batch once
        remembered: dict[str, Analysis] = {}  # taken now: this batch's analyses evict some
        for item in batch:
            if item.record is not None and item.content is not None and item.earlier is None:
                digest = item.record.sha256
                if digest in recent:
                    remembered[digest] = recent[digest]
                else:
                    todo.setdefault(digest, item.content)
        made = dict(zip(todo, self._run_engine(list(todo.values())), strict=True))
        outcomes = []
        for item in batch:
            if item.record is None or item.content is None:
                outcomes.append(Outcome(item))
                continue
            digest = item.record.sha256
            earlier = item.earlier or remembered.get(digest) or recent.get(digest)
            if earlier is not None:
                outcomes.append(Outcome(item, _as_of(earlier, item.record), 0.0))
                continue
            result = made[digest]
            if isinstance(result, Exception):
                self._fail(item.job, result)
                continue
            analysis, elapsed = result
            metrics.ANALYSIS_SECONDS.observe(elapsed)
            recent[digest] = analysis
            if len(recent) > RECENT:
                recent.popitem(last=False)
            outcomes.append(Outcome(item, analysis, elapsed * 1000))
        return outcomes

    def _run_engine(self, contents: Sequence[bytes]) -> list[EngineResult]:
        """The analysis of each archive and its seconds (or why it failed): in this thread's
        engine process if the processor isolates the engine, else in this thread."""
        if self._isolated:
            child: EngineProcess | None = getattr(self._local, "engine_process", None)
            if child is None:
                child = self._local.engine_process = EngineProcess(self._make_engine)
                self._engine_processes.append(child)
            return child.analyze(contents)
        results: list[EngineResult] = []
        for data in contents:
            started = time.perf_counter()
            try:
                results.append((self.engine.analyze(data), time.perf_counter() - started))
            except Exception as exc:
                results.append(exc)
        return results

    # -- stage 3: one transaction --------------------------------------------------------------

    def store(self, outcomes: Sequence[Outcome]) -> None:
        """Completes and stores the batch in one transaction (or, if that fails, each job in
        one of its own, so that only the job at fault is retried)."""
        if not outcomes:
            return
        try:
            self._store(outcomes)
        except Exception as exc:
            if len(outcomes) == 1:
                self._fail(outcomes[0].fetched.job, exc)
                return
            # One job's results conflicted (another worker stored the same package...):
            # each is stored on its own, so only the conflicting one is retried.
            for outcome in outcomes:
                try:
                    self._store([outcome])
                except Exception as again:
                    self._fail(outcome.fetched.job, again)

    def _store(self, outcomes: Sequence[Outcome]) -> None:
        """One transaction: completion of every job still leased, with its results."""
        with work_session(self.database) as session:
            held = self.queue.complete_batch(session, [o.fetched.job for o in outcomes])
            kept = [o for o in outcomes if o.fetched.job.id in held]
            for outcome in outcomes:
                if outcome.fetched.job.id not in held:
                    log.warning("job %s was taken over by another worker", outcome.fetched.job.id)
            changes = [o.fetched for o in kept if o.fetched.job.kind == CHANGE]
            self.queue.enqueue(session, self._changed(session, changes))
            problems = [
                (o.fetched.record, *o.fetched.problem)
                for o in kept
                if o.fetched.record is not None and o.fetched.problem is not None
            ]
            for record, status, message in problems:
                record_problem(session, record, status, message)
            analysed = [
                Analysed(o.fetched.record, o.analysis, o.elapsed_ms)
                for o in kept
                if o.fetched.record is not None and o.analysis is not None
            ]
            recorded = record_analyses(session, analysed)
            pairs = list(zip(analysed, recorded, strict=True))
            twins = _malicious_digests(session, {item.record.sha256 for item, r in pairs if r.new})
            for item, result in pairs:
                if result.new and item.record.sha256 in twins:
                    self._mark_known_malware(session, result.package_id, item.record.sha256)
        for record, status, message in problems:  # counted once committed
            metrics.FAILED.labels(record.ecosystem, status).inc()
            where = f"{record.ecosystem}/{record.name}@{record.version}"
            log.warning("%s %s: %s", where, status, message)
        for item in analysed:
            metrics.ANALYSED.labels(item.record.ecosystem).inc()
            if item.analysis.flagged:
                metrics.FLAGGED.labels(item.record.ecosystem).inc()

    def _fail(self, job: Job, exc: Exception) -> None:
        metrics.JOB_ERRORS.labels(job.kind).inc()
        if isinstance(exc, RegistryUnavailable):
            log.info("job %s (%s): registry unavailable, retried later: %s", job.id, job.kind, exc)
        else:
            log.error("job %s (%s) failed: %s: %s", job.id, job.kind, type(exc).__name__, exc)
        try:
            self.queue.fail(
                job, f"{type(exc).__name__}: {exc}", retry=not isinstance(exc, UnknownJob)
            )
        except Exception as again:  # the database is away: the lease expires, it runs again
            log.warning("job %s: cannot record its failure: %s", job.id, again)

    # -- change: what does the registry say now? -------------------------------------------

    def _changed(self, session: Session, changes: Sequence[Fetched]) -> list[JobSpec]:
        """The archive jobs of the new files the registry named, for a batch of changes:
        one query for the versions already known, one for their files already analysed."""
        for fetched in changes:
            change = Change.from_dict(dict(fetched.job.payload))
            if not fetched.releases and change.kind in _GONE:
                _set_state(session, change.ecosystem, change.name, None, ReleaseState.REMOVED)
        releases = [release for fetched in changes for release in fetched.releases]
        if not releases:
            return []
        keys = {(r.ecosystem, r.name, r.version) for r in releases}
        known = {
            (row.ecosystem, row.name, row.version): (row.id, row.registry_state)
            for row in session.execute(
                select(
                    Package.id,
                    Package.ecosystem,
                    Package.name,
                    Package.version,
                    Package.registry_state,
                ).where(tuple_(Package.ecosystem, Package.name, Package.version).in_(sorted(keys)))
            )
        }
        done = _analysed(session, [key for key in keys if key in known])
        oldest = datetime.now(UTC) - self.backlog
        specs: list[JobSpec] = []
        for release in releases:
            key = (release.ecosystem, release.name, release.version)
            if key in known and known[key][1] != release.state.value:
                session.execute(
                    update(Package)
                    .where(Package.id == known[key][0])
                    .values(registry_state=release.state.value)
                )
            if release.state is not ReleaseState.PUBLISHED:
                continue
            published = release.published_at
            if key not in known and published is not None and published < oldest:
                continue  # first seen long after it was published: backlog, not news
            specs.extend(
                archive_job(release, file)
                for file in release.files
                if (*key, file.filename) not in done
            )
        return specs

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


class UnknownJob(ThreatfeedError):
    """A job of a kind this version does not know: failed for good, not retried."""


_PROBLEMS: dict[type[Exception], str] = {
    DigestMismatch: "digest_mismatch",
    ArchiveTooLarge: "too_large",
    DigestMissing: "unverifiable",
    RegistryNotFound: "gone",
}


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


def _analysed_keys(session: Session, jobs: Sequence[Job]) -> set[tuple[str, str, str, str]]:
    """The archive jobs' files this engine version has analysed already."""
    keys = {(job.payload["ecosystem"], job.payload["name"], job.payload["version"]) for job in jobs}
    return _analysed(session, keys)


def _analysed(
    session: Session, keys: Collection[tuple[str, str, str]]
) -> set[tuple[str, str, str, str]]:
    """(ecosystem, name, version, filename) of the files of these versions that this
    engine version has analysed, in one query (problems are tried again)."""
    if not keys:
        return set()
    rows = session.execute(
        select(Package.ecosystem, Package.name, Package.version, Archive.filename)
        .join(Archive, Archive.package_id == Package.id)
        .join(AnalysisRow, AnalysisRow.archive_id == Archive.id)
        .where(
            tuple_(Package.ecosystem, Package.name, Package.version).in_(sorted(keys)),
            AnalysisRow.engine_version == ENGINE_VERSION,
        )
    )
    return {(r[0], r[1], r[2], r[3]) for r in rows}


def _malicious_digests(session: Session, digests: set[str]) -> set[str]:
    """Which of these SHA256 belong to an archive of a version ever judged malicious:
    one query for a batch, before the exact check (latest verdict) of the few it finds."""
    if not digests:
        return set()
    return set(
        session.scalars(
            select(Archive.sha256)
            .join(Verdict, Verdict.package_id == Archive.package_id)
            .where(Archive.sha256.in_(sorted(digests)), Verdict.verdict == Kind.MALICIOUS.value)
            .distinct()
        )
    )


def _earlier_analyses(session: Session, digests: set[str]) -> dict[str, Analysis]:
    """This engine version's analyses of any of these bytes, by SHA256."""
    if not digests:
        return {}
    rows = session.execute(
        select(Archive.sha256, AnalysisRow)
        .join(Archive, AnalysisRow.archive_id == Archive.id)
        .where(Archive.sha256.in_(sorted(digests)), AnalysisRow.engine_version == ENGINE_VERSION)
    ).all()
    found: dict[str, Analysis] = {}
    for sha256, row in rows:
        assert sha256 is not None
        found[sha256] = Analysis(
            ecosystem=None,
            name=None,
            version=None,
            sha256=sha256,
            score=row.score,
            flagged=row.flagged,
            indicators=row.indicators,
            locations=tuple(Location(**_location(item)) for item in row.locations),
            errors=tuple(str(error) for error in row.errors),
            files=tuple((str(path), int(size)) for path, size in row.files),
            engine_version=row.engine_version,
        )
    return found


def _as_of(analysis: Analysis, record: ArchiveRecord) -> Analysis:
    """An analysis of the same bytes, told of this record's package."""
    return replace(analysis, ecosystem=record.ecosystem, name=record.name, version=record.version)


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
