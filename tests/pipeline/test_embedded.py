"""The embedded queue on SQLite and PostgreSQL: dedupe, leases, completion, retries, counts."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event, insert

from threatfeed.pipeline.embedded import EmbeddedQueue
from threatfeed.pipeline.queue import JobSpec, LeaseLost
from threatfeed.pipeline.worker import Held, renew_leases
from threatfeed.store import Database
from threatfeed.store.models import Job as JobRow
from threatfeed.store.models import table, utcnow


def enqueue(queue: EmbeddedQueue, *specs: JobSpec) -> int:
    with queue.database.session() as session:
        return queue.enqueue(session, specs)


def test_a_key_is_queued_once_while_pending_and_again_once_done(database: Database) -> None:
    queue = EmbeddedQueue(database)
    assert enqueue(queue, JobSpec("k", {"n": 1}, "a"), JobSpec("k", {"n": 2}, "a")) == 1
    assert enqueue(queue, JobSpec("k", {"n": 3}, "a"), JobSpec("k", {"n": 4})) == 1
    job = queue.claim("w")
    assert job is not None
    assert job.payload == {"n": 1}
    assert enqueue(queue, JobSpec("k", {"n": 5}, "a")) == 0  # running still counts
    with database.session() as session:
        queue.complete(session, job)
    assert enqueue(queue, JobSpec("k", {"n": 6}, "a")) == 1
    assert queue.stats().by_state == {"done": 1, "queued": 2}


def test_an_enqueue_rolled_back_with_its_transaction_leaves_nothing(database: Database) -> None:
    queue = EmbeddedQueue(database)

    def poll_then_fail() -> None:
        with database.session() as session:
            queue.enqueue(session, [JobSpec("k", {})])
            raise RuntimeError("the cursor update failed")

    with pytest.raises(RuntimeError):
        poll_then_fail()
    assert queue.claim("w") is None


def test_an_expired_lease_is_taken_over_and_the_first_holder_cannot_complete(
    database: Database,
) -> None:
    queue = EmbeddedQueue(database, lease_seconds=1.0)
    enqueue(queue, JobSpec("k", {}))
    first = queue.claim("dead")
    assert first is not None
    assert queue.claim("other") is None  # leased
    time.sleep(1.1)
    second = queue.claim("other")
    assert second is not None
    assert (second.id, second.attempts) == (first.id, 2)
    with pytest.raises(LeaseLost), database.session() as session:
        queue.complete(session, first)
    with database.session() as session:
        queue.complete(session, second)
    assert queue.stats().by_state == {"done": 1}


def test_failures_back_off_then_give_up(database: Database) -> None:
    queue = EmbeddedQueue(database, backoff_base=1.0, jitter=lambda: 1.0)
    enqueue(queue, JobSpec("k", {}, max_attempts=2))
    job = queue.claim("w")
    assert job is not None
    queue.fail(job, "boom 1")
    assert queue.claim("w") is None  # backing off
    assert queue.stats().ready == 0
    time.sleep(1.1)
    job = queue.claim("w")
    assert job is not None
    queue.fail(job, "boom 2")
    assert queue.claim("w") is None
    assert queue.stats().by_state == {"failed": 1}
    [failure] = queue.failures()
    assert (failure.error, failure.attempts, failure.final) == ("boom 2", 2, True)


def test_a_job_that_kills_its_worker_every_time_is_given_up(database: Database) -> None:
    queue = EmbeddedQueue(database, lease_seconds=0.05, sweep_seconds=0)
    enqueue(queue, JobSpec("k", {}, max_attempts=2))
    assert queue.claim("a") is not None
    time.sleep(0.1)
    assert queue.claim("b") is not None
    time.sleep(0.1)
    assert queue.claim("c") is None
    assert queue.stats().by_state == {"failed": 1}
    assert "lease expired" in queue.failures()[0].error


def test_a_batch_is_claimed_at_once_and_only_its_held_jobs_complete(database: Database) -> None:
    queue = EmbeddedQueue(database, lease_seconds=1.0)
    enqueue(queue, *(JobSpec("k", {"n": n}) for n in range(5)))
    batch = queue.claim_batch("a", 3)
    assert [job.payload["n"] for job in batch] == [0, 1, 2]
    assert [job.payload["n"] for job in queue.claim_batch("b", 10)] == [3, 4]
    time.sleep(1.1)
    [taken] = queue.claim_ids([batch[0].id], "c")  # a's first lease expired: c holds it now
    with database.session() as session:
        held = queue.complete_batch(session, batch)
    assert held == {batch[1].id, batch[2].id}
    with database.session() as session:
        assert queue.complete_batch(session, [taken]) == {taken.id}
    assert queue.stats().by_state == {"done": 3, "running": 2}


def test_a_renewed_lease_is_not_taken_over(database: Database) -> None:
    queue = EmbeddedQueue(database, lease_seconds=0.6)
    enqueue(queue, JobSpec("k", {}))
    job = queue.claim("slow")
    assert job is not None
    held, stop = Held(), threading.Event()
    held.add([job])
    renewer = threading.Thread(target=renew_leases, args=(queue, held, stop, 0.2))
    renewer.start()
    try:
        time.sleep(1.5)  # more than twice the lease, renewed all along
        assert queue.claim("other") is None
    finally:
        stop.set()
        renewer.join()
    time.sleep(0.7)  # the holder stopped renewing (it died): the job is taken over
    again = queue.claim("other")
    assert again is not None
    assert again.id == job.id
    assert queue.renew([job]) == 0  # the first holder's token renews nothing now


def test_done_jobs_are_pruned_after_the_retention_and_failed_ones_kept(
    database: Database,
) -> None:
    queue = EmbeddedQueue(database, retention_seconds=0.5, backoff_base=0.0)
    enqueue(queue, JobSpec("k", {"n": 1}), JobSpec("k", {"n": 2}, max_attempts=1))
    first, second = queue.claim_batch("w", 2)
    with database.session() as session:
        queue.complete(session, first)
    queue.fail(second, "boom")
    assert queue.prune() == 0  # too recent
    time.sleep(0.6)
    enqueue(queue, JobSpec("k", {"n": 3}))
    assert queue.prune() == 1
    assert queue.stats().by_state == {"failed": 1, "queued": 1}


@pytest.mark.parametrize("statistics", [False, True], ids=["no-statistics", "analyzed"])
def test_a_claim_reads_the_active_jobs_in_order_not_the_done_ones(
    database: Database, statistics: bool
) -> None:
    """A day of done jobs (the default retention) must not make a claim slower: the plan
    of the claim the queue really sends reads ``jobs`` through the partial index of the
    active jobs, or at least by state, never the whole table nor its done rows."""
    queue = EmbeddedQueue(database)
    now = utcnow()
    done = {"kind": "k", "payload": {}, "state": "done", "run_after": now, "updated_at": now}
    with database.engine.begin() as connection:
        connection.execute(insert(table(JobRow)), [done] * 20_000)
        if statistics:
            connection.exec_driver_sql("ANALYZE")
    enqueue(queue, *(JobSpec("k", {"n": n}) for n in range(100)))

    sent: list[tuple[str, object]] = []

    def remember(
        _conn: object, _cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        if statement.startswith("UPDATE jobs") and "LIMIT" in statement:  # the claim
            sent.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", remember)
    try:
        assert len(queue.claim_batch("w", 16)) == 16
    finally:
        event.remove(database.engine, "before_cursor_execute", remember)
    [(statement, parameters)] = sent
    explain = "EXPLAIN QUERY PLAN " if database.dialect == "sqlite" else "EXPLAIN "
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql(explain + statement, parameters)  # type: ignore[arg-type]
        plan = "\n".join(str(row[-1]) for row in rows)
    assert "ix_jobs_active_id" in plan or not statistics, plan
    assert "SCAN jobs" not in plan.splitlines(), plan  # SQLite: the whole table
    assert "Seq Scan on jobs" not in plan, plan
