"""The queue index and fingerprints follow what the real engine concluded at ingest."""

from __future__ import annotations

from dataclasses import replace
from hashlib import sha256
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from threatfeed.analysis import Analysis, Engine, Location
from threatfeed.pipeline.ingest import (
    Analysed,
    ArchiveRecord,
    package_id,
    record_analyses,
    record_analysis,
)
from threatfeed.store import Database
from threatfeed.store.models import (
    Archive,
    ArchiveFingerprint,
    Package,
    TriageItem,
    TriageItemRule,
)
from threatfeed.triage.campaigns import related
from threatfeed.triage.queue import QueueFilter, list_queue
from threatfeed.triage.service import Author, decide
from threatfeed.triage.states import Kind

from .factory import hook_archive, record_archive


def test_an_engine_flagged_archive_enters_the_queue_with_its_rules(database: Database) -> None:
    with database.session() as session:
        package = record_archive(session, "color-stringify", "1.0.3", hook_archive("c", "1"))
    with database.session() as session:
        item = session.get_one(TriageItem, package)
        rules = set(
            session.scalars(select(TriageItemRule.rule).where(TriageItemRule.package_id == package))
        )
        page = list_queue(session, QueueFilter())
    assert (item.state, item.flagged) == ("pending", True)
    assert item.score >= 0.5
    assert "npm_hooks_rule" in rules
    assert [row.package_id for row in page.rows] == [package]


def test_the_same_payload_under_other_names_is_one_campaign(database: Database) -> None:
    with database.session() as session:
        ids = [
            record_archive(session, name, "1.0.0", hook_archive(name, "1.0.0"))
            for name in ("chalk-colors", "chalk-colours", "chalk-kolors")
        ]
    with database.session() as session:
        found = related(session, ids[0])
    assert sorted(r.package_id for r in found) == sorted(ids[1:])


def test_a_newer_engine_that_no_longer_flags_takes_it_out_of_the_queue(
    database: Database,
) -> None:
    data = hook_archive("fixed-rule", "2.0.0")
    first = Engine().analyze(data)
    record = ArchiveRecord("npm", "fixed-rule", "2.0.0", "f.tgz", first.sha256, len(data))
    with database.session() as session:
        package = record_analysis(session, record, first).package_id
    calmer = replace(first, engine_version="later", flagged=False, score=0.1, indicators={})
    with database.session() as session:
        record_analysis(session, record, calmer)
    with database.session() as session:
        item = session.get_one(TriageItem, package)
        assert (item.state, item.flagged, item.score) == ("unflagged", False, 0.1)
        assert list_queue(session, QueueFilter()).total == 0


# -- a batch is indexed as its analyses recorded one by one, in a constant number of statements


def _analysed(
    ecosystem: str,
    name: str,
    filename: str,
    *,
    flagged: bool,
    engine: str = "test-1",
    payload: str = "https://exfil.example.invalid/c",
) -> Analysed:
    """A synthetic analysis of one archive; flagged ones carry evidence, clean ones none."""
    indicators: dict[str, Any] = (
        {"npm_hooks_rule": ["node index.js"], "suspicious_url_references_rule": [payload]}
        if flagged
        else {}
    )
    locations = (Location("npm_hooks_rule", "package/package.json", 6, f"fetch('{payload}')"),)
    digest = sha256(f"{ecosystem}/{name}/{filename}".encode()).hexdigest()
    analysis = Analysis(
        ecosystem=ecosystem,
        name=name,
        version="1.0.0",
        sha256=digest,
        score=0.9 if flagged else 0.1,
        flagged=flagged,
        indicators=indicators,
        locations=locations if flagged else (),
        errors=(),
        files=(("package/package.json", 312), ("package/index.js", 2345)),
        engine_version=engine,
    )
    record = ArchiveRecord(ecosystem, name, "1.0.0", filename, digest, 2657)
    return Analysed(record, analysis)


def _history(ecosystem: str) -> list[Analysed]:
    """What was recorded before the batch: versions in and out of the queue, one dismissed."""
    return [
        _analysed(ecosystem, "queued", "a.tgz", flagged=True),
        _analysed(ecosystem, "dismissed", "a.tgz", flagged=True),
        _analysed(ecosystem, "calmed", "a.tgz", flagged=True),
        _analysed(ecosystem, "quiet", "a.tgz", flagged=False),
    ]


