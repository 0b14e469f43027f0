"""The values travel through a job queue as JSON and must come back equal."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from threatfeed.registries import Change, ChangeKind, Release, ReleaseFile, ReleaseState


def test_a_change_survives_json() -> None:
    change = Change(
        "pypi",
        "Foo",
        ChangeKind.FILE_ADDED,
        "42",
        version="1.0",
        filename="foo-1.0.tar.gz",
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        action="add source file foo-1.0.tar.gz",
    )
    assert Change.from_dict(json.loads(json.dumps(change.to_dict()))) == change


def test_a_release_survives_json() -> None:
    file = ReleaseFile("a-1.tgz", "https://r.example/a-1.tgz", "sha512", "ab" * 64, None, "tarball")
    release = Release(
        "npm", "a", "1", datetime(2026, 1, 2, tzinfo=UTC), (file,), ReleaseState.PLACEHOLDER
    )
    assert Release.from_dict(json.loads(json.dumps(release.to_dict()))) == release
