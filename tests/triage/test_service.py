from __future__ import annotations

import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError

from threatfeed.feed.items import FeedItem
from threatfeed.feed.writer import import_items
from threatfeed.store import Database
from threatfeed.store.models import FeedEntry, TriageItem, Verdict
from threatfeed.triage.errors import IllegalTransition, InvalidVerdict, UnknownPackage
from threatfeed.triage.service import (
    TRIAGED_RULE,
    Author,
    PackageKey,
    decide,
    history,
    resolve,
    state_of,
)
from threatfeed.triage.states import Kind, State

from .factory import PUBLISHED, Sample, add

ALICE = Author("alice", None)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def verdict(database: Database, package_id: int, kind: Kind, at: datetime = T0) -> None:
    with database.session() as session:
        decide(session, [package_id], kind, f"{kind.value} because", ALICE, at=at)


def state(database: Database, package_id: int) -> State:
    with database.session() as session:
        return state_of(session, package_id)


def entry(database: Database, package_id: int) -> FeedEntry | None:
    with database.session() as session:
        return session.scalar(select(FeedEntry).where(FeedEntry.package_id == package_id))


def verdict_rows(database: Database) -> list[tuple[object, ...]]:
    with database.session() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(
                    Verdict.id, Verdict.package_id, Verdict.verdict, Verdict.reason, Verdict.author
                ).order_by(Verdict.id)
            )
        ]


def test_a_flagged_version_is_pending(database: Database) -> None:
    (package,) = add(database, Sample("evil-pkg"))
    assert state(database, package) is State.PENDING


def test_confirm_publishes_the_union_of_the_archives_indicators(database: Database) -> None:
    wheel = Sample(
        "evil-pkg",
        archive="evil_pkg-1.0.0-py3-none-any.whl",
        indicators={"npm_hooks_rule": ["node other.js"], "obfuscation_rule": True},
    )
    package, _ = add(database, Sample("evil-pkg"), wheel)
    verdict(database, package, Kind.MALICIOUS)

    published = entry(database, package)
    assert published is not None
    assert published.withdrawn_at is None
    assert published.added_at == T0
    assert published.created == PUBLISHED
    assert published.indicators == {
        "npm_hooks_rule": ["node index.js", "node other.js"],
        "obfuscation_rule": True,
        "suspicious_url_references_rule": [
            {"file": "package/index.js", "urls": ["https://exfil.example.invalid/c"]}
        ],
        TRIAGED_RULE: True,
    }
    assert [h["archive"] for h in published.hashes] == [
        "evil-pkg-1.0.0.tgz",
        "evil_pkg-1.0.0-py3-none-any.whl",
    ]
    assert all(h["type"] == "SHA256" and len(h["hash"]) == 64 for h in published.hashes)
    assert state(database, package) is State.MALICIOUS


def test_confirm_uses_the_latest_analysis_of_each_archive(database: Database) -> None:
    old = Sample("evil-pkg", indicators={"old_rule": True})
    (package,) = add(database, old)
    add(database, replace(old, engine_version="test-2", indicators={"new_rule": ["x y z"]}))
    verdict(database, package, Kind.MALICIOUS)
    published = entry(database, package)
    assert published is not None
    assert published.indicators == {"new_rule": ["x y z"], TRIAGED_RULE: True}


def test_dismiss_keeps_it_out_of_the_feed(database: Database) -> None:
    (package,) = add(database, Sample("noisy-but-fine"))
    verdict(database, package, Kind.BENIGN)
    assert state(database, package) is State.BENIGN
    assert entry(database, package) is None


def test_a_later_confirm_reverses_a_dismissal(database: Database) -> None:
    (package,) = add(database, Sample("sleeper"))
    verdict(database, package, Kind.BENIGN)
    verdict(database, package, Kind.MALICIOUS, T0 + timedelta(hours=1))
    assert state(database, package) is State.MALICIOUS
    assert entry(database, package) is not None


def test_withdraw_takes_the_entry_out_of_the_live_feed(database: Database) -> None:
    (package,) = add(database, Sample("false-alarm"))
    verdict(database, package, Kind.MALICIOUS)
    verdict(database, package, Kind.WITHDRAWN, T0 + timedelta(hours=1))
    withdrawn = entry(database, package)
    assert withdrawn is not None
    assert withdrawn.withdrawn_at == T0 + timedelta(hours=1)
    assert withdrawn.withdrawn_reason == "withdrawn because"
    assert state(database, package) is State.WITHDRAWN


