from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from threatfeed.feed.items import FeedItem
from threatfeed.feed.writer import import_items
from threatfeed.store import Database
from threatfeed.store.models import TriageItem
from threatfeed.triage.queue import (
    InvalidFilter,
    QueueFilter,
    counts,
    indicators_of,
    list_queue,
    neighbours,
)
from threatfeed.triage.service import Author, decide
from threatfeed.triage.states import Kind, State

from .factory import PUBLISHED, Sample, add


def names(database: Database, chosen: QueueFilter, page: int = 1, per_page: int = 50) -> list[str]:
    with database.session() as session:
        return [row.name for row in list_queue(session, chosen, page, per_page).rows]


def test_pending_versions_highest_score_first_ties_newest_first(database: Database) -> None:
    add(
        database,
        Sample("b", score=0.6),
        Sample("a", score=0.9),
        Sample("c", score=0.6),
        Sample("quiet", flagged=False, score=0.2),
    )
    assert names(database, QueueFilter()) == ["a", "c", "b"]


def test_decided_versions_leave_the_pending_queue(database: Database) -> None:
    ids = add(database, Sample("x"), Sample("y"), Sample("z"))
    with database.session() as session:
        decide(session, [ids[0]], Kind.MALICIOUS, "r", Author("a"))
        decide(session, [ids[1]], Kind.BENIGN, "r", Author("a"))
    assert names(database, QueueFilter()) == ["z"]
    assert names(database, QueueFilter(State.MALICIOUS)) == ["x"]
    assert names(database, QueueFilter(State.BENIGN)) == ["y"]


def test_filters_ecosystem_rule_score_and_age(database: Database) -> None:
    add(
        database,
        Sample("npm-hook", score=0.9),
        Sample("py-obf", ecosystem="pypi", score=0.8, indicators={"obfuscation_rule": True}),
        Sample("npm-low", score=0.5, indicators={"obfuscation_rule": True}),
    )
    now = datetime.now(UTC)
    with database.session() as session:
        session.execute(
            update(TriageItem)
            .where(TriageItem.name == "npm-low")
            .values(flagged_at=now - timedelta(days=10))
        )
    assert names(database, QueueFilter(ecosystem="pypi")) == ["py-obf"]
    assert names(database, QueueFilter(rule="obfuscation_rule")) == ["py-obf", "npm-low"]
    assert names(database, QueueFilter(min_score=0.85)) == ["npm-hook"]
    assert names(database, QueueFilter(max_age_days=7)) == ["npm-hook", "py-obf"]
    assert names(database, QueueFilter(ecosystem="npm", rule="obfuscation_rule")) == ["npm-low"]


@pytest.mark.parametrize(
    "bad",
    [
        {"rule": "x' OR 1=1"},
        {"max_age_days": -1},
        {"max_age_days": 10**20},
        {"min_score": float("nan")},
        {"min_score": 1.5},
    ],
)
def test_malformed_filters_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidFilter):
        QueueFilter(**bad)  # type: ignore[arg-type]


def test_pages_walk_every_item_once(database: Database) -> None:
    add(database, *(Sample(f"p{i:02}", score=0.5 + i / 100) for i in range(23)))
    seen = []
    for page in (1, 2, 3):
        with database.session() as session:
            result = list_queue(session, QueueFilter(), page, 10)
        seen += [row.name for row in result.rows]
        assert result.total == 23
        assert result.has_next == (page < 3)
    assert seen == [f"p{i:02}" for i in reversed(range(23))]


def test_counts_by_ecosystem_and_state_and_rules(database: Database) -> None:
    ids = add(
        database,
        Sample("a"),
        Sample("b"),
        Sample("c", ecosystem="pypi", indicators={"obfuscation_rule": True}),
    )
    with database.session() as session:
        decide(session, [ids[0]], Kind.MALICIOUS, "r", Author("a"))
    with database.session() as session:
        result = counts(session)
    assert result.by_ecosystem == {"npm": {"malicious": 1, "pending": 1}, "pypi": {"pending": 1}}
    assert result.by_state["pending"] == 2
    assert result.by_state["malicious"] == 1
    assert dict(result.rules) == {
        "npm_hooks_rule": 1,
        "suspicious_url_references_rule": 1,
        "obfuscation_rule": 1,
    }


def test_a_version_already_imported_into_the_feed_is_not_pending(database: Database) -> None:
    add(database, Sample("known-bad"), Sample("new-bad"))
    import_items(database, [FeedItem("npm", "known-bad", "1.0.0", PUBLISHED, (), {})])
    assert names(database, QueueFilter()) == ["new-bad"]


def test_neighbours_follow_queue_order(database: Database) -> None:
    low, high, mid = add(
        database, Sample("low", score=0.5), Sample("high", score=0.9), Sample("mid", score=0.7)
    )
    with database.session() as session:
        assert neighbours(session, mid, QueueFilter()) == (high, low)
        assert neighbours(session, high, QueueFilter()) == (None, mid)


def test_indicators_of_many_versions_in_one_go(database: Database) -> None:
    one, two = add(database, Sample("one"), Sample("two", indicators={"x_rule": ["a b c d"]}))
    with database.session() as session:
        found = indicators_of(session, [one, two])
    assert found[two] == {"x_rule": ["a b c d"]}
    assert "npm_hooks_rule" in found[one]
