"""End to end on one process: fake registries -> watchers -> jobs -> analyses in the store."""

from __future__ import annotations

import time
import xmlrpc.client

from sqlalchemy import select

from tests.fakeregistry import FakeRegistry
from tests.pipeline.conftest import Pipeline
from tests.pipeline.samples import publish_npm, publish_pypi
from threatfeed.pipeline.process import PIPELINE_AUTHOR
from threatfeed.store.models import Analysis as AnalysisRow
from threatfeed.store.models import (
    Archive,
    FeedEntry,
    Job,
    Package,
    RegistryGap,
    TriageItem,
    Verdict,
)
from threatfeed.triage.service import Author, decide
from threatfeed.triage.states import Kind


def publish_mix(fake: FakeRegistry, count: int) -> dict[tuple[str, str, str, str], bool]:
    """``count`` npm and ``count`` PyPI releases, every third one malicious-looking."""
    expected = {}
    for index in range(count):
        evil = index % 3 == 0
        npm = publish_npm(fake, f"pkg-{index}", "1.0.0", evil=evil)
        expected[("npm", npm.name, npm.version, npm.filename)] = evil
        for file in publish_pypi(fake, f"py-{index}", "1.0", evil=evil):
            expected[("pypi", file.name, file.version, file.filename)] = evil
    return expected


def test_every_release_is_analysed_once_and_the_malicious_ones_are_flagged(
    pipeline: Pipeline, fake_registry: FakeRegistry
) -> None:
    expected = publish_mix(fake_registry, 6)
    pipeline.drain()
    assert pipeline.analyses() == expected
    with pipeline.database.session() as session:
        queued = set(session.scalars(select(TriageItem.name).where(TriageItem.state == "pending")))
    assert queued == {name for (_, name, _, _), evil in expected.items() if evil}


def test_announcing_a_release_again_analyses_nothing_again(
    pipeline: Pipeline, fake_registry: FakeRegistry
) -> None:
    publish_npm(fake_registry, "again", "1.0.0", evil=False)
    pipeline.drain()
    # The packument changes (a new version), so 1.0.0 is announced again with 1.0.1.
    publish_npm(fake_registry, "again", "1.0.1", evil=False)
    fake_registry.shuffle_npm_changes(2)  # duplicates and disorder in the feed
    pipeline.drain()
    assert sorted(key[2] for key in pipeline.analyses()) == ["1.0.0", "1.0.1"]
    with pipeline.database.session() as session:
        states = set(session.scalars(select(Job.state)))
    assert states == {"done"}


def test_a_digest_mismatch_is_recorded_and_never_analysed(
    pipeline: Pipeline, fake_registry: FakeRegistry
) -> None:
    published = publish_npm(fake_registry, "tampered", "1.0.0", evil=False)
    fake_registry.corrupt(published.url)
    pipeline.drain()
    assert pipeline.analyses() == {}
    with pipeline.database.session() as session:
        archive = session.scalars(select(Archive)).one()
    assert archive.status == "digest_mismatch"
    assert archive.sha256 is None
    assert "sha512" in (archive.error or "")


def test_registry_faults_are_tolerated(pipeline: Pipeline, fake_registry: FakeRegistry) -> None:
    expected = publish_mix(fake_registry, 3)
    fake_registry.fail("/npm/", 500, times=4)
    fake_registry.rate_limit("/pypi-org/pypi/", "0", times=3)
    fake_registry.stall("/files/", 1.0, times=2)
    fake_registry.truncate("/npm/pkg-1/", times=1)
    for _ in range(20):  # jobs that ran out of retries inside come back after their backoff
        pipeline.drain()
        if pipeline.analyses() == expected:
            break
    assert pipeline.analyses() == expected


