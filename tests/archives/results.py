"""Views of a read result that keep the assertions short."""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass

from threatfeed.archives import ArchiveContents, read_archive


def kinds(result: ArchiveContents) -> dict[str, list[str]]:
    """Finding kinds, each with the paths it was found at, in order."""
    found: dict[str, list[str]] = {}
    for finding in result.findings:
        found.setdefault(finding.kind, []).append(finding.path)
    return found


def paths(result: ArchiveContents) -> list[str]:
    return [member.path for member in result.members]


def contents(result: ArchiveContents) -> dict[str, bytes]:
    return {member.path: member.data for member in result.members}


@dataclass(frozen=True)
class Measured:
    result: ArchiveContents
    seconds: float
    peak_bytes: int


def measured_read(data: bytes) -> Measured:
    """Reads ``data`` while tracing the wall time and the peak of Python allocations."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = read_archive(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return Measured(result, time.monotonic() - started, peak)