def test_republishing_returns_the_entry_with_a_fresh_added_time(database: Database) -> None:
    (package,) = add(database, Sample("back-again"))
    verdict(database, package, Kind.MALICIOUS)
    verdict(database, package, Kind.WITHDRAWN, T0 + timedelta(hours=1))
    verdict(database, package, Kind.MALICIOUS, T0 + timedelta(hours=2))
    again = entry(database, package)
    assert again is not None
    assert again.withdrawn_at is None
    assert again.withdrawn_reason is None
    assert again.added_at == T0 + timedelta(hours=2)
    assert state(database, package) is State.MALICIOUS


def _move(database: Database, package: int, kinds: list[Kind]) -> None:
    for hour, kind in enumerate(kinds):
        verdict(database, package, kind, T0 + timedelta(hours=hour))


@pytest.mark.parametrize(
    ("path", "illegal", "message"),
    [
        ([], Kind.WITHDRAWN, "not in the feed"),
        ([Kind.MALICIOUS], Kind.MALICIOUS, "already in the feed"),
        ([Kind.MALICIOUS], Kind.BENIGN, "withdraw it instead"),
        ([Kind.BENIGN], Kind.BENIGN, "already dismissed"),
        ([Kind.BENIGN], Kind.WITHDRAWN, "never published"),
        ([Kind.MALICIOUS, Kind.WITHDRAWN], Kind.WITHDRAWN, "already withdrawn"),
        ([Kind.MALICIOUS, Kind.WITHDRAWN], Kind.BENIGN, "already withdrawn"),
    ],
)
def test_illegal_transitions_are_refused_and_change_nothing(
    database: Database, path: list[Kind], illegal: Kind, message: str
) -> None:
    (package,) = add(database, Sample("target"))
    _move(database, package, path)
    before_rows, before_entry = verdict_rows(database), entry(database, package)
    before_state = state(database, package)
    with pytest.raises(IllegalTransition, match=message) as refused:
        verdict(database, package, illegal, T0 + timedelta(days=1))
    assert "npm/target@1.0.0" in str(refused.value)
    assert verdict_rows(database) == before_rows
    after = entry(database, package)
    assert (after is None) == (before_entry is None)
    if after is not None and before_entry is not None:
        assert (after.added_at, after.withdrawn_at) == (
            before_entry.added_at,
            before_entry.withdrawn_at,
        )
    assert state(database, package) is before_state


def test_every_verdict_needs_a_reason(database: Database) -> None:
    (package,) = add(database, Sample("target"))
    with database.session() as session, pytest.raises(InvalidVerdict, match="reason"):
        decide(session, [package], Kind.MALICIOUS, "   ", ALICE)
    assert verdict_rows(database) == []


def test_unknown_versions_are_named(database: Database) -> None:
    add(database, Sample("known"))
    with (
        database.session() as session,
        pytest.raises(UnknownPackage, match=re.escape("npm/known@9.9.9")),
    ):
        resolve(session, PackageKey("npm", "known", "9.9.9"))


def test_the_audit_trail_is_append_only(database: Database) -> None:
    (package,) = add(database, Sample("flip-flop"))
    kinds = [Kind.BENIGN, Kind.MALICIOUS, Kind.WITHDRAWN, Kind.MALICIOUS]
    seen: list[tuple[object, ...]] = []
    for hour, kind in enumerate(kinds):
        with database.session() as session:
            decide(
                session,
                [package],
                kind,
                f"step {hour}",
                Author("bob", None),
                T0 + timedelta(hours=hour),
            )
        rows = verdict_rows(database)
        assert rows[: len(seen)] == seen  # earlier rows untouched
        seen = rows
    with database.session() as session:
        trail = history(session, package)
    assert [(r.kind, r.reason, r.author) for r in trail] == [
        (kind.value, f"step {i}", "bob") for i, kind in enumerate(kinds)
    ]


def test_a_bulk_verdict_records_one_row_per_version(database: Database) -> None:
    ids = add(database, *(Sample(f"campaign-{i}") for i in range(5)))
    with database.session() as session:
        decisions = decide(session, [*ids, ids[0]], Kind.MALICIOUS, "same payload", ALICE)
    assert sorted(d.package_id for d in decisions) == sorted(ids)
    assert len(verdict_rows(database)) == 5
    assert all(entry(database, package) is not None for package in ids)


def test_a_bulk_verdict_with_one_illegal_member_records_nothing(database: Database) -> None:
    ids = add(database, *(Sample(f"campaign-{i}") for i in range(3)))
    verdict(database, ids[1], Kind.MALICIOUS)
    with database.session() as session, pytest.raises(IllegalTransition, match="campaign-1"):
        decide(session, ids, Kind.MALICIOUS, "same payload", ALICE)
    assert len(verdict_rows(database)) == 1
    assert entry(database, ids[0]) is None


