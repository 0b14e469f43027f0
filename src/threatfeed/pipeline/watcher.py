"""One registry's watch loop: poll, then commit the cursor with the jobs and gaps it produced.

The cursor moves by compare-and-set inside the transaction that enqueues the
events, so a restart resumes exactly after the last committed poll, and two
watchers started on one registry by mistake cannot both commit the same batch.
Recorded gaps are looked at again (``backfill``) between polls until closed.
A registry that cannot be reached is retried with backoff for as long as it
takes; the loop never gives up, so ``threatfeed serve`` keeps serving.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from threatfeed.errors import ThreatfeedError
from threatfeed.pipeline import metrics
from threatfeed.pipeline.jobs import change_job
from threatfeed.pipeline.queue import Queue
from threatfeed.pipeline.sessions import work_session
from threatfeed.registries import Change, ChangeKind, Gap, Registry
from threatfeed.store import Database
from threatfeed.store.models import Cursor, RegistryGap, table, utcnow

log = logging.getLogger(__name__)

_RELEASES = {ChangeKind.PACKAGE_CHANGED, ChangeKind.RELEASE_ADDED, ChangeKind.FILE_ADDED}


class CursorMoved(ThreatfeedError):
    """Another watcher advanced this cursor since we read it: our batch is not committed."""


@dataclass(frozen=True)
class Step:
    events: int
    jobs: int
    caught_up: bool
    gap: Gap | None


class Watcher:
    def __init__(
        self,
        database: Database,
        queue: Queue,
        registry: Registry,
        *,
        start: str | None = None,
        poll_seconds: float = 30.0,
        retry_cap: float = 300.0,
    ) -> None:
        """``start``: where a new cursor begins (default: the registry's present)."""
        self.database = database
        self.queue = queue
        self.registry = registry
        self.source = registry.ecosystem
        self.start = start
        self.poll_seconds = poll_seconds
        self.retry_cap = retry_cap
        self._committed: str | None = None
        """The cursor as this watcher last committed it (its compare-and-set proves it is
        still so), read from the database again only after a failed step."""
        self._gaps_open = True
        """Whether a gap of this source may be open: looked for at every step until none
        is, then only after this watcher records one (only its steps record them)."""

    def position(self) -> str:
        """The committed cursor, made (and committed) first if there is none."""
        with work_session(self.database) as session:
            cursor = session.get(Cursor, self.source)
            if cursor is not None:
                return cursor.position
        position = self.start if self.start is not None else self.registry.head()
        with work_session(self.database) as session:
            if session.get(Cursor, self.source) is None:
                session.add(Cursor(source=self.source, position=position, updated_at=utcnow()))
        return self.position()

    def step(self) -> Step:
        """One poll, committed with its jobs; then one look at the oldest open gap."""
        before = self._committed or self.position()
        self._committed = None  # until this step commits
        batch = self.registry.poll(before)
        events = _unique(batch.events)
        with work_session(self.database) as session:
            cursors = table(Cursor)  # Core: no ORM session synchronisation for one row
            moved = session.execute(
                cursors.update()
                .where(cursors.c.source == self.source, cursors.c.position == before)
                .values(position=batch.next_position, updated_at=utcnow())
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise CursorMoved(f"the {self.source} cursor moved under this watcher")
            jobs = self.queue.enqueue(session, [change_job(event) for event in events])
            if batch.gap is not None:
                _record_gap(session, self.source, batch.gap)
        self._committed = batch.next_position
        self._gaps_open = self._gaps_open or batch.gap is not None
        seen = sum(1 for event in events if event.kind in _RELEASES)
        metrics.RELEASES_SEEN.labels(self.source).inc(seen)
        if batch.gap is not None:
            log.warning("%s: gap recorded: %s", self.source, batch.gap.reason)
        if self._gaps_open:
            self.backfill()
        return Step(len(events), jobs, batch.caught_up, batch.gap)

    def backfill(self) -> None:
        with work_session(self.database) as session:
            row = session.scalars(
                select(RegistryGap)
                .where(RegistryGap.source == self.source, RegistryGap.closed_at.is_(None))
                .order_by(RegistryGap.id)
                .limit(1)
            ).first()
            if row is None:
                self._gaps_open = False
                return
            gap_id, gap = row.id, Gap(row.after, row.until, row.reason)
        try:
            found = self.registry.backfill(gap)
        except ThreatfeedError as exc:
            with work_session(self.database) as session:
                row = session.get_one(RegistryGap, gap_id)
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:4000]
            return
        with work_session(self.database) as session:
            row = session.get_one(RegistryGap, gap_id)
            self.queue.enqueue(session, [change_job(event) for event in _unique(found.events)])
            row.attempts += 1
            if found.remaining is None:
                row.closed_at = utcnow()
            else:
                row.after, row.until = found.remaining.after, found.remaining.until
        log.info(
            "%s: backfilled gap %s..%s (%d events)%s",
            self.source,
            gap.after,
            gap.until,
            len(found.events),
            "" if found.remaining is None else ", part of it remains",
        )

    def run(self, stop: threading.Event) -> None:
        """Polls until ``stop`` is set; trouble is logged and retried, never fatal."""
        failures = 0
        while not stop.is_set():
            try:
                step = self.step()
            except Exception as exc:
                failures += 1
                delay = min(self.retry_cap, 2.0 ** min(failures, 10)) * random.uniform(0.5, 1.0)
                log.warning(
                    "%s watcher: %s: %s; retrying in %.0f s",
                    self.source,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                stop.wait(delay)
                continue
            failures = 0
            if step.caught_up:
                stop.wait(self.poll_seconds)


def _unique(events: tuple[Change, ...]) -> list[Change]:
    """One event per package version: the last one, in order.

    A job resolves what the registry says *now*, so the earlier events of a version
    in the same batch (PyPI's ``new release`` then one ``add ... file`` per file, an
    npm packument changed twice, a repeat) would only fetch the same answer again.
    """
    last = {(event.ecosystem, event.name, event.version): i for i, event in enumerate(events)}
    return [events[i] for i in sorted(last.values())]


def _record_gap(session: Session, source: str, gap: Gap) -> None:
    session.add(
        RegistryGap(
            source=source,
            after=gap.after,
            until=gap.until,
            reason=gap.reason[:4000],
            attempts=0,
            created_at=utcnow(),
        )
    )
