"""The queue for many machines: our jobs table as an outbox, relayed to procrastinate on PostgreSQL.

Why an outbox rather than deferring procrastinate jobs directly: a watcher's
cursor and the jobs its poll produced must commit in one transaction, and
procrastinate defers through its own connection (its SQLAlchemy connector is
for psycopg2 only; we run psycopg 3). So the jobs are written to our ``jobs``
table in the caller's transaction, exactly as on the embedded queue, and a relay
(a thread in every ``threatfeed worker`` and ``threatfeed watch``) hands them
to procrastinate, several row ids per procrastinate task (a task's own cost,
procrastinate's fetch and finish, is paid once per batch), with a queueing lock
named after the rows, so relaying the same rows twice queues them once. The
worker leases the rows, runs the jobs and completes the rows in the results'
transaction, so the table stays the one truth, and the exactly-once argument is
the embedded queue's. A worker killed mid-job leaves its rows leased; when the
leases expire the relay hands the rows to procrastinate again, and the task the
dead worker left ``doing`` is retried once procrastinate sees its heartbeat stop.

Procrastinate's schema is applied at start when missing (under an advisory lock,
so many workers starting at once apply it once), like our own migrations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import procrastinate
from procrastinate import sql as procrastinate_sql
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager
from procrastinate.types import JSONValue
from sqlalchemy import and_, make_url, or_, select, text, update
from sqlalchemy.orm import Session

from threatfeed.pipeline.embedded import EmbeddedQueue
from threatfeed.pipeline.process import Processor
from threatfeed.pipeline.queue import Failure, Job, JobSpec, JobState, QueueStats
from threatfeed.pipeline.sessions import work_session
from threatfeed.pipeline.worker import BATCH, Held, renew_leases
from threatfeed.store import Database
from threatfeed.store.models import Job as JobRow
from threatfeed.store.models import utcnow

log = logging.getLogger(__name__)

TASK = "threatfeed.run_job"
QUEUE = "threatfeed"
RELAY_GRACE = timedelta(seconds=30)
_SCHEMA_LOCK = 0x74667072  # any constant shared by every process applying the schema


def conninfo(database: Database) -> str:
    """The libpq URI of the SQLAlchemy URL (same server, database and search_path)."""
    url = make_url(database.url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def ensure_schema(database: Database) -> bool:
    """Applies procrastinate's schema when it is missing; whether it did."""
    with database.engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        if connection.scalar(text("SELECT to_regclass('procrastinate_jobs')")) is not None:
            return False
        connection.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))
    log.info("procrastinate schema applied")
    return True


