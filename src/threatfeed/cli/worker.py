"""``threatfeed worker``: pipeline workers, one process per core, on either queue.

Each process compiles the analysis engine once, then runs jobs until SIGTERM or
SIGINT: on the embedded queue by claiming rows of the jobs table, on
procrastinate as a procrastinate worker. Start it on as many machines as the
queue's database is reachable from.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from types import FrameType

import click

from threatfeed.cli.common import configure_logging, open_database
from threatfeed.pipeline.process import Processor
from threatfeed.pipeline.runtime import open_queue
from threatfeed.pipeline.worker import work, worker_name
from threatfeed.registries import open_registries


def run_worker_process(index: int, log_level: str) -> None:
    """One worker process: its own database engine, registries and compiled engine."""
    configure_logging(log_level)
    settings, database = open_database()
    queue = open_queue(settings, database)
    registries = open_registries(settings)
    processor = Processor(database, queue, registries, backlog_days=settings.backlog_days)
    stop = threading.Event()
    name = worker_name(index)
    if settings.queue == "procrastinate":
        from threatfeed.pipeline.procrastinate_queue import ProcrastinateQueue

        assert isinstance(queue, ProcrastinateQueue)
        queue.serve_worker(processor, name, stop)
    else:

        def _stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        processor.engine  # noqa: B018 -- compile the rules once, before the first job
        work(queue, processor, stop, name=name)
    processor.close()
    for registry in registries.values():
        registry.close()
    database.dispose()


@click.command("worker")
@click.option(
    "--processes",
    "-p",
    type=click.IntRange(1),
    default=None,
    help="Worker processes to run [default: one per core].",
)
@click.option("--log-level", default="info", show_default=True)
def command(processes: int | None, log_level: str) -> None:
    """Run pipeline workers (THREATFEED_QUEUE: embedded or procrastinate)."""
    settings, database = open_database()
    open_queue(settings, database)  # fail early on a bad setup; applies procrastinate's schema
    database.dispose()
    count = processes or os.cpu_count() or 1
    click.echo(f"threatfeed worker: {count} process(es) on the {settings.queue} queue", err=True)
    if count == 1:
        run_worker_process(0, log_level)
        return
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=run_worker_process, args=(index, log_level), name=f"worker-{index}")
        for index in range(count)
    ]
    for child in children:
        child.start()

    def _forward(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    for child in children:
        child.join()
