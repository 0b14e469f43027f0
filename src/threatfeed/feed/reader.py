"""Reading the feed: one indexed range scan per page, newest first.

Two views share the machinery: the live feed ordered by when an entry was
added, and withdrawals ordered by when an entry was withdrawn, so incremental
consumers can learn of false positives with the same ``since`` they already use.

The endpoints are ``async`` and read through the drivers directly, with the SQL
each query shape compiled once (``feed.queries``):

- PostgreSQL: a few asyncpg connections shared by all requests (statements
  prepared per connection, see ``_SharedConnections``), opened on first use inside
  the server's event loop; waiting for the database never holds the loop. Requests
  of the same shape that wait at once are read by one statement, a batch. asyncpg
  rather than psycopg, which the rest of the product uses: a page's statement costs
  about half the CPU of psycopg's asynchronous one (56 against 104 µs measured),
  and the read is much of a request's cost. A database that cannot be reached, or
  a connection lost mid-read, raises ``Unavailable`` (a 503).
- SQLite has no asynchronous driver, and a query holds its thread. A bounded
  query (page 1 or a cursor page of the live feed, see ``Shape.bounded``) takes
  a fraction of a millisecond and runs on the loop, on a read-only connection
  owned by the reader; anything else, an ``OFFSET`` above all, goes to a worker
  thread with a pooled connection, so a deep page never stalls other requests.

``page`` is the synchronous form of the same reads, on the engine's own driver,
for tools and benchmarks.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from operator import itemgetter
from typing import Any

import anyio
import asyncpg
from sqlalchemy import URL

from threatfeed.errors import Unavailable
from threatfeed.feed.params import FeedParams
from threatfeed.feed.queries import (
    LIVE,
    WITHDRAWN,
    FeedPage,
    PageQuery,
    PageRead,
    Queries,
    TimeCodec,
    View,
    http_date,
)
from threatfeed.store import Database

__all__ = ["LIVE", "WITHDRAWN", "FeedPage", "FeedReader", "View", "api_item", "item_document"]

CONNECTIONS = 8
"""PostgreSQL connections of one server process: a page takes well under a millisecond of
database time, so a few connections keep up with far more concurrent requests."""

MAX_BATCH = 32
"""Pages of one shape read by one statement at most (``_SharedConnections``)."""

CONNECT_TIMEOUT = 10.0
"""Seconds to open a PostgreSQL connection, unless the URL's ``connect_timeout`` says."""

APPLICATION_NAME = "threatfeed feed reader"
"""How the reader's PostgreSQL sessions name themselves (``pg_stat_activity``)."""

_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_PG_TIMES = TimeCodec(
    lambda moment: (moment - _POSTGRES_EPOCH) // _MICROSECOND,
    lambda micros: _POSTGRES_EPOCH + micros * _MICROSECOND,
)
"""Times on the reader's asyncpg connections: a ``timestamptz`` as PostgreSQL sends it,
microseconds since 2000 (see ``_SharedConnections._open``). asyncpg's own codec makes a
``datetime`` of every row's time, a third of the CPU of reading a page; the reader needs
one, for the next cursor."""

_UNREACHABLE = (
    OSError,  # refused, reset, timed out
    asyncpg.PostgresConnectionError,  # lost, or refused by the server
    asyncpg.OperatorInterventionError,  # shutting down, starting up, cancelled
    asyncpg.TooManyConnectionsError,
)

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
        url = database.engine.url
        self._connections: _SharedConnections | None = None
        self._sqlite_path: str | None = None
        if database.dialect == "postgresql":
            self._connections = _SharedConnections(url, CONNECTIONS)
        elif url.database not in (None, "", ":memory:"):
            self._sqlite_path = url.database
        self._loop_connection: sqlite3.Connection | None = None
        self._threads = anyio.CapacityLimiter(SQLITE_THREADS)

    def page(self, params: FeedParams, view: View = LIVE) -> FeedPage:
        """A page, read on a pooled connection of the engine in the calling thread."""
        return self._read_pooled(self._queries.for_request(params, view))

    async def serve(self, params: FeedParams, view: View = LIVE) -> FeedPage:
        """A page, read without blocking the event loop for longer than a bounded query."""
        if self._connections is not None:
            return await self._connections.serve(params, view)
        query = self._queries.for_request(params, view)
        if self._sqlite_path is not None and query.shape.bounded:
            try:
                return self._serve_on_loop(self._sqlite_path, query)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
        return await anyio.to_thread.run_sync(self._read_pooled, query, limiter=self._threads)

    async def aclose(self) -> None:
        """Closes the connections the reader opened itself (the engine's pool is not its own)."""
        if self._connections is not None:
            await self._connections.close()
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

    def _serve_on_loop(self, path: str, query: PageQuery) -> FeedPage:
        connection = self._loop_connection
        if connection is None:
            connection = self._loop_connection = _read_only_sqlite(path)
        return _read(query, lambda sql, args: connection.execute(sql, args).fetchall())