def test_a_gap_is_recorded_and_backfilled(pipeline: Pipeline, fake_registry: FakeRegistry) -> None:
    publish_pypi(fake_registry, "early", "1.0", evil=False)  # serials 1-4
    pipeline.drain()
    fake_registry.publish_pypi("late", "1.0", wheel=False)  # 5-7, committed late
    fake_registry.publish_pypi("next", "1.0", wheel=False)  # 8-10
    # The first answer misses serials 5-7, as when their transaction commits after 8-10.
    entries = [
        ["next", None, 0, "create", 8],
        ["next", "1.0", 0, "new release", 9],
        ["next", "1.0", 0, "add source file next-1.0.tar.gz", 10],
    ]
    answer = xmlrpc.client.dumps((entries,), methodresponse=True, allow_none=True).encode()
    fake_registry.respond("/pypi-org/pypi", answer, "text/xml")
    pipeline.drain()
    with pipeline.database.session() as session:
        gaps = session.scalars(select(RegistryGap)).all()
        assert [(gap.after, gap.until, gap.closed_at is not None) for gap in gaps] == [
            ("4", "7", True)
        ]
    assert {key[1] for key in pipeline.analyses()} == {"early", "late", "next"}


def test_a_gap_that_stays_missing_stays_open(
    pipeline: Pipeline, fake_registry: FakeRegistry
) -> None:
    fake_registry.jump_pypi(50)
    publish_pypi(fake_registry, "after", "1.0", evil=False)
    pipeline.drain()
    pipeline.drain()
    with pipeline.database.session() as session:
        gap = session.scalars(select(RegistryGap)).one()
    assert (gap.after, gap.until, gap.closed_at) == ("0", "50", None)
    assert gap.attempts == 2
    assert {key[1] for key in pipeline.analyses()} == {"after"}


def test_unpublished_versions_are_recorded(pipeline: Pipeline, fake_registry: FakeRegistry) -> None:
    publish_npm(fake_registry, "gone", "1.0.0", evil=True)
    pipeline.drain()
    fake_registry.unpublish_npm("gone")
    pipeline.drain()
    with pipeline.database.session() as session:
        package = session.scalars(select(Package)).one()
    assert package.registry_state == "unpublished"


def test_the_same_bytes_as_confirmed_malware_are_marked_at_once_and_not_reanalysed(
    pipeline: Pipeline, fake_registry: FakeRegistry
) -> None:
    first = publish_npm(fake_registry, "stealer", "1.0.0", evil=True)
    pipeline.drain()
    with pipeline.database.session() as session:
        [package_id] = session.scalars(select(Package.id)).all()
        decide(session, [package_id], Kind.MALICIOUS, "steals env", Author("alice"))
    fake_registry.publish_npm("stealer-copy", "2.0.0", tarball=first.content)
    pipeline.drain()
    with pipeline.database.session() as session:
        twin = session.scalars(select(Package).where(Package.name == "stealer-copy")).one()
        verdict = session.scalars(select(Verdict).where(Verdict.package_id == twin.id)).one()
        entry = session.scalars(select(FeedEntry).where(FeedEntry.package_id == twin.id)).one()
        reused = session.scalars(
            select(AnalysisRow).join(Archive).where(Archive.package_id == twin.id)
        ).one()
    assert (verdict.verdict, verdict.author) == ("malicious", PIPELINE_AUTHOR.name)
    assert "stealer@1.0.0" in verdict.reason
    assert entry.name == "stealer-copy"
    assert reused.flagged
    assert reused.elapsed_ms == 0.0  # the earlier analysis of the same bytes, not a new run


def test_releases_older_than_the_backlog_are_not_downloaded(
    pipeline: Pipeline, fake_registry: FakeRegistry
) -> None:
    old = time.time() - 30 * 86400
    fake_registry.publish_npm("ancient", "0.1.0", published_at=old)
    fake_registry.publish_npm("ancient", "0.2.0")
    pipeline.drain()
    assert [key[2] for key in pipeline.analyses()] == ["0.2.0"]
