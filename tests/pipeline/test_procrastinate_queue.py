"""The procrastinate queue's own parts on an empty PostgreSQL schema: schema, relay, dedupe,
tasks stranded by a dead worker."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text

from threatfeed.pipeline.procrastinate_queue import QUEUE, ProcrastinateQueue, ensure_schema
from threatfeed.pipeline.queue import JobSpec
from threatfeed.store import Database

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def procrastinate_jobs(database: Database) -> list[tuple[str, str, dict[str, list[int]]]]:
    with database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT status, queueing_lock, args FROM procrastinate_jobs ORDER BY id")
        )
        return [(row[0], row[1], row[2]) for row in rows]


def test_the_schema_is_applied_once_from_empty(database: Database) -> None:
    assert ensure_schema(database)
    assert not ensure_schema(database)
    assert procrastinate_jobs(database) == []


def test_the_relay_hands_each_row_over_once_in_batches(database: Database) -> None:
    queue = ProcrastinateQueue(database, batch=2)
    with database.session() as session:
        queue.enqueue(session, [JobSpec("change", {"n": n}) for n in range(3)])
    assert queue.relay() == 3
    assert queue.relay() == 0
    jobs = procrastinate_jobs(database)
    assert [(status, lock) for status, lock, _ in jobs] == [
        ("todo", "threatfeed-jobs-1-2"),
        ("todo", "threatfeed-jobs-3-3"),
    ]
    assert [args for _, _, args in jobs] == [{"job_ids": [1, 2]}, {"job_ids": [3]}]


def test_a_failed_job_is_relayed_again_for_its_retry(database: Database) -> None:
    queue = ProcrastinateQueue(database)
    with database.session() as session:
        queue.enqueue(session, [JobSpec("change", {})])
    queue.relay()
    [job] = queue.table.claim_ids([1], "w")
    queue.fail(job, "registry away")
    assert queue.relay() == 1


def test_a_task_left_doing_by_a_dead_worker_is_retried(database: Database) -> None:
    queue = ProcrastinateQueue(database, stalled_seconds=1)
    with database.session() as session:
        queue.enqueue(session, [JobSpec("change", {})])
    queue.relay()

    async def take_then_die() -> None:
        """A worker that registers, takes the task, and is never heard of again (SIGKILL)."""
        async with queue.app.open_async():
            worker_id = await queue.app.job_manager.register_worker()
            assert await queue.app.job_manager.fetch_job([QUEUE], worker_id) is not None

    asyncio.run(take_then_die())
    assert [status for status, _, _ in procrastinate_jobs(database)] == ["doing"]
    assert queue.retry_stalled() == 0  # its heartbeat is fresh
    time.sleep(1.2)
    assert queue.retry_stalled() == 1
    assert [status for status, _, _ in procrastinate_jobs(database)] == ["todo"]
