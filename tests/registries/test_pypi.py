"""The PyPI watcher against the fake XML-RPC changelog and JSON API."""

from __future__ import annotations

import random
import xmlrpc.client
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
    Position,
    ProtocolViolation,
    PypiRegistry,
    RegistryError,
    ReleaseState,
)

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<methodResponse><params><param><value><string>&lol2;</string></value></param></params>
</methodResponse>"""


def changelog(*entries: tuple[str, str | None, int, str, int]) -> bytes:
    answer = ([list(entry) for entry in entries],)
    return xmlrpc.client.dumps(answer, methodresponse=True, allow_none=True).encode()


def kinds(changes: tuple[Change, ...]) -> list[tuple[str, str | None, ChangeKind, str | None]]:
    return [(c.name, c.version, c.kind, c.filename) for c in changes]


def test_every_release_and_file_comes_once_and_a_restart_resumes_there(
    fake_registry: FakeRegistry, pypi: PypiRegistry, clock: FakeClock
) -> None:
    start = pypi.head()
    assert Position.parse(start) == Position("0", clock.now)
    fake_registry.publish_pypi("Foo", "1.0", wheel=False)
    fake_registry.pypi_noise("Foo")
    batch = pypi.poll(start)
    assert kinds(batch.events) == [
        ("Foo", "1.0", ChangeKind.RELEASE_ADDED, None),
        ("Foo", "1.0", ChangeKind.FILE_ADDED, "foo-1.0.tar.gz"),
    ]
    assert [c.position for c in batch.events] == ["2", "3"]  # "create" is not an event
    assert batch.gap is None
    assert Position.parse(batch.next_position).seq == "4"  # past the noise too
    assert pypi.poll(batch.next_position).events == ()

    wheel = fake_registry.add_pypi_file("Foo", "1.0", "bdist_wheel")  # uploaded later
    restarted = PypiRegistry(
        fake_registry.pypi_url, make_client("pypi", clock), max_archive_bytes=1024, clock=clock
    )
    [change] = restarted.poll(batch.next_position).events
    assert (change.kind, change.filename, change.action) == (
        ChangeKind.FILE_ADDED,
        wheel.filename,
        f"add py3 file {wheel.filename}",
    )
    [release] = restarted.resolve(change)
    assert [f.packagetype for f in release.files] == ["sdist", "bdist_wheel"]
    restarted.close()


def test_resolve_gives_files_with_sha256_size_and_upload_time(
    fake_registry: FakeRegistry, pypi: PypiRegistry
) -> None:
    sdist, wheel = fake_registry.publish_pypi("Foo", "1.0")
    [release] = pypi.resolve(Change("pypi", "Foo", ChangeKind.FILE_ADDED, "3", version="1.0"))
    assert (release.name, release.version, release.state) == ("Foo", "1.0", ReleaseState.PUBLISHED)
    assert release.published_at is not None
    assert abs(release.published_at - datetime.now(UTC)).total_seconds() < 60
    by_name = {f.filename: f for f in release.files}
    for published in (sdist, wheel):
        file = by_name[published.filename]
        assert file.url == published.url
        assert (file.digest_algorithm, file.digest) == ("sha256", published.sha256)
        assert file.size == len(published.content)


def test_download_is_verified_against_sha256(
    fake_registry: FakeRegistry, pypi: PypiRegistry
) -> None:
    [sdist] = fake_registry.publish_pypi("Foo", "1.0", wheel=False)
    [release] = pypi.resolve(Change("pypi", "Foo", ChangeKind.FILE_ADDED, "3", version="1.0"))
    assert pypi.download(release.files[0]).content == sdist.content
    fake_registry.corrupt(sdist.url)
    with pytest.raises(DigestMismatch) as caught:
        pypi.download(release.files[0])
    assert (caught.value.algorithm, caught.value.expected) == ("sha256", sdist.sha256)


def test_a_file_declared_over_the_cap_is_not_even_requested(
    fake_registry: FakeRegistry, pypi: PypiRegistry
) -> None:
    noise = random.Random(3).randbytes(100_000)
    fake_registry.publish_pypi("Big", "1.0", {"blob.bin": noise}, wheel=False)
    [release] = pypi.resolve(Change("pypi", "Big", ChangeKind.FILE_ADDED, "3", version="1.0"))
    with pytest.raises(ArchiveTooLarge):
        pypi.download(release.files[0])
    assert not any(path.startswith("/files/") for _, path in fake_registry.requests)


def test_yanks_and_removals_are_recorded(fake_registry: FakeRegistry, pypi: PypiRegistry) -> None:
    sdist, _ = fake_registry.publish_pypi("Foo", "1.0")
    fake_registry.publish_pypi("Foo", "2.0")
    position = pypi.poll("0").next_position
    fake_registry.yank_pypi("Foo", "1.0")
    fake_registry.remove_pypi_file("Foo", "1.0", sdist.filename)
    fake_registry.remove_pypi_release("Foo", "2.0")
    batch = pypi.poll(position)
    assert kinds(batch.events) == [
        ("Foo", "1.0", ChangeKind.RELEASE_YANKED, None),
        ("Foo", "1.0", ChangeKind.FILE_REMOVED, sdist.filename),
        ("Foo", "2.0", ChangeKind.RELEASE_REMOVED, None),
    ]
    yanked, removed_file, removed = (pypi.resolve(change) for change in batch.events)
    assert yanked[0].state is ReleaseState.YANKED
    assert sdist.filename not in {f.filename for f in removed_file[0].files}
    assert removed[0].state is ReleaseState.REMOVED

    fake_registry.remove_pypi_project("Foo")
    [gone] = pypi.poll(batch.next_position).events
    assert (gone.kind, gone.version) == (ChangeKind.PACKAGE_REMOVED, None)
    assert pypi.resolve(gone) == ()
    late = Change("pypi", "Foo", ChangeKind.FILE_ADDED, "1", version="1.0")
    assert pypi.resolve(late)[0].state is ReleaseState.REMOVED  # the JSON is gone: 404


def test_shuffled_and_repeated_changelog_entries_come_once_in_order(
    fake_registry: FakeRegistry, pypi: PypiRegistry
) -> None:
    fake_registry.publish_pypi("A", "1.0")
    fake_registry.publish_pypi("B", "1.0")
    fake_registry.shuffle_pypi_changelog()
    batch = pypi.poll("0")
    assert [c.position for c in batch.events] == ["2", "3", "4", "6", "7", "8"]
    assert batch.gap is None


def test_duplicate_out_of_order_and_stale_entries_are_tolerated(
    fake_registry: FakeRegistry, pypi: PypiRegistry
) -> None:
    answer = changelog(
        ("b", "1", 0, "new release", 12),
        ("a", "1", 0, "new release", 11),
        ("b", "1", 0, "new release", 12),
        ("old", "1", 0, "new release", 10),
    )
    fake_registry.respond("/pypi-org/pypi", answer, "text/xml")
    batch = pypi.poll("10")
    assert [(c.name, c.position) for c in batch.events] == [("a", "11"), ("b", "12")]
    assert batch.gap is None


def test_a_jump_in_serials_is_a_gap_and_backfill_says_what_is_still_missing(
    fake_registry: FakeRegistry, pypi: PypiRegistry
) -> None:
    fake_registry.publish_pypi("A", "1.0")  # serials 1-4
    position = pypi.poll("0").next_position
    fake_registry.jump_pypi(5)
    fake_registry.publish_pypi("B", "1.0", wheel=False)  # create=10, release=11, file=12
    batch = pypi.poll(position)
    assert batch.gap == Gap(after="4", until="9", reason="sequence jumped: 5..9 never seen")
    backfill = pypi.backfill(batch.gap)
    assert backfill.events == ()
    assert backfill.remaining == batch.gap  # serials that never come stay missing


def test_backfill_finds_an_entry_that_committed_late(
    fake_registry: FakeRegistry, pypi: PypiRegistry
) -> None:
    fake_registry.publish_pypi("A", "1.0", sdist=False, wheel=False)  # create=1, release=2
    fake_registry.publish_pypi("B", "1.0", sdist=False, wheel=False)  # create=3, release=4
    fake_registry.publish_pypi("C", "1.0", sdist=False, wheel=False)  # create=5, release=6
    # The first answer misses serials 3-4, as when their transaction commits after 5-6.
    early = changelog(("A", "1.0", 0, "new release", 2), ("C", "1.0", 0, "new release", 6))
    fake_registry.respond("/pypi-org/pypi", early, "text/xml")
    batch = pypi.poll("1")
    assert batch.gap is not None
    assert (batch.gap.after, batch.gap.until) == ("2", "5")
    backfill = pypi.backfill(batch.gap)
    assert [(c.name, c.position) for c in backfill.events] == [("B", "4")]
    assert backfill.remaining is None


def test_a_full_changelog_page_means_more_is_waiting_and_backfill_pages_to_its_end(
    fake_registry: FakeRegistry, clock: FakeClock
) -> None:
    fake_registry.changelog_limit = 3
    for name in ("A", "B", "C"):
        fake_registry.publish_pypi(name, "1.0", wheel=False)  # create, release, file: 9 serials
    pypi = PypiRegistry(
        fake_registry.pypi_url,
        make_client("pypi", clock),
        max_archive_bytes=1024,
        page_size=3,
        clock=clock,
    )
    first = pypi.poll("0")
    assert ([c.position for c in first.events], first.caught_up) == (["2", "3"], False)
    backfill = pypi.backfill(Gap(after="1", until="8", reason="test"))
    assert [c.position for c in backfill.events] == ["2", "3", "5", "6", "8"]
    assert backfill.remaining is None
    assert sum(1 for method, _ in fake_registry.requests if method == "POST") == 1 + 3
    pypi.close()


def test_a_long_outage_is_reported_as_a_gap(
    fake_registry: FakeRegistry, pypi: PypiRegistry, clock: FakeClock
) -> None:
    position = pypi.head()
    clock.now += 7200
    fake_registry.publish_pypi("A", "1.0")
    batch = pypi.poll(position)
    assert batch.gap is not None
    assert (batch.gap.after, batch.gap.until) == ("0", "4")
    assert "no successful poll for 7200 s" in batch.gap.reason


def test_a_hostile_xml_rpc_answer_is_refused(
    fake_registry: FakeRegistry, pypi: PypiRegistry
) -> None:
    fake_registry.respond("/pypi-org/pypi", BOMB, "text/xml")
    with pytest.raises(ProtocolViolation, match="DOCTYPE"):
        pypi.poll("0")


def test_malformed_changelog_entries_and_faults_are_errors(
    fake_registry: FakeRegistry, pypi: PypiRegistry
) -> None:
    wrong = xmlrpc.client.dumps(
        ([["a", "1", "not a time", "new release", 1]],), methodresponse=True
    )
    fake_registry.respond("/pypi-org/pypi", wrong.encode(), "text/xml")
    with pytest.raises(ProtocolViolation, match="wrong types"):
        pypi.poll("0")
    fault = xmlrpc.client.dumps(xmlrpc.client.Fault(-32500, "overloaded"), methodresponse=True)
    fake_registry.respond("/pypi-org/pypi", fault.encode(), "text/xml")
    with pytest.raises(RegistryError, match="overloaded"):
        pypi.poll("0")
    with pytest.raises(RegistryError, match="serial number"):
        pypi.poll("not-a-serial")
