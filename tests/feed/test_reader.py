"""The reader's PostgreSQL connections when the database goes away and comes back.

A loopback TCP proxy stands between the server and PostgreSQL, so the test can
cut every connection and refuse new ones, as a restarting database does, and
then let them through again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url, text

from tests.conftest import serve_app
from tests.feed.conftest import T0, item, seed
from tests.postgres import throwaway_schema
from threatfeed.accounts.service import AccountService
from threatfeed.app import create_app
from threatfeed.config import Settings
from threatfeed.feed.cursor import Position
from threatfeed.feed.params import FeedParams
from threatfeed.feed.queries import FeedPage
from threatfeed.feed.reader import CONNECTIONS, FeedReader
from threatfeed.store import Database


class Proxy:
    """Forwards loopback connections to ``port``; ``cut`` drops them all and refuses more."""

    def __init__(self, port: int) -> None:
        self._target = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._passing = True
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._passing = False
            for sock in self._open:
                _shut(sock)
                sock.close()
            self._open.clear()

    def resume(self) -> None:
        with self._lock:
            self._passing = True

    def close(self) -> None:
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if not self._passing:
                    client.close()
                    continue
                upstream = socket.create_connection(("127.0.0.1", self._target))
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            return  # cut
        finally:
            _shut(source)
            _shut(sink)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already shut, or closed by ``cut``
        sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxied(postgres_url: str) -> Iterator[tuple[Database, Proxy]]:
    """A PostgreSQL database reached through a ``Proxy``."""
    with throwaway_schema(postgres_url, "t") as url:
        parsed = make_url(url)
        proxy = Proxy(parsed.port or 5432)
        database = Database(parsed.set(port=proxy.port).render_as_string(hide_password=False))
        try:
            yield database, proxy
        finally:
            database.dispose()
            proxy.close()


@pytest.mark.parametrize(
    "auth_cache_seconds",
    [
        pytest.param(5.0, id="token cached: the reader meets the loss"),
        pytest.param(0.0, id="token looked up: authentication meets it first"),
    ],
)
def test_a_lost_database_is_a_503_and_the_next_requests_recover(
    proxied: tuple[Database, Proxy], tmp_path: Path, auth_cache_seconds: float
) -> None:
    database, proxy = proxied
    seed(database, [item(n) for n in range(3)])
    settings = Settings(
        data_dir=tmp_path,
        database_url=database.url,
        secret_key="test-secret",
        rate_limit_per_minute=6000.0,
        rate_limit_burst=1000.0,
        bearer_ttl_seconds=3600.0,
        auth_cache_seconds=auth_cache_seconds,
    )
    _, key = AccountService(database, settings).add("reader", "subscriber")
    with (
        serve_app(create_app(settings, database)) as url,
        httpx.Client(base_url=url, headers={"x-access-token": key}, timeout=10) as client,
    ):
        for _ in range(CONNECTIONS):  # opens each of the reader's connections
            assert client.get("/").status_code == 200

        proxy.cut()
        for _ in range(2 * CONNECTIONS):  # each connection lost, then each one refused
            response = client.get("/")
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "unavailable"
            assert response.headers["Retry-After"] == "1"

        proxy.resume()
        for _ in range(CONNECTIONS):
            response = client.get("/")
            assert response.status_code == 200, response.text
            assert len(response.json()["packages"]) == 3


def test_a_refused_statement_leaves_no_backend_holding_the_feed(
    proxied: tuple[Database, Proxy],
) -> None:
    """A value the driver cannot send (here an id past the column's range, which the API's
    cursor check already refuses) must not leave the statement half-sent: the backend would
    sit in it holding its lock, and a migration would wait for it."""
    database, _ = proxied
    seed(database, [item(n) for n in range(3)])
    reader = FeedReader(database)
    out_of_range = FeedParams(1, 25, None, Position(T0, 2**40), None, None)

    async def read_twice() -> FeedPage:
        try:
            with pytest.raises(asyncpg.DataError):
                await reader.serve(out_of_range)
            with database.engine.connect() as connection:
                connection.execute(text("SET lock_timeout = '2s'"))
                connection.execute(text("LOCK TABLE feed_entries IN ACCESS EXCLUSIVE MODE"))
            return await reader.serve(FeedParams(1, 25, None, None, None, None))
        finally:
            await reader.aclose()

    assert len(json.loads(asyncio.run(read_twice()).body())["packages"]) == 3
