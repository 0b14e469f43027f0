"""The npm watcher against the fake replication feed and registry."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from tests.fakeregistry import FakeRegistry
from tests.registries.conftest import FakeClock, make_client
from threatfeed.registries import (
    ArchiveTooLarge,
    Change,
    ChangeKind,
    DigestMismatch,
    Gap,
    NpmRegistry,
    Position,
    ProtocolViolation,
    Release,
    ReleaseState,
)


def drain(npm: NpmRegistry, position: str) -> tuple[list[Change], str, list[Gap]]:
    """Poll until caught up, as the pipeline does, keeping what each poll returned."""
    events: list[Change] = []
    gaps: list[Gap] = []
    while True:
        batch = npm.poll(position)
        events.extend(batch.events)
        gaps.extend([batch.gap] if batch.gap else [])
        position = batch.next_position
        if batch.caught_up:
            return events, position, gaps


def changed(npm: NpmRegistry, name: str) -> dict[str, Release]:
    change = Change("npm", name, ChangeKind.PACKAGE_CHANGED, "0")
    return {release.version: release for release in npm.resolve(change)}


def test_every_change_comes_once_across_polls_and_a_restart_resumes_there(
    fake_registry: FakeRegistry, npm: NpmRegistry, clock: FakeClock
) -> None:
    start = npm.head()
    names = [f"pkg-{i}" for i in range(7)]
    for name in names:
        fake_registry.publish_npm(name, "1.0.0")
    first = npm.poll(start)
    assert [e.name for e in first.events] == names[:3]  # batch_limit=3
    assert not first.caught_up
    events, position, gaps = drain(npm, first.next_position)
    assert [e.name for e in first.events + tuple(events)] == names
    assert {e.kind for e in events} == {ChangeKind.PACKAGE_CHANGED}
    assert gaps == []
    assert Position.parse(position) == Position("7", clock.now)

    fake_registry.publish_npm("late-1", "1.0.0")
    fake_registry.publish_npm("pkg-0", "2.0.0")  # an update moves pkg-0 past the cursor
    restarted = NpmRegistry(
        fake_registry.npm_changes_url,
        fake_registry.npm_registry_url,
        make_client("npm", clock),
        max_archive_bytes=1024,
        clock=clock,
    )
    events, _, _ = drain(restarted, position)
    assert [(e.name, e.position) for e in events] == [("late-1", "8"), ("pkg-0", "9")]
    restarted.close()


def test_the_head_comes_from_the_host_root_when_the_feed_base_has_no_update_seq(
    fake_registry: FakeRegistry, npm: NpmRegistry, clock: FakeClock
) -> None:
    fake_registry.publish_npm("a", "1.0.0")
    fake_registry.respond("/npm-replicate/", b'{"db_name": "registry"}', "application/json")
    assert Position.parse(npm.head()) == Position("1", clock.now)
    assert ("GET", "/") in fake_registry.requests


def test_resolve_gives_versions_publish_times_and_the_tarball_as_given(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    when = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    one = fake_registry.publish_npm("lib", "1.0.0", published_at=when.timestamp())
    two = fake_registry.publish_npm("lib", "1.1.0")
    releases = changed(npm, "lib")
    assert set(releases) == {"1.0.0", "1.1.0"}
    release = releases["1.0.0"]
    assert release.state is ReleaseState.PUBLISHED
    assert release.published_at == when
    [file] = release.files
    assert (file.filename, file.url, file.packagetype) == ("lib-1.0.0.tgz", one.url, "tarball")
    assert (file.digest_algorithm, file.digest) == ("sha512", one.sha512)
    assert releases["1.1.0"].files[0].digest == two.sha512


def test_download_is_verified_against_integrity_and_hashed_with_sha256(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    published = fake_registry.publish_npm("lib", "1.0.0", {"lib.js": "exports.x = 1;\n"})
    download = npm.download(changed(npm, "lib")["1.0.0"].files[0])
    assert download.content == published.content
    assert download.sha256 == published.sha256


def test_a_tarball_that_does_not_match_its_integrity_is_never_returned(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    published = fake_registry.publish_npm("lib", "1.0.0")
    fake_registry.corrupt(published.url)
    with pytest.raises(DigestMismatch) as caught:
        npm.download(changed(npm, "lib")["1.0.0"].files[0])
    assert caught.value.algorithm == "sha512"
    assert caught.value.expected == published.sha512
    assert caught.value.actual != published.sha512


def test_a_tarball_over_the_cap_is_reported_as_too_large(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    noise = random.Random(2).randbytes(100_000)
    fake_registry.publish_npm("huge", "1.0.0", {"blob.bin": noise})
    with pytest.raises(ArchiveTooLarge) as caught:
        npm.download(changed(npm, "huge")["1.0.0"].files[0])
    assert caught.value.size > caught.value.limit == 64 * 1024


def test_scoped_names_are_fetched_with_an_encoded_slash(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    published = fake_registry.publish_npm("@evil/pkg", "1.0.0")
    [change] = npm.poll("0").events
    assert change.name == "@evil/pkg"
    [release] = npm.resolve(change)
    assert ("GET", "/npm/@evil%2Fpkg") in fake_registry.requests
    assert release.files[0].filename == "pkg-1.0.0.tgz"
    assert npm.download(release.files[0]).sha256 == published.sha256


def test_duplicate_and_out_of_order_rows_give_each_package_once_in_order(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    for name in ("a", "b", "c"):
        fake_registry.publish_npm(name, "1.0.0")
    fake_registry.shuffle_npm_changes()
    batch = npm.poll("0")
    assert [(e.name, e.position) for e in batch.events] == [("a", "1"), ("b", "2"), ("c", "3")]
    assert Position.parse(batch.next_position).seq == "3"


def test_rows_at_or_before_the_cursor_are_repeats_and_are_dropped(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    rows = [{"seq": 4, "id": "old"}, {"seq": 6, "id": "new"}, {"seq": 5, "id": "older"}]
    answer = json.dumps({"results": rows, "last_seq": 6}).encode()
    fake_registry.respond("/npm-replicate/_changes", answer, "application/json")
    batch = npm.poll("5")
    assert [e.name for e in batch.events] == ["new"]
    assert batch.gap is None


def test_a_jump_in_the_sequence_is_reported_as_a_gap(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    fake_registry.publish_npm("before", "1.0.0")
    position = npm.poll("0").next_position
    fake_registry.jump_npm(50)
    fake_registry.publish_npm("after", "1.0.0")
    batch = npm.poll(position)
    assert [e.name for e in batch.events] == ["after"]
    assert batch.gap is not None
    assert (batch.gap.after, batch.gap.until) == ("1", "51")
    assert "jumped" in batch.gap.reason


def test_holes_within_the_tolerance_are_normal_for_couchdb(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    fake_registry.jump_npm(10)
    fake_registry.publish_npm("after", "1.0.0")
    assert npm.poll("0").gap is None


def test_backfill_replays_the_feed_inside_the_gap_only(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    for name in ("a", "b", "c", "d", "e"):
        fake_registry.publish_npm(name, "1.0.0")
    backfill = npm.backfill(Gap(after="1", until="4", reason="test"))
    assert [e.name for e in backfill.events] == ["b", "c", "d"]
    assert backfill.remaining is None


def test_a_long_outage_is_reported_as_a_gap_up_to_the_head(
    fake_registry: FakeRegistry, npm: NpmRegistry, clock: FakeClock
) -> None:
    position = npm.head()
    clock.now += 3600
    for name in ("a", "b", "c", "d", "e"):
        fake_registry.publish_npm(name, "1.0.0")
    batch = npm.poll(position)
    assert batch.gap is not None
    assert (batch.gap.after, batch.gap.until) == ("0", "5")  # beyond this batch's 3 rows
    assert "no successful poll for 3600 s" in batch.gap.reason
    assert npm.poll(batch.next_position).gap is None  # the next poll is on time


def test_unpublished_versions_and_packages_are_recorded(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    fake_registry.publish_npm("gone", "1.0.0")
    fake_registry.publish_npm("gone", "1.1.0")
    fake_registry.unpublish_npm("gone", "1.1.0")
    releases = changed(npm, "gone")
    assert releases["1.0.0"].state is ReleaseState.PUBLISHED
    assert releases["1.1.0"].state is ReleaseState.UNPUBLISHED
    assert releases["1.1.0"].files == ()
    assert releases["1.1.0"].published_at is not None

    fake_registry.unpublish_npm("gone")  # npm then keeps only the versions still listed
    releases = changed(npm, "gone")
    assert {v: r.state for v, r in releases.items()} == {"1.0.0": ReleaseState.UNPUBLISHED}


def test_a_security_placeholder_is_recognised(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    fake_registry.publish_npm("evil", "1.0.0")
    fake_registry.placeholder_npm("evil")
    releases = changed(npm, "evil")
    assert releases["0.0.1-security"].state is ReleaseState.PLACEHOLDER
    assert releases["1.0.0"].state is ReleaseState.UNPUBLISHED


def test_a_deleted_document_is_a_package_removal(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    fake_registry.publish_npm("doomed", "1.0.0")
    fake_registry.delete_npm("doomed")
    [change] = npm.poll("0").events
    assert (change.name, change.kind) == ("doomed", ChangeKind.PACKAGE_REMOVED)
    assert npm.resolve(change) == ()
    gone_since = Change("npm", "doomed", ChangeKind.PACKAGE_CHANGED, "1")
    assert npm.resolve(gone_since) == ()  # 404: the deletion follows in the feed


def test_a_packument_of_another_name_is_refused(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    fake_registry.respond("/npm/victim", json.dumps({"name": "other"}).encode(), "application/json")
    with pytest.raises(ProtocolViolation):
        changed(npm, "victim")


def test_without_integrity_the_sha1_shasum_is_used(
    fake_registry: FakeRegistry, npm: NpmRegistry
) -> None:
    dist = {"tarball": "https://registry.example/old/-/old-0.1.0.tgz", "shasum": "ab" * 20}
    packument = {"name": "old", "versions": {"0.1.0": {"dist": dist}}, "time": {}}
    fake_registry.respond("/npm/old", json.dumps(packument).encode(), "application/json")
    [file] = changed(npm, "old")["0.1.0"].files
    assert (file.digest_algorithm, file.digest) == ("sha1", "ab" * 20)
