"""The embedded queue: the ``jobs`` table of the service's own database (SQLite by default).

Every write is one short statement-led transaction: a claim (of one job or a
batch) is a single ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING``, so on SQLite it takes
the write lock at its first statement (waiting under ``busy_timeout``, never
upgrading a read lock, which is how SQLite writers deadlock), and on PostgreSQL
the inner select skips rows other workers hold (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from threatfeed.pipeline.queue import Failure, Job, JobSpec, JobState, LeaseLost, QueueStats
from threatfeed.pipeline.sessions import work_session
from threatfeed.store import Database
from threatfeed.store.models import Job as JobRow
from threatfeed.store.models import table, utcnow

_ACTIVE = text("state IN ('queued', 'running')")
_PRUNE_BATCH = 5000


class EmbeddedQueue:
    def __init__(
        self,
        database: Database,
        *,
        lease_seconds: float = 300.0,
        backoff_base: float = 2.0,
        backoff_cap: float = 600.0,
        jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.0),
        sweep_seconds: float = 10.0,
        retention_seconds: float = 86400.0,
    ) -> None:
        """``sweep_seconds``: how often a claim also fails the jobs whose every attempt
        died with its worker and prunes done jobs older than ``retention_seconds``
        (rare, so not at every claim)."""
        self.database = database
        self.lease_seconds = lease_seconds
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._jitter = jitter
        self._sweep_seconds = sweep_seconds
        self.retention_seconds = retention_seconds
        self._next_sweep = 0.0

    # -- producing ---------------------------------------------------------------------

    def enqueue(self, session: Session, specs: Sequence[JobSpec]) -> int:
        if not specs:
            return 0
        now = utcnow()
        rows = [
            {
                "kind": spec.kind,
                "payload": dict(spec.payload),
                "dedupe_key": spec.dedupe_key,
                "state": JobState.QUEUED.value,
                "attempts": 0,
                "max_attempts": spec.max_attempts,
                "run_after": now,
                "relayed": False,
                "created_at": now,
                "updated_at": now,
            }
            for spec in specs
        ]
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        jobs = table(JobRow)
        statement = (  # one executemany of a statement compiled once (see store.models.table)
            dialect.insert(jobs)
            .on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=_ACTIVE)
            .returning(jobs.c.id)
        )
        return len(session.execute(statement, rows).all())

    # -- consuming ---------------------------------------------------------------------

    def claim(self, worker: str) -> Job | None:
        jobs = self.claim_batch(worker, 1)
        return jobs[0] if jobs else None

    def claim_batch(self, worker: str, limit: int) -> list[Job]:
        return self._claim(worker, self._due(utcnow()), limit)

    def claim_ids(self, job_ids: Sequence[int], worker: str) -> list[Job]:
        """Leases those of the given jobs that are due (procrastinate hands workers job ids)."""
        due = and_(JobRow.id.in_(list(job_ids)), self._due(utcnow()))
        return self._claim(worker, due, len(job_ids))

    def _due(self, now: datetime) -> ColumnElement[bool]:
        """Queued and past ``run_after``, or running on an expired lease with attempts left.

        Written as the active-state term of ``ix_jobs_active_id`` (a partial index of the
        queued and running jobs in id order) and a ``CASE`` rather than an ``OR`` of two
        state branches: an ``OR`` leads both planners to collect every due job through
        ``ix_jobs_state_run_after`` and sort them, and SQLite with ``ANALYZE`` statistics
        to scan the whole table, done jobs included. This way a claim reads the active
        jobs in id order until it has its batch, however many done jobs the table keeps.
        """
        return and_(
            _ACTIVE,
            case(
                (JobRow.state == JobState.QUEUED.value, JobRow.run_after <= now),
                else_=and_(JobRow.lease_until < now, JobRow.attempts < JobRow.max_attempts),
            ),
        )

    def _claim(self, worker: str, due: ColumnElement[bool], limit: int) -> list[Job]:
        """One ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING``: a batch costs one
        statement and one commit, however many jobs it holds; one token leases them all."""
        now = utcnow()
        token = secrets.token_hex(16)
        candidates = (
            select(JobRow.id)
            .where(due)
            .order_by(JobRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(JobRow)
            .where(JobRow.id.in_(candidates))
            .values(
                state=JobState.RUNNING.value,
                attempts=JobRow.attempts + 1,
                lease_until=now + timedelta(seconds=self.lease_seconds),
                lease_token=token,
                worker=worker[:128],
                relayed=False,
                updated_at=now,
            )
            .returning(JobRow.id, JobRow.kind, JobRow.payload, JobRow.attempts, JobRow.max_attempts)
        )
        with work_session(self.database) as session:
            if time.monotonic() >= self._next_sweep:  # rare events: look now and then
                self._next_sweep = time.monotonic() + self._sweep_seconds
                self._give_up_on_dead_leases(session, now)
                self._prune(session, now)
            rows = session.execute(statement).all()
        jobs = [Job(r.id, r.kind, r.payload, r.attempts, r.max_attempts, token) for r in rows]
        return sorted(jobs, key=lambda job: job.id)

    def _give_up_on_dead_leases(self, session: Session, now: datetime) -> None:
        """A job that killed its worker on every attempt is failed, not retried for ever."""
        session.execute(
            update(JobRow)
            .where(
                JobRow.state == JobState.RUNNING.value,
                JobRow.lease_until < now,
                JobRow.attempts >= JobRow.max_attempts,
            )
            .values(
                state=JobState.FAILED.value,
                lease_token=None,
                last_error="the worker died (lease expired) on every attempt",
                updated_at=now,
            )
        )

    def _prune(self, session: Session, now: datetime) -> int:
        """Deletes done jobs older than the retention, a bounded number per sweep.

        Nothing depends on them: what was analysed is in ``analyses`` (idempotency
        is checked there), and dedupe only concerns queued and running jobs. Failed
        jobs are kept: they are what an operator looks at. A done job ran after its
        ``run_after``, so ``run_after < cutoff`` holds for every one to delete and
        bounds the read of ``ix_jobs_state_run_after`` to them (and the few that waited
        longer than the retention to run), not every done job at every sweep.
        """
        cutoff = now - timedelta(seconds=self.retention_seconds)
        old = (
            select(JobRow.id)
            .where(
                JobRow.state == JobState.DONE.value,
                JobRow.run_after < cutoff,  # implied (a job runs after run_after): an index range
                JobRow.updated_at < cutoff,
            )
            .limit(_PRUNE_BATCH)
        )
        result = session.execute(delete(JobRow).where(JobRow.id.in_(old)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def prune(self) -> int:
        """Prunes now (the sweep of a claim does it every ``sweep_seconds``)."""
        with work_session(self.database) as session:
            return self._prune(session, utcnow())

    def complete(self, session: Session, job: Job) -> None:
        if job.id not in self.complete_batch(session, [job]):
            raise LeaseLost(f"job {job.id} was taken over by another worker")

    def complete_batch(self, session: Session, jobs: Sequence[Job]) -> set[int]:
        if not jobs:
            return set()
        result = session.execute(
            update(JobRow)
            .where(
                JobRow.id.in_([job.id for job in jobs]),
                JobRow.lease_token.in_({job.token for job in jobs}),
                JobRow.state == JobState.RUNNING.value,
            )
            .values(state=JobState.DONE.value, lease_until=None, updated_at=utcnow())
            .returning(JobRow.id, JobRow.lease_token)
        )
        tokens = {job.id: job.token for job in jobs}
        return {row.id for row in result if tokens[row.id] == row.lease_token}

    def fail(
        self, job: Job, error: str, *, retry: bool = True, session: Session | None = None
    ) -> None:
        if session is None:
            with work_session(self.database) as own:
                self.fail(job, error, retry=retry, session=own)
            return
        now = utcnow()
        again = retry and job.attempts < job.max_attempts
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (job.attempts - 1)) * self._jitter()
        session.execute(
            update(JobRow)
            .where(JobRow.id == job.id, JobRow.lease_token == job.token)
            .values(
                state=(JobState.QUEUED if again else JobState.FAILED).value,
                run_after=now + timedelta(seconds=delay) if again else now,
                lease_until=None,
                lease_token=None,
                relayed=False,
                last_error=error[:4000].replace("\x00", "\\x00"),
                updated_at=now,
            )
        )

    def renew(self, jobs: Sequence[Job]) -> int:
        if not jobs:
            return 0
        now = utcnow()
        with work_session(self.database) as session:
            result = session.execute(
                update(JobRow)
                .where(
                    JobRow.id.in_([job.id for job in jobs]),
                    JobRow.lease_token.in_({job.token for job in jobs}),
                    JobRow.state == JobState.RUNNING.value,
                )
                .values(lease_until=now + timedelta(seconds=self.lease_seconds))
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def housekeeping(self) -> list[Callable[[threading.Event], None]]:
        return []

    # -- observing ---------------------------------------------------------------------

    def stats(self) -> QueueStats:
        now = utcnow()
        with work_session(self.database) as session:
            counts = session.execute(select(JobRow.state, func.count()).group_by(JobRow.state))
            by_state = {row[0]: row[1] for row in counts}
            ready = session.scalar(
                select(func.count())
                .select_from(JobRow)
                .where(JobRow.state == JobState.QUEUED.value, JobRow.run_after <= now)
            )
        return QueueStats(by_state=by_state, ready=ready or 0)

    def failures(self, limit: int = 10) -> list[Failure]:
        with work_session(self.database) as session:
            rows = session.scalars(
                select(JobRow)
                .where(JobRow.last_error.is_not(None))
                .order_by(JobRow.updated_at.desc(), JobRow.id.desc())
                .limit(limit)
            ).all()
            return [
                Failure(
                    row.id,
                    row.kind,
                    row.last_error or "",
                    row.attempts,
                    row.updated_at,
                    row.state == JobState.FAILED.value,
                )
                for row in rows
            ]