def _asyncpg_connect(url: URL) -> Callable[[], Awaitable[asyncpg.Connection]]:
    """Opens a connection to the engine's database, with the engine URL's parameters
    (libpq's ``options`` too, which asyncpg passes on in the startup message)."""
    query = dict(url.query)
    timeout = float(str(query.pop("connect_timeout", CONNECT_TIMEOUT)))  # an argument in asyncpg
    dsn = url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)
    return partial(
        asyncpg.connect,
        dsn,
        timeout=timeout,
        max_cached_statement_lifetime=0,  # the statements are a few fixed shapes: keep them
        server_settings={
            "application_name": APPLICATION_NAME,
            # With a bound value (a cursor, ``since``) PostgreSQL kept planning each
            # execution anew, 30 to 130 µs of the database's CPU per page on the cores the
            # server shares; the generic plan of every shape is the plan it arrived at
            # (``LIMIT`` is a literal, ``before`` takes the first row in index order).
            "plan_cache_mode": "force_generic_plan",
        },
    )


class _SharedConnections:
    """A few asyncpg connections shared by all requests, which wait for them in batches.

    A request joins the waiting list; whenever a connection is free, the first waiting
    request and up to ``MAX_BATCH - 1`` others of the same shape are read by one
    statement (``Queries.batch``), if the shape is bounded; any other (an ``OFFSET``, two
    filters, the withdrawn view) is read alone by its own statement. Every request of a
    batch arrived before its statement was sent, so each page is as fresh as a statement
    of its own would make it. A statement's fixed cost (the driver's work, a send, a
    receive, the loop's wake-ups, and the database's own) was most of a page's: in-process,
    65 µs of the server's CPU for a page read alone, 16 µs each for 16 read together.
    Under load requests arrive together and share it; a lone request waits one turn of
    the loop for others to join.

    The statements are prepared once per connection (asyncpg's statement cache, keyed
    by the SQL text, which ``Queries`` renders once per shape). A connection found
    closed is replaced when its turn comes: while PostgreSQL is down or restarting,
    requests get ``Unavailable``, and the first after it is back opens a new one.
    """

    def __init__(self, url: URL, size: int) -> None:
        self._connect = _asyncpg_connect(url)
        dialect = url.set(drivername="postgresql+asyncpg").get_dialect()()
        self._queries = Queries(dialect, _PG_TIMES)
        self._slots: list[asyncpg.Connection | None] = [None] * size
        self._idle = list(range(size))
        """Indexes of the connections no batch holds; the last one freed is taken first."""
        self._waiting: list[_Request] = []
        self._dispatching = False
        self._batches: set[asyncio.Task[None]] = set()

    async def serve(self, params: FeedParams, view: View) -> FeedPage:
        request = _Request(
            self._queries.for_request(params, view), asyncio.get_running_loop().create_future()
        )
        self._waiting.append(request)
        if self._idle and not self._dispatching:
            self._dispatching = True
            request.page.get_loop().call_soon(self._dispatch)
        return await request.page

    def _dispatch(self) -> None:
        """Starts a batch on each free connection while requests wait."""
        self._dispatching = False
        while self._waiting and self._idle:
            if batch := self._take():
                task = asyncio.get_running_loop().create_task(self._run(self._idle.pop(), batch))
                self._batches.add(task)
                task.add_done_callback(self._batches.discard)

    def _take(self) -> list[_Request]:
        """The first waiting request and those after it of the same shape, up to a batch;
        requests cancelled while they waited are dropped."""
        shape = self._waiting[0].query.shape
        size = MAX_BATCH if shape.bounded else 1
        batch: list[_Request] = []
        waiting: list[_Request] = []
        for request in self._waiting:
            if request.page.done():
                continue
            if len(batch) < size and request.query.shape == shape:
                batch.append(request)
            else:
                waiting.append(request)
        self._waiting = waiting
        return batch

    async def _run(self, index: int, batch: list[_Request]) -> None:
        try:
            outcomes = await self._outcomes(index, [request.query for request in batch])
            for request, outcome in zip(batch, outcomes, strict=True):
                if request.page.done():
                    continue  # cancelled while its statement ran
                if isinstance(outcome, Exception):
                    request.page.set_exception(outcome)
                else:
                    request.page.set_result(outcome)
        finally:
            for request in batch:  # this batch itself cancelled: the reader is closing
                request.page.cancel()
            self._idle.append(index)
            if self._waiting:
                self._dispatch()

    async def _outcomes(self, index: int, queries: list[PageQuery]) -> list[FeedPage | Exception]:
        try:
            return list(await self._read(index, queries))
        except Exception as exc:
            if isinstance(exc, Unavailable) or len(queries) == 1:
                return [exc] * len(queries)
            # A value the driver refused fails the whole statement: each request is then
            # read alone, so that only the one with that value fails.
            return [
                outcome for query in queries for outcome in await self._outcomes(index, [query])
            ]

    async def _read(self, index: int, queries: list[PageQuery]) -> list[FeedPage]:
        connection = self._slots[index]
        try:
            if connection is None or connection.is_closed():
                connection = self._slots[index] = await self._open()
            return await _read_batch(connection, self._queries, queries)
        except Exception as exc:
            if isinstance(exc, _UNREACHABLE) or connection is None or connection.is_closed():
                raise Unavailable(f"the database cannot be reached: {exc}") from exc
            # An argument asyncpg refused to encode leaves the statement half-sent: the
            # backend then sits in it, holding its locks (a migration would wait on them).
            connection.terminate()
            self._slots[index] = None
            raise

    async def _open(self) -> asyncpg.Connection:
        connection = await self._connect()
        try:
            await connection.set_type_codec(
                "timestamptz",
                schema="pg_catalog",
                encoder=lambda micros: (micros,),
                decoder=itemgetter(0),
                format="tuple",  # (microseconds since 2000,): see _PG_TIMES
            )
        except BaseException:
            connection.terminate()
            raise
        return connection

    async def close(self) -> None:
        """Cancels the batches in flight (asyncpg cancels their statements on the
        database), then closes the connections."""
        for task in list(self._batches):
            task.cancel()
        await asyncio.gather(*self._batches, return_exceptions=True)
        for index, connection in enumerate(self._slots):
            if connection is not None:
                await connection.close()
            self._slots[index] = None


