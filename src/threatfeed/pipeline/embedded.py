"""The embedded queue: the ``jobs`` table of the service's own database (SQLite by default).

Every write is one short statement-led transaction: a claim is a single
``UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING``, so on SQLite it takes
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

from sqlalchemy import ColumnElement, and_, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from threatfeed.pipeline.queue import Failure, Job, JobSpec, JobState, LeaseLost, QueueStats
from threatfeed.pipeline.sessions import work_session
from threatfeed.store import Database
from threatfeed.store.models import Job as JobRow
from threatfeed.store.models import utcnow

_ACTIVE = text("state IN ('queued', 'running')")


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
    ) -> None:
        """``sweep_seconds``: how often a claim also fails the jobs whose every attempt
        died with its worker (rare, so not at every claim)."""
        self.database = database
        self.lease_seconds = lease_seconds
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._jitter = jitter
        self._sweep_seconds = sweep_seconds
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
        statement = (
            dialect.insert(JobRow)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=_ACTIVE)
            .returning(JobRow.id)
        )
        return len(session.execute(statement).all())

    # -- consuming ---------------------------------------------------------------------

    def claim(self, worker: str) -> Job | None:
        return self._claim(worker, self._due(utcnow()))

    def claim_id(self, job_id: int, worker: str) -> Job | None:
        """Leases one given job if it is due (procrastinate hands workers job ids)."""
        return self._claim(worker, and_(JobRow.id == job_id, self._due(utcnow())))

    def _due(self, now: datetime) -> ColumnElement[bool]:
        return or_(
            and_(JobRow.state == JobState.QUEUED.value, JobRow.run_after <= now),
            and_(
                JobRow.state == JobState.RUNNING.value,
                JobRow.lease_until < now,
                JobRow.attempts < JobRow.max_attempts,
            ),
        )

    def _claim(self, worker: str, due: ColumnElement[bool]) -> Job | None:
        now = utcnow()
        token = secrets.token_hex(16)
        candidate = (
            select(JobRow.id)
            .where(due)
            .order_by(JobRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            update(JobRow)
            .where(JobRow.id == candidate)
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
            if time.monotonic() >= self._next_sweep:  # a rare event: look now and then
                self._next_sweep = time.monotonic() + self._sweep_seconds
                self._give_up_on_dead_leases(session, now)
            row = session.execute(statement).first()
        if row is None:
            return None
        return Job(row.id, row.kind, row.payload, row.attempts, row.max_attempts, token)

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

    def complete(self, session: Session, job: Job) -> None:
        result = session.execute(
            update(JobRow)
            .where(
                JobRow.id == job.id,
                JobRow.lease_token == job.token,
                JobRow.state == JobState.RUNNING.value,
            )
            .values(state=JobState.DONE.value, lease_until=None, updated_at=utcnow())
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(f"job {job.id} was taken over by another worker")

    def fail(self, job: Job, error: str, *, retry: bool = True) -> None:
        now = utcnow()
        again = retry and job.attempts < job.max_attempts
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (job.attempts - 1)) * self._jitter()
        with work_session(self.database) as session:
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