class ProcrastinateQueue:
    def __init__(
        self,
        database: Database,
        *,
        lease_seconds: float = 300.0,
        retention_seconds: float = 86400.0,
        batch: int = BATCH,
        stalled_seconds: float = 30.0,
    ) -> None:
        """``batch``: job ids per procrastinate task; ``stalled_seconds``: how long a
        procrastinate worker may miss its heartbeat before its tasks are retried."""
        ensure_schema(database)
        self.database = database
        self.table = EmbeddedQueue(
            database, lease_seconds=lease_seconds, retention_seconds=retention_seconds
        )
        self.batch = batch
        self.stalled_seconds = stalled_seconds
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=conninfo(database))
        )
        self._processor: Processor | None = None
        self._relay: procrastinate.App | None = None
        self._engine_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job")
        self._store_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._worker = "procrastinate"
        self._held = Held()
        self.task = self.app.task(name=TASK, queue=QUEUE)(self._run)

    @property
    def lease_seconds(self) -> float:
        return self.table.lease_seconds

    # -- the queue interface: the table's, with the relay in between -------------------------

    def enqueue(self, session: Session, specs: Sequence[JobSpec]) -> int:
        return self.table.enqueue(session, specs)

    def claim(self, worker: str) -> Job | None:
        return self.table.claim(worker)

    def claim_batch(self, worker: str, limit: int) -> list[Job]:
        return self.table.claim_batch(worker, limit)

    def complete(self, session: Session, job: Job) -> None:
        self.table.complete(session, job)

    def complete_batch(self, session: Session, jobs: Sequence[Job]) -> set[int]:
        return self.table.complete_batch(session, jobs)

    def fail(
        self, job: Job, error: str, *, retry: bool = True, session: Session | None = None
    ) -> None:
        self.table.fail(job, error, retry=retry, session=session)

    def renew(self, jobs: Sequence[Job]) -> int:
        return self.table.renew(jobs)

    def stats(self) -> QueueStats:
        return self.table.stats()

    def failures(self, limit: int = 10) -> list[Failure]:
        return self.table.failures(limit)

    def housekeeping(self) -> list[Callable[[threading.Event], None]]:
        return [self.relay_forever]

    # -- relay ---------------------------------------------------------------------------

    def relay(self, limit: int = 512) -> int:
        """Hands due rows (new, retried, or whose lease expired) to procrastinate,
        ``batch`` row ids per procrastinate task.

        The rows are marked first and deferred after that commit: a worker handed
        the job at once must find the row unlocked. A row marked but never deferred
        (the relay died in between) is handed over again after ``RELAY_GRACE``; a
        duplicate procrastinate task finds its rows done or leased and does nothing.
        """
        now = utcnow()
        with work_session(self.database) as session:
            rows = session.execute(
                select(JobRow.id, JobRow.run_after)
                .where(
                    or_(
                        and_(
                            JobRow.relayed.is_(False),
                            or_(
                                JobRow.state == JobState.QUEUED.value,
                                and_(
                                    JobRow.state == JobState.RUNNING.value,
                                    JobRow.lease_until < now,
                                ),
                            ),
                        ),
                        and_(
                            JobRow.relayed.is_(True),
                            JobRow.state == JobState.QUEUED.value,
                            JobRow.updated_at < now - RELAY_GRACE,
                            JobRow.run_after < now - RELAY_GRACE,
                        ),
                    )
                )
                .order_by(JobRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if rows:
                session.execute(
                    update(JobRow)
                    .where(JobRow.id.in_([job_id for job_id, _ in rows]))
                    .values(relayed=True, updated_at=now)
                )
        due = [job_id for job_id, run_after in rows if run_after <= now]
        later = [(job_id, run_after) for job_id, run_after in rows if run_after > now]
        for start in range(0, len(due), self.batch):
            self._defer(due[start : start + self.batch], None)
        for job_id, run_after in later:  # retries with their own backoff: one by one
            self._defer([job_id], run_after)
        return len(rows)

    def _defer(self, job_ids: list[int], schedule_at: datetime | None) -> None:
        deferrer = self._relay_app().configure_task(
            TASK,
            queue=QUEUE,
            queueing_lock=f"threatfeed-jobs-{job_ids[0]}-{job_ids[-1]}",
            schedule_at=schedule_at,
        )
        with contextlib.suppress(AlreadyEnqueued):  # relayed before: once is enough
            deferrer.defer(job_ids=list[JSONValue](job_ids))

    def _relay_app(self) -> procrastinate.App:
        """A synchronous app of its own: the relay runs in a thread, beside the worker's loop."""
        if self._relay is None:
            self._relay = procrastinate.App(
                connector=procrastinate.SyncPsycopgConnector(conninfo=conninfo(self.database))
            )
            self._relay.open()
        return self._relay

    def retry_stalled(self) -> int:
        """Retries the procrastinate tasks left ``doing`` by a worker that died (SIGKILL, a
        lost machine): procrastinate notices by the worker's missing heartbeat.

        Our rows would run again anyway (their leases expire and the relay hands them
        over again), but the stranded tasks would stay ``doing`` for ever; retried, each
        finds its rows done, leased by another worker, or due, and runs what is due.
        """
        app = self._relay_app()
        rows = app.connector.execute_query_all(
            query=procrastinate_sql.queries["select_stalled_jobs_by_heartbeat"],
            queue=QUEUE,
            task_name=TASK,
            seconds_since_heartbeat=self.stalled_seconds,
        )
        for row in rows:
            app.job_manager.retry_job_by_id(row["id"], retry_at=utcnow())
        if rows:
            log.info("retried %d procrastinate task(s) of dead workers", len(rows))
        return len(rows)

    def relay_forever(self, stop: threading.Event, interval: float = 0.5) -> None:
        next_stalled_check = 0.0
        while not stop.is_set():
            try:
                moved = self.relay()
                if time.monotonic() >= next_stalled_check:
                    next_stalled_check = time.monotonic() + self.stalled_seconds / 3
                    self.retry_stalled()
            except Exception as exc:  # the database is away: try again, never die
                log.warning("relay: %s: %s", type(exc).__name__, exc)
                moved = 0
            if not moved:
                stop.wait(interval)

    # -- work ----------------------------------------------------------------------------

    async def _run(self, job_ids: list[int]) -> None:
        """The procrastinate task: lease those of our rows that are due and run them.

        The network part runs on the processor's fetch threads, the engine in our one
        engine thread, the store in our one store thread; with three tasks at a time,
        one task's downloads and another's transaction overlap this one's analysis.
        """
        processor = self._processor
        if processor is None:
            raise RuntimeError("this process has no processor; run it with serve_worker()")
        loop = asyncio.get_running_loop()
        jobs = await loop.run_in_executor(None, self.table.claim_ids, job_ids, self._worker)
        if not jobs:  # done meanwhile, or another worker holds the lease
            return
        self._held.add(jobs)
        try:
            fetched = await loop.run_in_executor(None, processor.fetch, jobs)
            outcomes = await loop.run_in_executor(self._engine_thread, processor.analyse, fetched)
            await loop.run_in_executor(self._store_thread, processor.store, outcomes)
        finally:
            self._held.remove(jobs)

    def serve_worker(self, processor: Processor, name: str, stop: threading.Event) -> None:
        """Runs procrastinate's worker in this process (three tasks at a time) until a signal.

        The engine runs in one dedicated thread, where it is compiled once, before
        the first job, and freed after the last (compiled rules cannot move between
        threads).
        """
        self._processor = processor
        self._worker = name
        self._engine_thread.submit(lambda: processor.engine).result()
        for loop in (
            self.relay_forever,
            lambda event: renew_leases(self, self._held, event, self.lease_seconds / 3),
        ):
            threading.Thread(target=loop, args=(stop,), daemon=True).start()
        try:
            self.app.run_worker(
                queues=[QUEUE],
                concurrency=3,
                name=name,
                wait=True,
                delete_jobs="always",
                install_signal_handlers=True,
            )
        finally:
            stop.set()
            self._engine_thread.submit(processor.release_engine).result()