def _batch(ecosystem: str) -> list[Analysed]:
    """Flagged and clean analyses of new and known versions, a newer engine's, a repeat."""
    return [
        _analysed(ecosystem, "queued", "b.tgz", flagged=False),
        _analysed(ecosystem, "dismissed", "a.tgz", flagged=True, engine="test-2", payload="x.inv"),
        _analysed(ecosystem, "calmed", "a.tgz", flagged=False, engine="test-2"),
        _analysed(ecosystem, "quiet", "b.tgz", flagged=False),
        _analysed(ecosystem, "quiet-too", "a.tgz", flagged=False),
        _analysed(ecosystem, "new-bad", "a.tgz", flagged=True),
        _analysed(ecosystem, "new-bad", "a.tgz", flagged=True),
        _analysed(ecosystem, "new-clean", "a.tgz", flagged=False),
        _analysed(ecosystem, "half", "a.tgz", flagged=False),
        _analysed(ecosystem, "half", "b.tgz", flagged=True),
        _analysed(ecosystem, "queued", "a.tgz", flagged=True),
    ]


def _snapshot(session: Session, ecosystem: str) -> dict[str, Any]:
    """The queue entries, their rules and the fingerprints of one ecosystem, by name."""
    items = {
        item.name: (item.score, item.flagged, item.state, item.flagged_at)
        for item in session.scalars(select(TriageItem).where(TriageItem.ecosystem == ecosystem))
    }
    rules = session.execute(
        select(Package.name, TriageItemRule.rule)
        .join(TriageItemRule, TriageItemRule.package_id == Package.id)
        .where(Package.ecosystem == ecosystem)
    ).all()
    prints = session.execute(
        select(Package.name, Archive.filename, ArchiveFingerprint.digest)
        .join(Archive, Archive.id == ArchiveFingerprint.archive_id)
        .join(Package, Package.id == ArchiveFingerprint.package_id)
        .where(Package.ecosystem == ecosystem)
    ).all()
    return {
        "items": items,
        "rules": sorted(map(tuple, rules)),
        "prints": sorted(map(tuple, prints)),
    }


def _prepare(database: Database, ecosystem: str) -> dict[str, Any]:
    with database.session() as session:
        record_analyses(session, _history(ecosystem))
        dismissed = package_id(session, ecosystem, "dismissed", "1.0.0")
        assert dismissed is not None
        decide(session, [dismissed], Kind.BENIGN, "a test fixture", Author("cli:test"))
    with database.session() as session:
        return _snapshot(session, ecosystem)


def test_a_batch_indexes_its_versions_as_recording_them_one_by_one(database: Database) -> None:
    before = {ecosystem: _prepare(database, ecosystem) for ecosystem in ("npm", "pypi")}
    with database.session() as session:
        for item in _batch("npm"):
            record_analyses(session, [item])
    with database.session() as session:
        record_analyses(session, _batch("pypi"))
    with database.session() as session:
        one_by_one, batch = _snapshot(session, "npm"), _snapshot(session, "pypi")

    def without_times(snapshot: dict[str, Any]) -> dict[str, Any]:
        items = {name: values[:3] for name, values in snapshot["items"].items()}
        return {**snapshot, "items": items}

    assert without_times(batch) == without_times(one_by_one)
    assert {name: values[:3] for name, values in batch["items"].items()} == {
        "queued": (0.9, True, "pending"),
        "dismissed": (0.9, True, "benign"),
        "calmed": (0.1, False, "unflagged"),
        "new-bad": (0.9, True, "pending"),
        "half": (0.9, True, "pending"),
    }
    assert {name for name, *_ in batch["prints"]} == {"queued", "dismissed", "new-bad", "half"}
    assert batch["prints"] != before["pypi"]["prints"]  # the dismissed version's new evidence
    for name, values in before["pypi"]["items"].items():  # first flagged once, not again
        assert batch["items"][name][3] == values[3]


def _statements(database: Database, batch: list[Analysed]) -> list[str]:
    """The SQL of every statement that recording ``batch`` sends."""
    sent: list[str] = []

    def count(*args: Any) -> None:
        sent.append(args[2])

    with database.session() as session:
        session.connection()  # the transaction's own statements are not the batch's
        event.listen(database.engine, "before_cursor_execute", count)
        try:
            record_analyses(session, batch)
        finally:
            event.remove(database.engine, "before_cursor_execute", count)
    return sent


def test_a_batch_costs_the_same_statements_whatever_its_size(database: Database) -> None:
    for ecosystem in ("npm", "pypi"):
        _prepare(database, ecosystem)
    small = _statements(database, _batch("npm")[:4] + _batch("npm")[5:7])
    large = _statements(
        database,
        _batch("pypi")
        + [_analysed("pypi", f"more-{n}", "a.tgz", flagged=n % 2 == 0) for n in range(16)],
    )
    assert len(large) == len(small)
    clean = _statements(
        database, [_analysed("npm", f"clean-{n}", "a.tgz", flagged=False) for n in range(16)]
    )
    index_tables = ("triage_item", "archive_fingerprints", "verdicts", "feed_entries")
    assert not [sql for sql in clean if any(table in sql for table in index_tables)]
