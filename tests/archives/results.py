"""Views of a read result that keep the assertions short."""

from __future__ import annotations

from threatfeed.archives import ArchiveContents


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