@dataclass(frozen=True, slots=True)
class _Request:
    """A page request waiting for, or read by, a batch."""

    query: PageQuery
    page: asyncio.Future[FeedPage]


async def _read_batch(
    connection: asyncpg.Connection, queries: Queries, batch: list[PageQuery]
) -> list[FeedPage]:
    """The pages of requests of one shape: a bounded shape's by one statement, one row
    each (``Queries.batch``), another shape's (a batch of one) by its own statement. A
    page whose ``has_previous`` the statement cannot tell asks the ``before`` one."""
    first = batch[0]
    if first.shape.bounded:
        statement = queries.batch(first.shape)
        rows = await connection.fetch(statement.sql, *statement.batch_arguments(batch))
        found: list[PageRead | None] = [None] * len(batch)
        for row in rows:  # one per request, in no particular order
            found[row[0]] = PageRead(*row[1:])
        reads = []
        for query, read in zip(batch, found, strict=True):
            assert read is not None
            reads.append((query, read))
    else:
        sql, arguments = first.rows
        reads = [(first, first.read(await connection.fetch(sql, *arguments)))]
    pages = []
    for query, read in reads:
        page = query.finish(read)
        if page is None:
            sql, arguments = query.before
            page = query.finish(read, bool(await connection.fetchval(sql, *arguments)))
        assert page is not None
        pages.append(page)
    return pages


def _read(query: PageQuery, fetch: Callable[[str, Any], list[Any]]) -> FeedPage:
    """Runs a page's statements through ``fetch`` (a query's rows) on any DBAPI connection."""
    read = query.read(fetch(*query.rows))
    page = query.finish(read)
    if page is None:
        page = query.finish(read, bool(fetch(*query.before)[0][0]))
    assert page is not None
    return page


def _read_only_sqlite(path: str) -> sqlite3.Connection:
    """The event loop's own connection: autocommit, so each read sees the latest commit."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA query_only=ON")
    connection.execute(f"PRAGMA busy_timeout={LOOP_BUSY_TIMEOUT_MS}")
    return connection
