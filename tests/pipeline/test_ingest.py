from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import func, select

from threatfeed.analysis import Analysis, Location
from threatfeed.pipeline.ingest import ArchiveRecord, record_analysis
from threatfeed.store import Database
from threatfeed.store.models import Analysis as AnalysisRow
from threatfeed.store.models import Archive, Package

RECORD = ArchiveRecord(
    ecosystem="npm",
    name="left-padd",
    version="1.0.0",
    filename="left-padd-1.0.0.tgz",
    sha256="ab" * 32,
    size=1234,
    published_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
)
ANALYSIS = Analysis(
    ecosystem="npm",
    name="left-padd",
    version="1.0.0",
    sha256="ab" * 32,
    score=0.9,
    flagged=True,
    indicators={"npm_hooks_rule": ["node index.js"]},
    locations=(Location("npm_hooks_rule", "package/package.json", 5, '"postinstall": ...'),),
    errors=(),
    files=(("package/package.json", 120), ("package/index.js", 900)),
    engine_version="test-1",
)


def count(database: Database, model: type) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_an_archive_is_recorded_once_per_engine_version(database: Database) -> None:
    with database.session() as session:
        first = record_analysis(session, RECORD, ANALYSIS, elapsed_ms=12.5)
    with database.session() as session:
        again = record_analysis(session, RECORD, ANALYSIS)
    assert first.new
    assert not again.new
    assert again.analysis_id == first.analysis_id
    with database.session() as session:
        newer = record_analysis(session, RECORD, replace(ANALYSIS, engine_version="test-2"))
    assert newer.new
    assert newer.archive_id == first.archive_id
    assert (count(database, Package), count(database, Archive), count(database, AnalysisRow)) == (
        1,
        1,
        2,
    )


def test_the_analysis_keeps_evidence_locations_and_files(database: Database) -> None:
    with database.session() as session:
        recorded = record_analysis(session, RECORD, ANALYSIS, elapsed_ms=12.5)
    with database.session() as session:
        row = session.get_one(AnalysisRow, recorded.analysis_id)
        package = session.get_one(Package, recorded.package_id)
        archive = session.get_one(Archive, recorded.archive_id)
        assert row.indicators == {"npm_hooks_rule": ["node index.js"]}
        assert row.locations == [
            {
                "rule": "npm_hooks_rule",
                "file": "package/package.json",
                "line": 5,
                "excerpt": '"postinstall": ...',
            }
        ]
        assert row.files == [["package/package.json", 120], ["package/index.js", 900]]
        assert (row.flagged, row.score, row.elapsed_ms) == (True, 0.9, 12.5)
        assert package.published_at == RECORD.published_at
        assert (archive.sha256, archive.size, archive.status) == ("ab" * 32, 1234, "verified")


def test_nul_characters_in_evidence_are_stored_escaped(database: Database) -> None:
    hostile = replace(
        ANALYSIS,
        indicators={"npm_hooks_rule": ["node \x00x.js"]},
        locations=(Location("npm_hooks_rule", "package/\x00.json", 1, "a\x00b"),),
        files=(("package/\x00", 1),),
    )
    with database.session() as session:
        recorded = record_analysis(session, RECORD, hostile)
    with database.session() as session:
        row = session.get_one(AnalysisRow, recorded.analysis_id)
        assert row.indicators == {"npm_hooks_rule": ["node \\x00x.js"]}
        assert row.locations[0]["excerpt"] == "a\\x00b"
        assert row.files == [["package/\\x00", 1]]
