"""What the engine currently thinks of a version: the latest analysis of each of its archives.

An archive can be analysed by several engine versions over time; the newest row
is the engine's current opinion, so a rule fixed in a later engine stops
flagging the archive without anyone deleting history.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from threatfeed.store.models import Analysis, Archive


def latest_analyses(session: Session, package_id: int) -> list[tuple[Archive, Analysis]]:
    """Each archive of the version with its newest analysis, archives by file name.

    Older analyses are never loaded: their evidence can be megabytes of JSON.
    """
    newest = (
        select(func.max(Analysis.id))
        .join(Archive, Archive.id == Analysis.archive_id)
        .where(Archive.package_id == package_id)
        .group_by(Analysis.archive_id)
    )
    rows = session.execute(
        select(Archive, Analysis)
        .join(Analysis, Analysis.archive_id == Archive.id)
        .where(Analysis.id.in_(newest))
        .order_by(Archive.filename, Archive.id)
    ).all()
    return [(archive, analysis) for archive, analysis in rows]


def union_indicators(indicators: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One rule -> evidence map for a version from its archives' maps.

    Lists are concatenated without duplicates; equal values are kept once;
    different non-list values of one rule become the list of the distinct values.
    """
    merged: dict[str, list[Any]] = {}
    single: dict[str, bool] = {}
    for mapping in indicators:
        for rule, evidence in mapping.items():
            values = merged.setdefault(rule, [])
            items = evidence if isinstance(evidence, list) else [evidence]
            single[rule] = single.get(rule, True) and not isinstance(evidence, list)
            known = {_canonical(value) for value in values}
            for item in items:
                if (key := _canonical(item)) not in known:
                    known.add(key)
                    values.append(item)
    return {
        rule: values[0] if single[rule] and len(values) == 1 else values
        for rule, values in sorted(merged.items())
    }


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
