"""What ``threatfeed status`` reports: cursors and their lag, the queue, failures, gaps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from threatfeed.errors import ThreatfeedError
from threatfeed.pipeline.embedded import EmbeddedQueue
from threatfeed.pipeline.queue import Failure, JobState, QueueStats
from threatfeed.registries import Position, Registry
from threatfeed.registries.cursor import sequence_number
from threatfeed.store import Database
from threatfeed.store.models import Archive, Cursor, Job, RegistryGap, utcnow

PROBLEMS = ("digest_mismatch", "too_large", "unverifiable", "gone", "failed")


@dataclass(frozen=True)
class CursorStatus:
    source: str
    seq: str
    updated_at: datetime
    polled_at: datetime | None
    head: str | None = None
    """The registry's present, when it was asked."""

    @property
    def lag_seconds(self) -> float:
        """Since the last committed poll: how stale the feed may be."""
        moment = self.polled_at or self.updated_at
        return max(0.0, (utcnow() - moment).total_seconds())

    @property
    def behind(self) -> int | None:
        """Sequence numbers between the cursor and the registry's present, when known."""
        ours = sequence_number(self.seq)
        theirs = None if self.head is None else sequence_number(Position.parse(self.head).seq)
        return None if ours is None or theirs is None else max(0, theirs - ours)


@dataclass(frozen=True)
class GapStatus:
    source: str
    after: str
    until: str
    reason: str
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class Status:
    cursors: list[CursorStatus]
    queue: QueueStats
    oldest_queued: datetime | None
    failures: list[Failure]
    problems: Mapping[str, int]
    open_gaps: list[GapStatus]
    closed_gaps: int


def collect(database: Database, registries: Mapping[str, Registry] | None = None) -> Status:
    """The pipeline's state; with ``registries``, each cursor is compared with its registry."""
    queue = EmbeddedQueue(database)  # the jobs table is the truth on either queue
    with database.session() as session:
        cursors = [_cursor(row, registries) for row in session.scalars(select(Cursor))]
        oldest = session.scalar(
            select(func.min(Job.created_at)).where(Job.state == JobState.QUEUED.value)
        )
        counts = session.execute(
            select(Archive.status, func.count())
            .where(Archive.status.in_(PROBLEMS))
            .group_by(Archive.status)
        )
        problems = {row[0]: row[1] for row in counts}
        gaps = session.scalars(
            select(RegistryGap).where(RegistryGap.closed_at.is_(None)).order_by(RegistryGap.id)
        ).all()
        open_gaps = [
            GapStatus(g.source, g.after, g.until, g.reason, g.attempts, g.last_error) for g in gaps
        ]
        closed = session.scalar(
            select(func.count()).select_from(RegistryGap).where(RegistryGap.closed_at.is_not(None))
        )
    return Status(
        cursors=cursors,
        queue=queue.stats(),
        oldest_queued=oldest,
        failures=queue.failures(10),
        problems=problems,
        open_gaps=open_gaps,
        closed_gaps=closed or 0,
    )


def _cursor(row: Cursor, registries: Mapping[str, Registry] | None) -> CursorStatus:
    position = Position.parse(row.position)
    polled = None if position.polled_at is None else datetime.fromtimestamp(position.polled_at, UTC)
    head = None
    if registries is not None and row.source in registries:
        try:
            head = registries[row.source].head()
        except ThreatfeedError as exc:
            head = f"unreachable: {exc}"
    return CursorStatus(row.source, position.seq, row.updated_at, polled, head)
