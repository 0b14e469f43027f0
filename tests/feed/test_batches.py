"""Concurrent page reads. On PostgreSQL the requests of one shape that wait at once are
read by one statement, which also reduces each page's rows to the page (documents joined
and hashed by the database): every request must still get exactly the page, and the
ETag, that the synchronous reader makes from the rows in Python."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta

import asyncpg
import pytest

from tests.feed.conftest import T0, item, seed
from tests.postgres import throwaway_schema
from threatfeed.feed.cursor import Position, decode_cursor
from threatfeed.feed.params import FeedParams
from threatfeed.feed.queries import FeedPage
from threatfeed.feed.reader import LIVE, WITHDRAWN, FeedReader, View
from threatfeed.feed.writer import withdraw
from threatfeed.store import Database


def _feed(database: Database) -> None:
    """40 entries in two ecosystems, added in pairs at the same moment (ties broken by id),
    with non-ASCII text in some documents, and three of them withdrawn."""
    items = [
        item(
            n,
            added=T0 + timedelta(minutes=n // 2),
            ecosystem=("npm", "pypi")[n % 2],
            name=f"pkg-{n % 7}-é" if n % 5 == 0 else None,
        )
        for n in range(40)
    ]
    seed(database, items)
    with database.session() as session:
        for n in (3, 20, 39):
            withdraw(session, items[n].ecosystem, items[n].name, items[n].version, f"fp {n} ✓")


def _cursors(reader: FeedReader, params: FeedParams, view: View = LIVE) -> list[Position]:
    """Every cursor of a walk from the first page."""
    cursors = []
    page = reader.page(params, view)
    while page.next_cursor is not None:
        cursor = decode_cursor(page.next_cursor)
        assert cursor is not None
        cursors.append(cursor)
        page = reader.page(params._replace(cursor=cursor), view)
    return cursors


def _cases(database: Database, reader: FeedReader) -> list[tuple[FeedParams, View]]:
    walk = _cursors(reader, FeedParams(per_page=3))
    pypi = _cursors(reader, FeedParams(per_page=4, ecosystem="pypi"))
    withdrawn = _cursors(reader, FeedParams(per_page=1), WITHDRAWN)
    cases: list[tuple[FeedParams, View]] = [
        (FeedParams(per_page=per_page), LIVE) for per_page in (1, 3, 25, 100)
    ]
    cases += [(FeedParams(per_page=3, cursor=cursor), LIVE) for cursor in walk]
    cases += [(FeedParams(per_page=2, cursor=cursor), LIVE) for cursor in walk[::3]]
    cases += [(FeedParams(per_page=4, ecosystem="pypi", cursor=cursor), LIVE) for cursor in pypi]
    cases += [
        (FeedParams(per_page=5, since=T0 + timedelta(minutes=12)), LIVE),
        (FeedParams(per_page=5, since=T0 + timedelta(days=1)), LIVE),  # nothing
        (FeedParams(per_page=5, since=T0 + timedelta(minutes=3), cursor=walk[2]), LIVE),
        (FeedParams(name="pkg-0-é"), LIVE),
        (FeedParams(name="pkg-0-é", ecosystem="npm"), LIVE),  # two filters: read alone
        (FeedParams(page=3, per_page=4), LIVE),  # an offset: read alone
        (FeedParams(page=30, per_page=4), LIVE),  # past the end
        (FeedParams(per_page=3, cursor=Position(T0 - timedelta(days=1), 1)), LIVE),  # the end
        (FeedParams(per_page=2), WITHDRAWN),
        *((FeedParams(per_page=1, cursor=cursor), WITHDRAWN) for cursor in withdrawn),
    ]
    # A cursor whose own row, the last item of the page before it, is then withdrawn: its
    # page must ask whether anything comes before it.
    own = json.loads(reader.page(FeedParams(per_page=3, cursor=walk[3])).body())["packages"][-1]
    with database.session() as session:
        withdraw(session, own["ecosystem"], own["name"], own["version"], "gone")
    cases.append((FeedParams(per_page=3, cursor=walk[4]), LIVE))
    return cases


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[Database]:
    with throwaway_schema(postgres_url, "t") as url:
        database = Database(url)
        try:
            yield database
        finally:
            database.dispose()


def _expected(reader: FeedReader, cases: list[tuple[FeedParams, View]]) -> list[tuple[bytes, str]]:
    return [(page.body(), page.etag()) for page in (reader.page(*case) for case in cases)]


def test_concurrent_reads_each_get_the_page_of_their_own_statement(database: Database) -> None:
    _feed(database)
    reader = FeedReader(database)
    cases = _cases(database, reader)
    expected = _expected(reader, cases)

    async def read_all() -> list[FeedPage]:
        try:  # every case three times, interleaved, all waiting at once
            return await asyncio.gather(*(reader.serve(*case) for case in cases * 3))
        finally:
            await reader.aclose()

    served = [(page.body(), page.etag()) for page in asyncio.run(read_all())]
    assert served == expected * 3


def test_requests_of_one_shape_waiting_at_once_share_a_statement(postgres: Database) -> None:
    _feed(postgres)
    reader = FeedReader(postgres)
    cursors = _cursors(reader, FeedParams(per_page=2))
    cases = [(FeedParams(per_page=2, cursor=cursor), LIVE) for cursor in cursors]
    expected = _expected(reader, cases)

    async def read_all() -> tuple[list[FeedPage], int]:
        try:
            pages = await asyncio.gather(*(reader.serve(*case) for case in cases))
            assert reader._connections is not None
            return pages, sum(slot is not None for slot in reader._connections._slots)
        finally:
            await reader.aclose()

    pages, connections = asyncio.run(read_all())
    assert len(cases) > 10
    assert [(page.body(), page.etag()) for page in pages] == expected
    assert connections == 1  # one batch: one statement on one connection


def test_a_value_the_driver_refuses_fails_only_its_own_request_of_a_batch(
    postgres: Database,
) -> None:
    _feed(postgres)
    reader = FeedReader(postgres)
    cursors = _cursors(reader, FeedParams(per_page=3))[:4]
    expected = _expected(reader, [(FeedParams(per_page=3, cursor=c), LIVE) for c in cursors])
    refused = FeedParams(per_page=3, cursor=Position(T0, 2**40))  # past the 32-bit id column

    async def read_all() -> list[FeedPage | BaseException]:
        try:
            requests = [reader.serve(FeedParams(per_page=3, cursor=c)) for c in cursors]
            requests.insert(2, reader.serve(refused))
            return await asyncio.gather(*requests, return_exceptions=True)
        finally:
            await reader.aclose()

    outcomes = asyncio.run(read_all())
    assert isinstance(outcomes.pop(2), asyncpg.DataError)
    assert [
        (page.body(), page.etag()) for page in outcomes if isinstance(page, FeedPage)
    ] == expected


def test_a_request_cancelled_while_it_waits_leaves_the_others_served(postgres: Database) -> None:
    _feed(postgres)
    reader = FeedReader(postgres)
    expected = _expected(reader, [(FeedParams(per_page=n), LIVE) for n in (1, 2, 3)])

    async def read_all() -> list[FeedPage]:
        try:
            tasks = [
                asyncio.create_task(reader.serve(FeedParams(per_page=n))) for n in (1, 5, 2, 3)
            ]
            await asyncio.sleep(0)  # every task now waits for its page
            tasks[1].cancel()
            with pytest.raises(asyncio.CancelledError):
                await tasks[1]
            return await asyncio.gather(tasks[0], *tasks[2:])
        finally:
            await reader.aclose()

    assert [(page.body(), page.etag()) for page in asyncio.run(read_all())] == expected


def test_the_etag_is_a_hash_of_the_whole_body() -> None:
    """Equal bodies have equal ETags; a change anywhere in the body changes it."""
    documents = '{"name":"a"},{"name":"b"}'

    def page(documents: str = documents, has_next: bool = True, cursor: str = "Wz") -> FeedPage:
        encoded = documents.encode()
        digest = hashlib.sha256(encoded).digest()
        return FeedPage(encoded, digest, has_next, False, cursor if has_next else None)

    tags = {
        page().etag(),
        page('{"name":"a"},{"name":"c"}').etag(),
        page(has_next=False).etag(),
        page(cursor="Wy").etag(),
    }
    assert len(tags) == 4
    assert page().etag() == page().etag()
    assert json.loads(page().body())["packages"] == [{"name": "a"}, {"name": "b"}]
