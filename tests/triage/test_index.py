"""The queue index and fingerprints follow what the real engine concluded at ingest."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from threatfeed.analysis import Engine
from threatfeed.pipeline.ingest import ArchiveRecord, record_analysis
from threatfeed.store import Database
from threatfeed.store.models import TriageItem, TriageItemRule
from threatfeed.triage.campaigns import related
from threatfeed.triage.queue import QueueFilter, list_queue

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
