"""The feed's SQL, rendered once per query shape into the driver's own dialect.

A page request differs from the next only in its values, so each combination of
terms (the view, which filters, cursor or offset, ``per_page``) is built with
SQLAlchemy Core once, compiled for a dialect (the engine's, or asyncpg's for the
API's PostgreSQL reads), and from then on run directly on the driver with the
values bound in the compiled order. That keeps SQLAlchemy's per-execution work
(statement caching, result processing, pool events) off the hot path while the
SQL itself stays defined in one place.

On PostgreSQL the fixed text also lets the driver prepare each shape once per
connection. ``per_page + 1`` is rendered as a literal rather than a bound value:
with a bound ``LIMIT`` the planner's generic plan could not know the scan stops
after a page.

The API's PostgreSQL reader also reads several pages of one shape in a single
statement (``Queries.batch``): each request's values are a row of ``unnest`` over
arrays, and its page the same query as a ``LATERAL`` subquery of that row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Dialect,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.types import TypeEngine

from threatfeed.feed.cursor import Position, encode_cursor
from threatfeed.feed.params import FeedParams
from threatfeed.store.models import FeedEntry

_t = FeedEntry.__table__.c
_TIME_TYPE = _t.added_at.type
_VALUE_TYPES: dict[str, TypeEngine[Any]] = {
    "since": _TIME_TYPE,
    "ecosystem": String(),
    "name": String(),
    "cursor_at": _TIME_TYPE,
    "cursor_id": Integer(),
    "offset": Integer(),
}
"""The values a request binds, by name (``Queries.for_request``), and their SQL types."""
SLOT = "slot"
"""The column of a batch's rows naming the request they belong to (``Queries.batch``)."""


def http_date(moment: datetime | None) -> str | None:
    """RFC 1123 in GMT, as the contract's ``created``: ``Mon, 31 Jul 2023 00:52:09 GMT``."""
    return None if moment is None else format_datetime(moment, usegmt=True)


def json_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class View:
    """Which entries a feed endpoint lists, and the time it orders and filters them by."""

    live: bool

    @property
    def time(self) -> Any:
        return _t.added_at if self.live else _t.withdrawn_at


LIVE = View(live=True)
WITHDRAWN = View(live=False)


class FeedPage(NamedTuple):
    """A page of a feed endpoint. A named tuple, like ``PageQuery``: one of each is made
    per request, and a frozen dataclass takes three times as long to make."""

    documents: bytes
    """The page's items as stored (``item_document``), joined by commas, in UTF-8."""
    digest: bytes
    """SHA-256 of ``documents``, which the database can compute (``PageRead``)."""
    has_next: bool
    has_previous: bool
    next_cursor: str | None

    def _head(self) -> bytes:
        """The body up to the documents."""
        cursor = "null" if self.next_cursor is None else f'"{self.next_cursor}"'
        return (
            f'{{"has_next":{"true" if self.has_next else "false"},'
            f'"has_previous":{"true" if self.has_previous else "false"},'
            f'"next_cursor":{cursor},"packages":['
        ).encode()

    def body(self) -> bytes:
        return self._head() + self.documents + b"]}"

    def etag(self) -> str:
        """A strong ETag of ``body()``: SHA-256 of the body's head and the documents' digest.

        Collision-resistant like a hash of the whole body (a different body differs in its
        head or its documents, so in the hashed bytes or in ``digest``), so a crafted page
        cannot keep a client's cached copy alive; but the documents, most of the body, are
        hashed where they are read, on PostgreSQL by the database.
        """
        return '"' + hashlib.sha256(self._head() + self.digest).hexdigest()[:32] + '"'


class PageRead(NamedTuple):
    """What a page's statement says, the rows it read reduced to what the page needs.

    Made from the rows in Python (``PageQuery.read``), or by the statement itself
    (``Queries.batch``): either way ``PageQuery.finish`` makes the page from it.
    """

    documents: bytes | None
    """The documents of the page's rows (not the cursor's own row) joined by commas, in
    UTF-8; None when there are none."""
    digest: bytes
    """SHA-256 of ``documents`` (or of nothing)."""
    found: int
    """Rows read after the cursor's own row: more than ``per_page`` means a next page."""
    cursor_found: bool | None
    """Whether the cursor's own row came back (None or False without a cursor)."""
    last_id: int | None
    """The id of the page's ``per_page``-th row, when there is one."""
    last_at: Any
    """That row's time, as the driver returns it."""


