"""The one small queue interface the pipeline runs on, whatever carries the jobs.

Two implementations: :class:`~threatfeed.pipeline.embedded.EmbeddedQueue` (the
jobs table in the service's own database, claimed by a local worker pool) and
:class:`~threatfeed.pipeline.procrastinate_queue.ProcrastinateQueue` (the same
table as an outbox, relayed to procrastinate on PostgreSQL for workers on any
number of machines). Both promise what the pipeline needs to lose nothing and do
nothing twice:

* ``enqueue`` writes in the *caller's* transaction, so a watcher's cursor and
  the jobs made from its events commit together or not at all;
* a claim is a lease: a job whose process died runs again when the lease expires;
* ``complete`` runs in the transaction that stores the job's results and checks
  the lease, so results and completion are one commit, and a job that lost its
  lease to another worker rolls back instead of completing twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.orm import Session

from threatfeed.errors import ThreatfeedError


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    """Out of attempts: kept with its last error for ``threatfeed status``."""


@dataclass(frozen=True)
class JobSpec:
    """A job to enqueue; ``dedupe_key`` makes a repeat a no-op while the first is pending."""

    kind: str
    payload: Mapping[str, Any]
    dedupe_key: str | None = None
    max_attempts: int = 8


@dataclass(frozen=True)
class Job:
    """A claimed job: ``token`` proves the lease at completion."""

    id: int
    kind: str
    payload: Mapping[str, Any]
    attempts: int
    max_attempts: int
    token: str


@dataclass(frozen=True)
class Failure:
    job_id: int
    kind: str
    error: str
    attempts: int
    at: datetime
    final: bool


@dataclass(frozen=True)
class QueueStats:
    by_state: Mapping[str, int] = field(default_factory=dict)
    ready: int = 0
    """Queued jobs whose time has come: the queue depth that matters."""

    @property
    def depth(self) -> int:
        return self.by_state.get(JobState.QUEUED, 0) + self.by_state.get(JobState.RUNNING, 0)


class LeaseLost(ThreatfeedError):
    """The job's lease expired and another worker took it: its results must not commit."""


class Queue(Protocol):
    @property
    def lease_seconds(self) -> float:
        """How long a claim holds a job before another worker may take it over."""
        ...

    def enqueue(self, session: Session, specs: Sequence[JobSpec]) -> int:
        """Adds jobs in the caller's transaction; returns how many were new."""
        ...

    def claim(self, worker: str) -> Job | None:
        """The next job due, leased to ``worker``; ``None`` when there is none."""
        ...

    def claim_batch(self, worker: str, limit: int) -> list[Job]:
        """Up to ``limit`` jobs due, leased to ``worker`` in one transaction."""
        ...

    def complete(self, session: Session, job: Job) -> None:
        """Marks the job done in the caller's (results') transaction; raises LeaseLost."""
        ...

    def complete_batch(self, session: Session, jobs: Sequence[Job]) -> set[int]:
        """Marks done, in the caller's transaction, the jobs still leased to their holder;
        returns their ids (the others lost their lease: their results must not be stored)."""
        ...

    def fail(
        self, job: Job, error: str, *, retry: bool = True, session: Session | None = None
    ) -> None:
        """Releases the job for a later attempt with backoff, or for good (in ``session``
        when given, else in a transaction of its own)."""
        ...

    def renew(self, jobs: Sequence[Job]) -> int:
        """Extends the leases still held on ``jobs``, so a long job is not taken over."""
        ...

    def stats(self) -> QueueStats: ...

    def housekeeping(self) -> list[Callable[[threading.Event], None]]:
        """Loops to run beside the watchers until the event is set (procrastinate: the relay)."""
        ...

    def failures(self, limit: int = 10) -> list[Failure]: ...
