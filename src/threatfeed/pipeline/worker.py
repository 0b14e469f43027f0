"""The claim loop of a worker on the embedded queue (thread or process alike)."""

from __future__ import annotations

import logging
import os
import socket
import threading

from threatfeed.pipeline.process import Processor
from threatfeed.pipeline.queue import Queue

log = logging.getLogger(__name__)


def worker_name(index: int = 0) -> str:
    """Who holds a lease, for ``threatfeed status``: host, process and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


def work(
    queue: Queue,
    processor: Processor,
    stop: threading.Event,
    *,
    name: str | None = None,
    idle_seconds: float = 0.5,
) -> int:
    """Claims and runs jobs until ``stop`` is set; returns how many it ran."""
    name = name or worker_name()
    done = 0
    while not stop.is_set():
        try:
            job = queue.claim(name)
        except Exception as exc:  # the database is away: wait, never die
            log.warning("worker %s: cannot claim: %s", name, exc)
            stop.wait(idle_seconds * 10)
            continue
        if job is None:
            stop.wait(idle_seconds)
            continue
        processor.run(job)
        done += 1
    return done
