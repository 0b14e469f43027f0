"""The loop of a worker on the embedded queue (thread or process alike).

Three threads per worker: a fetcher claims a batch and downloads it, the worker
analyses it, a storer stores it; each works on its own batch, so the network and
the database overlap the engine. At most ``AHEAD`` fetched batches wait for the
engine (more absorbs the variance of download times, but holds more jobs away
from other workers). Every job this worker holds is leased until stored, and the
leases are renewed while they wait or run, so a job longer than its lease is not
taken over by another worker; a worker killed stops renewing, and its jobs run
again once their leases expire.
"""

from __future__ import annotations

import logging
import os
import queue as queues
import socket
import threading
from collections.abc import Sequence

from threatfeed.pipeline.process import Fetched, Outcome, Processor
from threatfeed.pipeline.queue import Job, Queue

log = logging.getLogger(__name__)

BATCH = 32
"""Jobs claimed (and stored) per transaction: the fixed costs of a claim, a fetch stage, a
store transaction and a round trip to an engine process are paid once per batch."""
AHEAD = 2
"""Fetched batches waiting for the engine, at most."""


def worker_name(index: int = 0) -> str:
    """Who holds a lease, for ``threatfeed status``: host, process and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


class Held:
    """The jobs a worker holds, whose leases it renews until they are stored."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}

    def add(self, jobs: Sequence[Job]) -> None:
        with self._lock:
            self._jobs.update((job.id, job) for job in jobs)

    def remove(self, jobs: Sequence[Job]) -> None:
        with self._lock:
            for job in jobs:
                self._jobs.pop(job.id, None)

    def snapshot(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())


def renew_leases(queue: Queue, held: Held, stop: threading.Event, interval: float) -> None:
    """Renews the leases of the held jobs every ``interval`` seconds until ``stop``."""
    while not stop.wait(interval):
        try:
            queue.renew(held.snapshot())
        except Exception as exc:  # the database is away: the next round tries again
            log.warning("cannot renew leases: %s", exc)


def work(
    queue: Queue,
    processor: Processor,
    stop: threading.Event,
    *,
    name: str | None = None,
    idle_seconds: float = 0.5,
    batch: int = BATCH,
    renew_seconds: float | None = None,
) -> int:
    """Claims and runs jobs until ``stop`` is set; returns how many it ran.

    ``renew_seconds``: how often leases are renewed (default: a third of the lease).
    """
    name = name or worker_name()
    held = Held()
    ready: queues.Queue[list[Fetched] | None] = queues.Queue(maxsize=AHEAD)
    threads = [
        threading.Thread(
            target=_fetch_loop,
            args=(queue, processor, stop, name, idle_seconds, batch, held, ready),
            name=f"{name}-fetch",
            daemon=True,
        ),
        threading.Thread(
            target=renew_leases,
            args=(queue, held, stop, renew_seconds or queue.lease_seconds / 3),
            name=f"{name}-renew",
            daemon=True,
        ),
    ]
    for thread in threads:
        thread.start()
    stored: queues.Queue[tuple[list[Job], list[Outcome]] | None] = queues.Queue(maxsize=1)
    storer = threading.Thread(
        target=_store_loop, args=(processor, held, stored), name=f"{name}-store", daemon=True
    )
    storer.start()
    done = 0
    try:
        while True:
            fetched = ready.get()
            if fetched is None:
                break
            stored.put(([item.job for item in fetched], processor.analyse(fetched)))
            done += len(fetched)
    finally:
        processor.release_engine()
    stored.put(None)
    storer.join()
    return done


def _store_loop(
    processor: Processor,
    held: Held,
    stored: queues.Queue[tuple[list[Job], list[Outcome]] | None],
) -> None:
    """Stores each analysed batch while the worker analyses the next one."""
    while (item := stored.get()) is not None:
        jobs, outcomes = item
        processor.store(outcomes)
        held.remove(jobs)


def _fetch_loop(
    queue: Queue,
    processor: Processor,
    stop: threading.Event,
    name: str,
    idle_seconds: float,
    batch: int,
    held: Held,
    ready: queues.Queue[list[Fetched] | None],
) -> None:
    try:
        while not stop.is_set():
            try:
                jobs = queue.claim_batch(name, batch)
            except Exception as exc:  # the database is away: wait, never die
                log.warning("worker %s: cannot claim: %s", name, exc)
                stop.wait(idle_seconds * 10)
                continue
            if not jobs:
                stop.wait(idle_seconds)
                continue
            held.add(jobs)
            fetched = processor.fetch(jobs)
            while not stop.is_set():
                try:
                    ready.put(fetched, timeout=idle_seconds)
                    break
                except queues.Full:
                    continue
    finally:
        ready.put(None)