class Shape(NamedTuple):
    """The terms of one page query; the values come per request."""

    live: bool
    since: bool
    ecosystem: bool
    name: bool
    cursor: bool
    offset: bool
    per_page: int

    @classmethod
    def of(cls, params: FeedParams, view: View) -> Shape:
        return cls(
            view.live,
            params.since is not None,
            params.ecosystem is not None,
            params.name is not None,
            params.cursor is not None,
            params.cursor is None and params.page > 1,
            params.per_page,
        )

    @property
    def values(self) -> tuple[str, ...]:
        """The names of the values a request of this shape binds, in ``_VALUE_TYPES`` order."""
        present = (self.since, self.ecosystem, self.name, self.cursor, self.cursor, self.offset)
        return tuple(name for name, used in zip(_VALUE_TYPES, present, strict=True) if used)

    @property
    def bounded(self) -> bool:
        """Whether the query reads at most about a page of index entries, whatever the data.

        True for the live feed from its start or from a cursor, with at most one of the
        filters that have an index of their own. An ``OFFSET`` reads every row it skips,
        and the withdrawn view or two filters at once can walk an index far past a page
        when few rows match.
        """
        return self.live and not self.offset and not (self.ecosystem and self.name)


@dataclass(frozen=True)
class Statement:
    """SQL text in the driver's paramstyle and how to bind a request's values to it."""

    sql: str
    names: tuple[str, ...]
    """The values' names, in placeholder order for a positional paramstyle."""
    positional: bool
    fixed: dict[str, Any]
    """Values the compiler bound itself (such as SQLite's ``OFFSET 0``)."""

    def arguments(self, values: dict[str, Any]) -> Sequence[Any] | dict[str, Any]:
        fixed = self.fixed
        if self.positional:
            return [values[name] if name in values else fixed[name] for name in self.names]
        return {name: values[name] if name in values else fixed[name] for name in self.names}

    def batch_arguments(self, queries: Sequence[PageQuery]) -> list[list[Any]]:
        """A ``Queries.batch`` statement's arrays: request ``i``'s values at index ``i``."""
        return [
            list(range(len(queries))) if name == SLOT else [query.values[name] for query in queries]
            for name in self.names
        ]


def _compile(query: Any, dialect: Dialect) -> Statement:
    compiled = query.compile(dialect=dialect)
    names = tuple(compiled.positiontup) if compiled.positional else tuple(compiled.binds)
    fixed = {name: bind.value for name, bind in compiled.binds.items() if bind.value is not None}
    return Statement(str(compiled), names, bool(compiled.positional), fixed)


class PageQuery(NamedTuple):
    """One request's statements and values, and the page made from their rows."""

    params: FeedParams
    view: View
    shape: Shape
    rows_statement: Statement
    before_statement: Statement
    values: dict[str, Any]
    time_value: Callable[[Any], datetime | None]

    @property
    def _position(self) -> tuple[Any, Any]:
        """The cursor as the database returns a row's (id, time): bound values compare equal
        to stored ones, as the query's own comparisons rely on."""
        return self.values["cursor_id"], self.values["cursor_at"]

    @property
    def rows(self) -> tuple[str, Sequence[Any] | dict[str, Any]]:
        """The page's rows, ``per_page + 1`` at most to learn ``has_next``; from a cursor,
        the cursor's own row first when it is still there."""
        return self.rows_statement.sql, self.rows_statement.arguments(self.values)

    @property
    def before(self) -> tuple[str, Sequence[Any] | dict[str, Any]]:
        """One row, one column: whether any matching item comes before this page."""
        return self.before_statement.sql, self.before_statement.arguments(self.values)

    def read(self, rows: Sequence[Sequence[Any]]) -> PageRead:
        """What the rows of the ``rows`` statement say about the page."""
        cursor_found = False
        if self.shape.cursor and rows and (rows[0][0], rows[0][2]) == self._position:
            rows, cursor_found = rows[1:], True
        count = len(rows)
        per_page = self.shape.per_page
        rows = rows[:per_page]
        if self.view.live:
            text = ",".join([row[1] for row in rows])
        else:
            text = ",".join(
                [
                    f'{row[1][:-1]},"withdrawn":{json_text(http_date(self.time_value(row[3])))},'
                    f'"withdrawn_reason":{json_text(row[4])}}}'
                    for row in rows
                ]
            )
        documents = text.encode()
        last = rows[-1] if len(rows) == per_page else (None, None, None)
        digest = hashlib.sha256(documents).digest()
        return PageRead(documents, digest, count, cursor_found, last[0], last[2])

    def finish(self, read: PageRead, before: bool | None = None) -> FeedPage | None:
        """The page, or None when ``has_previous`` needs the ``before`` statement's answer.

        ``has_previous`` needs no statement of its own in the common cases: the first
        page has nothing before it; a later page by ``page`` that has rows has its offset's
        worth before it; and a cursor page reads the cursor's own row too, the last item of
        the page before, which answers whenever it is still in the view. Only when it is
        gone (withdrawn since, or a cursor used with other filters) or a page past the
        start is empty is the ``before`` statement asked.
        """
        if self.shape.cursor:
            if read.cursor_found:
                before = True
        elif self.params.page == 1:
            before = False
        elif read.found:
            before = True
        if before is None:  # else it is known, or the caller's answer from ``before``
            return None
        has_next = read.found > self.shape.per_page
        next_cursor = None
        if has_next:
            at = self.time_value(read.last_at)
            assert at is not None
            assert read.last_id is not None
            next_cursor = encode_cursor(Position(at, read.last_id))
        return FeedPage(read.documents or b"", read.digest, has_next, before, next_cursor)


