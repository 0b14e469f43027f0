"""Query plans of exactly the SQL the feed reader sends, captured as it runs.

The statements are recorded from the engine while ``FeedReader.page`` serves
each case in-process, then explained with the same parameters, so the plans
cannot drift from the product's queries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from threatfeed.feed.params import FeedParams
from threatfeed.feed.reader import FeedReader
from threatfeed.store import Database

_COST = re.compile(r"\s*\(cost=[^)]*\)")


@contextmanager
def _recording(database: Database) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def record(_c: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        statements.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def plans(database: Database, cases: Mapping[str, FeedParams]) -> dict[str, list[str]]:
    """For each case, the plan lines of each statement the reader ran (blank line between)."""
    reader = FeedReader(database)
    explained: dict[str, list[str]] = {}
    for label, params in cases.items():
        with _recording(database) as statements:
            reader.page(params)
        lines: list[str] = []
        for statement, parameters in statements:
            if lines:
                lines.append("")
            lines.extend(_explain(database, statement, parameters))
        explained[label] = lines
    return explained


def _explain(database: Database, statement: str, parameters: Any) -> list[str]:
    postgres = database.dialect == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(prefix + statement, parameters)
        rows = cursor.fetchall()
    finally:
        raw.close()
    if postgres:
        return [_COST.sub("", row[0]) for row in rows]
    depth: dict[int, int] = {0: 0}
    lines = []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, 0) + 1
        lines.append("  " * (depth[node] - 1) + detail)
    return lines
