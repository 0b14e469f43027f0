"""Shared fixtures: every database test runs on SQLite and again on PostgreSQL.

PostgreSQL is the one at ``THREATFEED_TEST_POSTGRES_URL`` (default: the local
server with trust auth). Without it the PostgreSQL half is skipped with a
notice, except under ``CI=true`` where a missing server fails the run.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pytest
import uvicorn
from sqlalchemy import create_engine, text

from tests.postgres import throwaway_schema
from threatfeed.config import Settings
from threatfeed.store import Database

#: Whether uvicorn runs the app's lifespan (``threatfeed serve`` does; most tests need not).
Lifespan = Literal["auto", "on", "off"]

POSTGRES_URL = os.environ.get(
    "THREATFEED_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@cache
def _postgres_problem() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _postgres_problem.cache_info().currsize and (problem := _postgres_problem()):
        terminalreporter.write_sep(
            "!", f"PostgreSQL half SKIPPED: no server at {POSTGRES_URL} ({problem})", yellow=True
        )


@pytest.fixture(scope="session")
def postgres_url() -> str:
    if problem := _postgres_problem():
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}"
        if IN_CI:
            pytest.fail(message + " (CI=true requires it)")
        pytest.skip(message)
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A URL of an empty database of either backend, removed after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'threatfeed.db'}"
        return
    with throwaway_schema(request.getfixturevalue("postgres_url"), "t") as url:
        yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    try:
        yield db
    finally:
        db.dispose()


@dataclass
class LiveServer:
    """A real uvicorn server on a random loopback port, serving the whole app."""

    url: str
    settings: Settings
    database: Database


def _settings(database: Database, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database.url,
        "secret_key": "test-secret-" + uuid.uuid4().hex,
        "rate_limit_per_minute": 6000.0,
        "rate_limit_burst": 1000.0,
        "bearer_ttl_seconds": 3600.0,
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def serve_app(app: Any, lifespan: Lifespan = "off") -> Iterator[str]:
    """Runs an ASGI app with uvicorn in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def live_server(
    database: Database, tmp_path: Path
) -> Callable[..., AbstractContextManager[LiveServer]]:
    """A factory: ``with live_server(rate_limit_burst=2) as server: ...``."""

    @contextmanager
    def start(lifespan: Lifespan = "off", **overrides: Any) -> Iterator[LiveServer]:
        from threatfeed.app import create_app

        settings = _settings(database, tmp_path, **overrides)
        with serve_app(create_app(settings, database), lifespan) as url:
            yield LiveServer(url, settings, database)

    return start