class TimeCodec(NamedTuple):
    """How a time goes to the driver as a bound value, and comes back from a row.

    A row's time and a bound time must compare equal when they name the same moment: a
    cursor page recognises the cursor's own row that way (``PageQuery.page``).
    """

    bind: Callable[[datetime], Any]
    value: Callable[[Any], datetime | None]


class Queries:
    """The compiled statements of every shape met so far, for one dialect."""

    def __init__(self, dialect: Dialect, time_codec: TimeCodec | None = None) -> None:
        """``time_codec`` replaces the dialect's conversion of times, when the connection
        decodes them itself (see ``TimeCodec``)."""
        self._dialect = dialect
        live: ColumnElement[bool] = _t.withdrawn_at.is_(None)
        if dialect.name == "sqlite":
            # SQLite's planner takes ``withdrawn_at IS NULL`` for an equality on the first
            # column of ix_feed_withdrawn and, with or without ANALYZE, reads the whole live
            # feed through it and sorts it: ~0.5 s per page at 50,000 entries. ``likely()``
            # says the term holds for nearly every row, so it walks ix_feed_added in order
            # and stops after one page.
            live = func.likely(live, type_=Boolean)
        self._live = live
        if time_codec is None:
            impl = _TIME_TYPE.dialect_impl(dialect)
            bind = impl.bind_processor(dialect)
            result = impl.result_processor(dialect, None)
            time_codec = TimeCodec(bind or (lambda moment: moment), result or (lambda value: value))
        self._bind_time = time_codec.bind
        self._time_value = time_codec.value
        self._compiled: dict[Shape, tuple[Statement, Statement]] = {}
        self._batches: dict[Shape, Statement] = {}

    def for_request(self, params: FeedParams, view: View) -> PageQuery:
        shape = Shape.of(params, view)
        statements = self._compiled.get(shape)
        if statements is None:
            statements = self._compiled[shape] = self._build(shape, view)
        values: dict[str, Any] = {}
        if params.since is not None:
            values["since"] = self._bind_time(params.since)
        if params.ecosystem is not None:
            values["ecosystem"] = params.ecosystem
        if params.name is not None:
            values["name"] = params.name
        if params.cursor is not None:
            values["cursor_at"] = self._bind_time(params.cursor.at)
            values["cursor_id"] = params.cursor.id
        elif shape.offset:
            values["offset"] = params.offset
        return PageQuery(params, view, shape, *statements, values, self._time_value)

    def batch(self, shape: Shape) -> Statement:
        """One statement reading the pages of several requests of a bounded live ``shape``
        (PostgreSQL), one row each: ``SLOT`` and the page's ``PageRead``.

        Its arguments are arrays (``Statement.batch_arguments``), one element per request;
        ``unnest`` makes a row of each request's values, and a ``LATERAL`` subquery runs
        that request's own page query and reduces its rows to the page: each row's
        position in the page (the cursor's own row 0, the page's rows from 1, the one
        after them ``per_page + 1``), the documents of positions 1 to ``per_page`` joined
        in order, and their SHA-256. The server then decodes one row per page, and
        hashes a few hundred bytes for its ETag instead of the page's documents.
        """
        assert shape.live
        assert shape.bounded
        statement = self._batches.get(shape)
        if statement is None:
            names = (SLOT, *shape.values)
            types = {SLOT: Integer(), **_VALUE_TYPES}
            request = (
                func.unnest(*(bindparam(name, type_=ARRAY(types[name])) for name in names))
                .table_valued(*names)
                .render_derived(name="request")
            )
            # Each level below the LATERAL one names ``request`` of the enclosing query.
            read = (
                self._select(shape, LIVE, lambda name: request.c[name])
                .correlate(request)
                .subquery("page_rows")
            )
            position: ColumnElement[int] = func.row_number().over(
                order_by=(read.c.at.desc(), read.c.id.desc())
            )
            if shape.cursor:
                own = and_(read.c.at == request.c.cursor_at, read.c.id == request.c.cursor_id)
                position = position - func.count().filter(own).over()
            ranked = select(read, position.label("position")).correlate(request).subquery("ranked")
            zero, one, per_page = (
                literal_column(str(n), Integer()) for n in (0, 1, shape.per_page)
            )
            in_page = ranked.c.position.between(one, per_page)
            documents = func.convert_to(
                func.string_agg(
                    ranked.c.document, aggregate_order_by(literal_column("','"), ranked.c.position)
                ).filter(in_page),
                literal_column("'UTF8'"),
            )
            summary = select(
                documents.label("documents"),
                func.count().filter(ranked.c.position >= one).label("found"),
                func.bool_or(ranked.c.position == zero).label("cursor_found"),
                func.max(ranked.c.id).filter(ranked.c.position == per_page).label("last_id"),
                func.max(ranked.c.at).filter(ranked.c.position == per_page).label("last_at"),
            ).subquery("summary")
            digest = func.sha256(func.coalesce(summary.c.documents, literal_column("''::bytea")))
            page = select(
                summary.c.documents,
                digest.label("digest"),
                summary.c.found,
                summary.c.cursor_found,
                summary.c.last_id,
                summary.c.last_at,
            ).lateral("page")
            # In no particular order: the caller places each row by its SLOT, and sorting
            # would copy every page's documents once more in the database.
            query = select(request.c[SLOT], *page.c).select_from(request.join(page, true()))
            statement = self._batches[shape] = _compile(query, self._dialect)
        return statement

    def _build(self, shape: Shape, view: View) -> tuple[Statement, Statement]:
        def value(name: str) -> ColumnElement[Any]:
            return bindparam(name, type_=_VALUE_TYPES[name])

        time = view.time
        conditions = self._conditions(shape, view, value)
        key = tuple_(time, _t.id)
        position = tuple_(value("cursor_at"), value("cursor_id"))
        # "Is there an earlier item" as the first one in index order, not as EXISTS: for a
        # prepared statement's generic plan PostgreSQL estimated the range at a third of
        # the table and answered EXISTS with a sequential scan; with the order of an
        # index and LIMIT 1 every plan walks that index and stops at the first match.
        earliest = (
            select(_t.id)
            .where(*conditions, *([key > position] if shape.cursor else []))
            .order_by(time.asc(), _t.id.asc())
            .limit(literal_column("1"))
            .scalar_subquery()
        )
        before = earliest.is_not(None)
        query = self._select(shape, view, value)
        return _compile(query, self._dialect), _compile(select(before), self._dialect)

    def _conditions(
        self, shape: Shape, view: View, value: Callable[[str], ColumnElement[Any]]
    ) -> list[ColumnElement[bool]]:
        """The terms every row of the shape's pages meets, on the request's values."""
        time = view.time
        conditions: list[ColumnElement[bool]] = [self._live if view.live else time.is_not(None)]
        if shape.since:
            conditions.append(time >= value("since"))
        if shape.ecosystem:
            conditions.append(_t.ecosystem == value("ecosystem"))
        if shape.name:
            conditions.append(_t.name == value("name"))
        return conditions

    def _select(
        self, shape: Shape, view: View, value: Callable[[str], ColumnElement[Any]]
    ) -> Select[Any]:
        """The page's rows, ``per_page + 1`` (from a cursor, ``+ 2``) at most, on the values
        ``value`` names: bound parameters, or a batch's columns."""
        time = view.time
        columns: list[Any] = [_t.id, _t.document, time.label("at")]
        if not view.live:
            columns += [_t.withdrawn_at, _t.withdrawn_reason]
        query: Select[Any] = (
            select(*columns)
            .where(*self._conditions(shape, view, value))
            .order_by(time.desc(), _t.id.desc())
            .limit(literal_column(str(shape.per_page + 1 + shape.cursor)))
        )
        if shape.cursor:
            query = query.where(
                tuple_(time, _t.id) <= tuple_(value("cursor_at"), value("cursor_id"))
            )
        if shape.offset:
            query = query.offset(value("offset"))
        return query
