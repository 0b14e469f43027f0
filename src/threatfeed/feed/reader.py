"""Reading the feed: one indexed range scan per page, newest first.

Two views share the machinery: the live feed ordered by when an entry was
added, and withdrawals ordered by when an entry was withdrawn, so incremental
consumers can learn of false positives with the same ``since`` they already use.

The endpoints are ``async`` and read through the drivers directly, with the SQL
each query shape compiled once (``feed.queries``):

- PostgreSQL: psycopg's ``AsyncConnectionPool`` (autocommit, statements
  prepared per connection), opened on the first request inside the server's
  event loop; waiting for the database never holds the loop.
- SQLite has no asynchronous driver, and a query holds its thread. A bounded
  query (page 1 or a cursor page of the live feed, see ``Shape.bounded``) takes
  a fraction of a millisecond and runs on the loop, on a read-only connection
  owned by the reader; anything else, an ``OFFSET`` above all, goes to a worker
  thread with a pooled connection, so a deep page never stalls other requests.

``page`` is the synchronous form of the same reads, for tools and benchmarks.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import anyio
from psycopg_pool import AsyncConnectionPool

from threatfeed.feed.params import FeedParams
from threatfeed.feed.queries import LIVE, WITHDRAWN, FeedPage, PageQuery, Queries, View, http_date
from threatfeed.store import Database

__all__ = ["LIVE", "WITHDRAWN", "FeedPage", "FeedReader", "View", "api_item", "item_document"]

POOL_SIZE = 8
"""PostgreSQL connections of one server process: a page takes well under a millisecond of
database time, so a few connections keep up with far more concurrent requests."""

SQLITE_THREADS = 4
"""SQLite reads run at once in worker threads: SQLite reads in parallel, but each also
holds the GIL between rows, so more threads would only queue inside the process."""

LOOP_BUSY_TIMEOUT_MS = 50
"""How long a query on the loop waits for a lock. In WAL mode readers are not blocked by
writers; a lock is only met during recovery, and the read then retries in a thread that
may wait the engine's full busy timeout."""


def api_item(
    ecosystem: str,
    name: str,
    version: str,
    created: Any,
    hashes: list[dict[str, str]],
    indicators: dict[str, Any],
) -> dict[str, Any]:
    """An item of ``GET /``, with the contract's keys in the contract's order."""
    return {
        "created": http_date(created),
        "ecosystem": ecosystem,
        "hashes": hashes,
        "indicators": indicators,
        "name": name,
        "version": version,
    }


def item_document(*fields: Any) -> str:
    """The item as ``GET /`` serves it, serialised once when the entry is written.

    Pages are then made by joining stored documents: no JSON is decoded or encoded per
    row at request time, which was most of a page's cost.
    """
    return json.dumps(api_item(*fields), ensure_ascii=False, separators=(",", ":"))


class FeedReader:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._queries = Queries(database.engine.dialect)
        self._postgres = database.dialect == "postgresql"
        self._pool: AsyncConnectionPool | None = None
        self._pool_lock = asyncio.Lock()
        self._loop_connection: sqlite3.Connection | None = None
        self._threads = anyio.CapacityLimiter(SQLITE_THREADS)
        path = database.engine.url.database
        self._sqlite_path = None if self._postgres or path in (None, "", ":memory:") else path

    def page(self, params: FeedParams, view: View = LIVE) -> FeedPage:
        """A page, read on a pooled connection of the engine in the calling thread."""
        return self._read_pooled(self._queries.for_request(params, view))

    async def serve(self, params: FeedParams, view: View = LIVE) -> FeedPage:
        """A page, read without blocking the event loop for longer than a bounded query."""
        query = self._queries.for_request(params, view)
        if self._postgres:
            return await self._serve_postgres(query)
        if self._sqlite_path is not None and query.shape.bounded:
            try:
                return self._serve_on_loop(query)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
        return await anyio.to_thread.run_sync(self._read_pooled, query, limiter=self._threads)

    async def aclose(self) -> None:
        """Closes the connections the reader opened itself (the engine's pool is not its own)."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._loop_connection is not None:
            self._loop_connection.close()
            self._loop_connection = None

    def _read_pooled(self, query: PageQuery) -> FeedPage:
        raw = self._database.engine.raw_connection()
        try:
            cursor = raw.cursor()

            def fetch(sql: str, args: Any) -> list[Any]:
                cursor.execute(sql, args)
                return list(cursor.fetchall())

            try:
                return _read(query, fetch)
            finally:
                cursor.close()
        finally:
            raw.close()

    def _serve_on_loop(self, query: PageQuery) -> FeedPage:
        connection = self._loop_connection
        if connection is None:
            connection = self._loop_connection = _read_only_sqlite(self._sqlite_path or "")
        return _read(query, lambda sql, args: connection.execute(sql, args).fetchall())

    async def _serve_postgres(self, query: PageQuery) -> FeedPage:
        pool = self._pool or await self._open_pool()
        async with pool.connection() as connection:
            cursor = await connection.execute(*query.rows, prepare=True)
            page = query.page(await cursor.fetchall())
            if page is None:
                cursor = await connection.execute(*query.before, prepare=True)
                row: Sequence[Any] | None = await cursor.fetchone()
                page = query.page([], bool(row and row[0]))
        assert page is not None
        return page

    async def _open_pool(self) -> AsyncConnectionPool:
        async with self._pool_lock:
            if self._pool is None:
                url = self._database.engine.url.set(drivername="postgresql")
                pool = AsyncConnectionPool(
                    url.render_as_string(hide_password=False),
                    min_size=1,
                    max_size=POOL_SIZE,
                    kwargs={"autocommit": True},
                    open=False,
                )
                await pool.open()
                self._pool = pool
            return self._pool


def _read(query: PageQuery, fetch: Callable[[str, Any], list[Any]]) -> FeedPage:
    """Runs a page's statements through ``fetch`` (a query's rows) on any DBAPI connection."""
    page = query.page(fetch(*query.rows))
    if page is None:
        page = query.page([], bool(fetch(*query.before)[0][0]))
    assert page is not None
    return page


def _read_only_sqlite(path: str) -> sqlite3.Connection:
    """The event loop's own connection: autocommit, so each read sees the latest commit."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA query_only=ON")
    connection.execute(f"PRAGMA busy_timeout={LOOP_BUSY_TIMEOUT_MS}")
    return connection
