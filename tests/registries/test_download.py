"""Bytes are only handed on when a published digest vouches for them."""

from __future__ import annotations

import pytest

from tests.fakeregistry import FakeRegistry
from tests.registries.conftest import FakeClock, make_client
from threatfeed.registries import DigestMissing, ProtocolViolation, ReleaseFile
from threatfeed.registries.download import download


def test_a_file_without_a_digest_is_not_downloaded(
    fake_registry: FakeRegistry, clock: FakeClock
) -> None:
    published = fake_registry.publish_npm("lib", "1.0.0")
    file = ReleaseFile(published.filename, published.url, None, None, None, "tarball")
    with make_client("t", clock) as client, pytest.raises(DigestMissing):
        download(client, file, max_bytes=1 << 20)
    assert fake_registry.requests == []


def test_a_digest_of_an_unknown_algorithm_is_no_digest(
    fake_registry: FakeRegistry, clock: FakeClock
) -> None:
    published = fake_registry.publish_npm("lib", "1.0.0")
    file = ReleaseFile(published.filename, published.url, "md5", "00" * 16, None, "tarball")
    with make_client("t", clock) as client, pytest.raises(DigestMissing):
        download(client, file, max_bytes=1 << 20)


def test_a_file_url_that_is_not_http_is_refused(clock: FakeClock) -> None:
    file = ReleaseFile("x.tgz", "file:///etc/passwd", "sha256", "00" * 32, None, "tarball")
    with make_client("t", clock) as client, pytest.raises(ProtocolViolation):
        download(client, file, max_bytes=1 << 20)
