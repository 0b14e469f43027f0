"""Query plans of exactly the SQL the feed reader sends.

The statements come from the reader's own compiled query shapes
(``threatfeed.feed.queries``) with each case's values, so the plans cannot drift
from the product's queries. A cursor page's ``has_previous`` is a subquery of
its one statement, so it shows in the same plan.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from threatfeed.feed.params import FeedParams
from threatfeed.feed.queries import LIVE, Queries
from threatfeed.store import Database

_COST = re.compile(r"\s*\(cost=[^)]*\)")


def plans(database: Database, cases: Mapping[str, FeedParams]) -> dict[str, list[str]]:
    """For each case, the plan lines of the statement that reads its page."""
    queries = Queries(database.engine.dialect)
    return {
        label: _explain(database, *queries.for_request(params, LIVE).rows)
        for label, params in cases.items()
    }


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
