"""The two kinds of job and how they are made from registry values.

``change``: one change-stream event; resolving it (one metadata request) says
which versions and files are new. ``archive``: one file of one version to
download, verify and analyse. Splitting them keeps each job short and lets the
files of a release be analysed in parallel; a file is keyed so that it is queued
at most once at a time however often it is announced.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from threatfeed.pipeline.queue import JobSpec
from threatfeed.registries import Change, Release, ReleaseFile

CHANGE = "change"
ARCHIVE = "archive"


def change_job(change: Change) -> JobSpec:
    key = f"{CHANGE}:{change.ecosystem}:{change.position}:{change.kind}:{change.name}"
    return JobSpec(CHANGE, change.to_dict(), dedupe_key=f"{key}:{change.filename or ''}"[:1024])


def archive_job(release: Release, file: ReleaseFile) -> JobSpec:
    payload = {
        "ecosystem": release.ecosystem,
        "name": release.name,
        "version": release.version,
        "published_at": release.published_at.isoformat() if release.published_at else None,
        "file": file.to_dict(),
    }
    key = f"{ARCHIVE}:{release.ecosystem}:{release.name}:{release.version}:{file.filename}"
    return JobSpec(ARCHIVE, payload, dedupe_key=key[:1024])


def archive_payload(payload: dict[str, Any]) -> tuple[str, str, str, datetime | None, ReleaseFile]:
    published_at = payload.get("published_at")
    return (
        payload["ecosystem"],
        payload["name"],
        payload["version"],
        datetime.fromisoformat(published_at) if published_at else None,
        ReleaseFile.from_dict(payload["file"]),
    )
