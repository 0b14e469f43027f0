"""The pipeline inside one process: watchers and workers as threads, started and stopped together.

``threatfeed serve`` runs one next to the API (embedded default), ``threatfeed
watch`` runs the watchers alone, ``threatfeed worker`` the workers alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from threatfeed.config import Settings
from threatfeed.errors import ConfigError
from threatfeed.pipeline.embedded import EmbeddedQueue
from threatfeed.pipeline.process import Processor
from threatfeed.pipeline.queue import Queue
from threatfeed.pipeline.watcher import Watcher
from threatfeed.pipeline.worker import work, worker_name
from threatfeed.registries import Registry, open_registries
from threatfeed.store import Database

log = logging.getLogger(__name__)


def open_queue(settings: Settings, database: Database) -> Queue:
    """The configured queue; procrastinate's schema is applied here, like our migrations."""
    retention_seconds = settings.job_retention_hours * 3600.0
    if settings.queue == "embedded":
        return EmbeddedQueue(
            database, lease_seconds=settings.lease_seconds, retention_seconds=retention_seconds
        )
    if database.dialect != "postgresql":
        raise ConfigError("THREATFEED_QUEUE=procrastinate needs a postgresql:// database")
    from threatfeed.pipeline.procrastinate_queue import ProcrastinateQueue

    return ProcrastinateQueue(
        database, lease_seconds=settings.lease_seconds, retention_seconds=retention_seconds
    )


class Runtime:
    def __init__(
        self,
        database: Database,
        queue: Queue,
        registries: Mapping[str, Registry],
        *,
        watch: bool,
        workers: int,
        poll_seconds: float = 30.0,
        backlog_days: float = 7.0,
        start: str | None = None,
        idle_seconds: float = 0.5,
        engine_process: bool = True,
    ) -> None:
        """``engine_process``: each worker thread analyses in a child process of its own,
        so that the API, the watchers and the workers' network and database threads do
        not share the engine's interpreter (see :mod:`threatfeed.pipeline.engine_process`)."""
        self.queue = queue
        self.registries = registries
        self.processor = Processor(
            database, queue, registries, backlog_days=backlog_days, engine_process=engine_process
        )
        self.watchers = (
            [
                Watcher(database, queue, registry, start=start, poll_seconds=poll_seconds)
                for registry in registries.values()
            ]
            if watch
            else []
        )
        self.workers = workers
        self.idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        database: Database,
        *,
        watch: bool,
        workers: int,
        start: str | None = None,
    ) -> Runtime:
        """On procrastinate, in-process workers are none: ``threatfeed worker`` runs them."""
        queue = open_queue(settings, database)
        return cls(
            database,
            queue,
            open_registries(settings),
            watch=watch,
            workers=workers if settings.queue == "embedded" else 0,
            poll_seconds=settings.poll_seconds,
            backlog_days=settings.backlog_days,
            start=start,
        )

    def start(self) -> None:
        for watcher in self.watchers:
            self._spawn(f"watch-{watcher.source}", lambda w=watcher: w.run(self._stop))
        if self.watchers:
            for index, loop in enumerate(self.queue.housekeeping()):
                self._spawn(f"queue-{index}", lambda f=loop: f(self._stop))
        for index in range(self.workers):
            name = worker_name(index)
            self._spawn(
                f"worker-{index}",
                lambda n=name: work(
                    self.queue, self.processor, self._stop, name=n, idle_seconds=self.idle_seconds
                ),
            )
        log.info("pipeline: %d watcher(s), %d worker(s)", len(self.watchers), self.workers)

    def _spawn(self, name: str, target: object) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Asks every loop to stop and waits a little: an unfinished job is simply re-leased."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self.processor.close()
        for registry in self.registries.values():
            registry.close()

    def __enter__(self) -> Runtime:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
