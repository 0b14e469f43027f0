"""The pipeline as separate processes: workers killed with SIGKILL, the watcher restarted.

These start real ``threatfeed watch`` and ``threatfeed worker`` processes against
the fake registry and a real database; each release must end up analysed exactly
once, the malicious-looking ones flagged, with no job lost or failed.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.fakeregistry import FakeRegistry
from tests.pipeline.processes import pipeline_env, processes, running, wait_for
from tests.pipeline.samples import publish_npm, publish_pypi
from threatfeed.store import Database
from threatfeed.store.models import Analysis, Archive, Cursor, Job, Package

Expected = dict[tuple[str, str, str, str], bool]


def analyses(database: Database) -> Expected:
    with database.session() as session:
        rows = session.execute(
            select(Package.ecosystem, Package.name, Package.version, Archive.filename)
            .add_columns(Analysis.flagged)
            .join(Archive, Archive.package_id == Package.id)
            .join(Analysis, Analysis.archive_id == Archive.id)
        ).all()
    found = {(r[0], r[1], r[2], r[3]): r[4] for r in rows}
    assert len(found) == len(rows), "an archive was analysed twice"
    return found


def unfinished(database: Database) -> int:
    with database.session() as session:
        return (
            session.scalar(
                select(func.count()).select_from(Job).where(Job.state.in_(["queued", "running"]))
            )
            or 0
        )


def cursors(database: Database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Cursor)) or 0


def publish_one(fake: FakeRegistry, index: int, expected: Expected) -> None:
    evil = index % 4 == 0
    if index % 2:
        npm = publish_npm(fake, f"pkg-{index}", "1.0.0", evil=evil)
        expected[("npm", npm.name, npm.version, npm.filename)] = evil
    else:
        for file in publish_pypi(fake, f"py-{index}", "1.0", evil=evil):
            expected[("pypi", file.name, file.version, file.filename)] = evil


def assert_all_done(database: Database, expected: Expected, log: str) -> None:
    wait_for(lambda: set(analyses(database)) == set(expected), 90, "every archive analysed\n" + log)
    wait_for(lambda: unfinished(database) == 0, 30, "the queue to drain")
    assert analyses(database) == expected
    with database.session() as session:
        states = dict(session.execute(select(Job.state, func.count()).group_by(Job.state)).all())
    assert set(states) == {"done"}, states


@pytest.mark.slow
def test_workers_killed_at_random_and_a_restarted_watcher_lose_and_repeat_nothing(
    database: Database, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    rng = random.Random(4)
    env = pipeline_env(fake_registry, database.url, tmp_path)
    expected: Expected = {}
    with processes(env, tmp_path / "logs") as group:
        group.start("watch", "watch", "--start", "0", "--log-level", "warning")
        for worker in ("w1", "w2"):
            group.start(worker, "worker", "--processes", "1", "--log-level", "warning")
        wait_for(lambda: cursors(database) == 2, 60, "the watchers to start")
        for index in range(24):
            publish_one(fake_registry, index, expected)
            time.sleep(rng.uniform(0.1, 0.5))
            if index == 12:  # the watcher dies mid-stream and comes back where it was
                group.kill("watch")
                group.start("watch", "watch", "--start", "0", "--log-level", "warning")
            if index % 3 == 2:
                victim = rng.choice(["w1", "w2"])
                group.kill(victim)
                group.start(victim, "worker", "--processes", "1", "--log-level", "warning")
        assert_all_done(database, expected, group.log_text())
        assert group.started >= 10


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_three_procrastinate_workers_on_postgresql(
    database: Database, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    env = pipeline_env(fake_registry, database.url, tmp_path, THREATFEED_QUEUE="procrastinate")
    expected: Expected = {}
    with processes(env, tmp_path / "logs") as group:
        group.start("watch", "watch", "--start", "0", "--log-level", "warning")
        for worker in ("w1", "w2", "w3"):
            group.start(worker, "worker", "--processes", "1", "--log-level", "warning")
        wait_for(lambda: cursors(database) == 2, 60, "the watchers to start")
        for index in range(18):
            publish_one(fake_registry, index, expected)
            time.sleep(0.2)
            if index == 9:
                group.kill("w2")
                group.start("w2", "worker", "--processes", "1", "--log-level", "warning")
        assert_all_done(database, expected, group.log_text())
        with database.session() as session:
            workers = set(session.scalars(select(Job.worker).where(Job.kind == "archive")))
        assert len(workers) >= 2, workers  # the work was shared


def children(pid: int) -> set[int]:
    """The live processes ``pid`` started (``threatfeed serve``: its engine process)."""
    tasks = Path(f"/proc/{pid}/task").iterdir()  # a child is listed by the thread that started it
    return {int(child) for task in tasks for child in (task / "children").read_text().split()}


@pytest.mark.slow
def test_serve_killed_mid_stream_leaves_no_engine_process_and_loses_nothing(
    database: Database, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    """``threatfeed serve`` analyses in a child process: killing serve kills the analysis
    with it (no orphan engine), and a restarted serve does what was left, once."""
    env = pipeline_env(fake_registry, database.url, tmp_path)
    expected: Expected = {}
    serve = ("serve", "--port", "0", "--log-level", "warning")
    with processes(env, tmp_path / "logs") as group:
        group.start("serve", *serve)
        wait_for(lambda: cursors(database) == 2, 60, "the watchers to start")
        for index in range(8):
            publish_one(fake_registry, index, expected)
        wait_for(lambda: len(analyses(database)) > 0, 60, "a first analysis")
        pid = group.running["serve"].pid
        engines = children(pid)
        assert engines, "serve analyses in a child process"
        for index in range(8, 16):
            publish_one(fake_registry, index, expected)
        group.kill("serve")
        wait_for(lambda: not any(map(running, engines)), 10, "the engine process to exit")
        group.start("serve", *serve)
        for index in range(16, 20):
            publish_one(fake_registry, index, expected)
        assert_all_done(database, expected, group.log_text())