def test_a_version_never_flagged_can_be_judged(database: Database) -> None:
    (package,) = add(database, Sample("quiet", flagged=False, score=0.1))
    assert state(database, package) is State.UNFLAGGED
    verdict(database, package, Kind.MALICIOUS)
    assert state(database, package) is State.MALICIOUS
    with database.session() as session:
        item = session.get_one(TriageItem, package)
        assert (item.state, item.flagged) == ("malicious", False)


def test_an_imported_entry_without_verdict_can_be_withdrawn(database: Database) -> None:
    import_items(
        database,
        [FeedItem("pypi", "imported", "0.1", PUBLISHED, (("imported-0.1.tar.gz", "a" * 64),), {})],
    )
    with database.session() as session:
        package = resolve(session, PackageKey("pypi", "imported", "0.1"))
    assert state(database, package) is State.MALICIOUS
    verdict(database, package, Kind.WITHDRAWN)
    withdrawn = entry(database, package)
    assert withdrawn is not None
    assert withdrawn.withdrawn_at is not None


def test_the_verdict_records_author_account_and_time(database: Database) -> None:
    (package,) = add(database, Sample("target"))
    with database.session() as session:
        decide(session, [package], Kind.BENIGN, "test fixture", Author("op", None), at=T0)
    with database.session() as session:
        row = session.scalars(select(Verdict)).one()
        assert (row.author, row.account_id, row.created_at, row.reason) == (
            "op",
            None,
            T0,
            "test fixture",
        )
        assert session.scalar(select(func.count()).select_from(FeedEntry)) == 0


def test_concurrent_verdicts_on_one_version_are_serialised(database: Database) -> None:
    """Two researchers give one version the same verdict at once: one wins, one is refused."""
    ids = add(database, *(Sample(f"raced-{n}") for n in range(4)))
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(package: int, kind: Kind, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            with database.session() as session:
                decide(session, [package], kind, "race", Author(kind.value))
            result = "won"
        except IllegalTransition:
            result = "refused"
        with lock:
            outcomes.append(result)

    for number, package in enumerate(ids):
        barrier = threading.Barrier(2)
        kind = Kind.MALICIOUS if number % 2 else Kind.BENIGN
        threads = [
            threading.Thread(target=attempt, args=(package, kind, barrier)) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert sorted(outcomes) == ["refused"] * 4 + ["won"] * 4
    with database.session() as session:
        for package in ids:
            assert len(history(session, package)) == 1
            confirmed = state_of(session, package) is State.MALICIOUS
            in_feed = session.scalar(select(FeedEntry.id).where(FeedEntry.package_id == package))
            assert confirmed == (in_feed is not None)


REACH: dict[State, tuple[bool, list[Kind]]] = {
    State.PENDING: (True, []),
    State.UNFLAGGED: (False, []),
    State.BENIGN: (True, [Kind.BENIGN]),
    State.MALICIOUS: (True, [Kind.MALICIOUS]),
    State.WITHDRAWN: (True, [Kind.MALICIOUS, Kind.WITHDRAWN]),
}
TARGET = {
    Kind.MALICIOUS: State.MALICIOUS,
    Kind.BENIGN: State.BENIGN,
    Kind.WITHDRAWN: State.WITHDRAWN,
}


def test_every_state_and_verdict_pair_follows_the_table(database: Database) -> None:
    """All 15 (state, verdict) pairs: the allowed ones move, the others are refused."""
    pairs = [(start, kind) for start in State for kind in Kind]
    samples = [
        Sample(f"s-{start.value}-{kind.value}", flagged=REACH[start][0], score=0.9)
        for start, kind in pairs
    ]
    ids = add(database, *samples)
    allowed_moves = set()
    for (start, kind), package in zip(pairs, ids, strict=True):
        _move(database, package, REACH[start][1])
        assert state(database, package) is start
        try:
            verdict(database, package, kind, T0 + timedelta(days=1))
        except IllegalTransition:
            assert state(database, package) is start
        else:
            allowed_moves.add((start, kind))
            assert state(database, package) is TARGET[kind]
    assert allowed_moves == {
        (State.PENDING, Kind.MALICIOUS),
        (State.PENDING, Kind.BENIGN),
        (State.UNFLAGGED, Kind.MALICIOUS),
        (State.UNFLAGGED, Kind.BENIGN),
        (State.BENIGN, Kind.MALICIOUS),
        (State.MALICIOUS, Kind.WITHDRAWN),
        (State.WITHDRAWN, Kind.MALICIOUS),
    }


def test_the_database_refuses_to_update_a_verdict(database: Database) -> None:
    (package,) = add(database, Sample("target"))
    verdict(database, package, Kind.BENIGN)
    with pytest.raises(DBAPIError, match="append-only"), database.session() as session:
        session.execute(update(Verdict).values(reason="rewritten history"))
    assert [row[3] for row in verdict_rows(database)] == ["benign because"]
