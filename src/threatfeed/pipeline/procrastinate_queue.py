"""The queue for many machines: our jobs table as an outbox, relayed to procrastinate on PostgreSQL.

Why an outbox rather than deferring procrastinate jobs directly: a watcher's
cursor and the jobs its poll produced must commit in one transaction, and
procrastinate defers through its own connection (its SQLAlchemy connector is
for psycopg2 only; we run psycopg 3). So the jobs are written to our ``jobs``
table in the caller's transaction, exactly as on the embedded queue, and a relay
(a thread in every ``threatfeed worker`` and ``threatfeed watch``) hands each one
to procrastinate with a queueing lock ``threatfeed-job-<id>``, so relaying twice
queues it once. The procrastinate task only carries the job id: the worker
leases the row, runs the job and completes the row in the results' transaction,
so the table stays the one truth, and the exactly-once argument is the embedded
queue's. A worker killed mid-job leaves its row leased; when the lease expires
the relay hands the row to procrastinate again.

Procrastinate's schema is applied at start when missing (under an advisory lock,
so many workers starting at once apply it once), like our own migrations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager
from sqlalchemy import and_, make_url, or_, select, text, update
from sqlalchemy.orm import Session

from threatfeed.pipeline.embedded import EmbeddedQueue
from threatfeed.pipeline.process import Processor
from threatfeed.pipeline.queue import Failure, Job, JobSpec, JobState, QueueStats
from threatfeed.pipeline.sessions import work_session
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
    def __init__(self, database: Database, *, lease_seconds: float = 300.0) -> None:
        ensure_schema(database)
        self.database = database
        self.table = EmbeddedQueue(database, lease_seconds=lease_seconds)
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=conninfo(database))
        )
        self._processor: Processor | None = None
        self._relay: procrastinate.App | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job")
        self._worker = "procrastinate"
        self.task = self.app.task(name=TASK, queue=QUEUE)(self._run)

    # -- the queue interface: the table's, with the relay in between -------------------------

    def enqueue(self, session: Session, specs: Sequence[JobSpec]) -> int:
        return self.table.enqueue(session, specs)

    def claim(self, worker: str) -> Job | None:
        return self.table.claim(worker)

    def complete(self, session: Session, job: Job) -> None:
        self.table.complete(session, job)

    def fail(self, job: Job, error: str, *, retry: bool = True) -> None:
        self.table.fail(job, error, retry=retry)

    def stats(self) -> QueueStats:
        return self.table.stats()

    def failures(self, limit: int = 10) -> list[Failure]:
        return self.table.failures(limit)

    def housekeeping(self) -> list[Callable[[threading.Event], None]]:
        return [self.relay_forever]

    # -- relay ---------------------------------------------------------------------------

    def relay(self, limit: int = 500) -> int:
        """Hands due rows (new, retried, or whose lease expired) to procrastinate.

        The rows are marked first and deferred after that commit: a worker handed
        the job at once must find the row unlocked. A row marked but never deferred
        (the relay died in between) is handed over again after ``RELAY_GRACE``; a
        duplicate procrastinate job finds the row done or leased and does nothing.
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
        for job_id, run_after in rows:
            deferrer = self._relay_app().configure_task(
                TASK,
                queue=QUEUE,
                queueing_lock=f"threatfeed-job-{job_id}",
                schedule_at=run_after if run_after > now else None,
            )
            with contextlib.suppress(AlreadyEnqueued):  # relayed before: once is enough
                deferrer.defer(job_id=job_id)
        return len(rows)

    def _relay_app(self) -> procrastinate.App:
        """A synchronous app of its own: the relay runs in a thread, beside the worker's loop."""
        if self._relay is None:
            self._relay = procrastinate.App(
                connector=procrastinate.SyncPsycopgConnector(conninfo=conninfo(self.database))
            )
            self._relay.open()
        return self._relay

    def relay_forever(self, stop: threading.Event, interval: float = 0.5) -> None:
        while not stop.is_set():
            try:
                moved = self.relay()
            except Exception as exc:  # the database is away: try again, never die
                log.warning("relay: %s: %s", type(exc).__name__, exc)
                moved = 0
            if not moved:
                stop.wait(interval)

    # -- work ----------------------------------------------------------------------------

    async def _run(self, job_id: int) -> None:
        """The procrastinate task: in our one work thread, lease our row (if due) and run it."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._run_sync, job_id)

    def _run_sync(self, job_id: int) -> None:
        if self._processor is None:
            raise RuntimeError("this process has no processor; run it with serve_worker()")
        job = self.table.claim_id(job_id, self._worker)
        if job is None:  # done meanwhile, or another worker holds the lease
            return
        self._processor.run(job)

    def serve_worker(self, processor: Processor, name: str, stop: threading.Event) -> None:
        """Runs procrastinate's worker in this process (one job at a time) until a signal.

        Jobs run in one dedicated thread, where the engine is compiled once, before
        the first job (compiled rules cannot move between threads).
        """
        self._processor = processor
        self._worker = name
        self._thread.submit(lambda: processor.engine).result()
        relay = threading.Thread(target=self.relay_forever, args=(stop,), daemon=True)
        relay.start()
        try:
            self.app.run_worker(
                queues=[QUEUE],
                concurrency=1,
                name=name,
                wait=True,
                delete_jobs="always",
                install_signal_handlers=True,
            )
        finally:
            stop.set()
