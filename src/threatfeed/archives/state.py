"""The running state of one `read_archive` call, shared by every nesting level.

One budget for the whole call, nested archives included, is what makes a zip of zips of
bombs cost no more than one bomb: every byte produced, every entry and every second count
against the same limits.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from threatfeed.archives import names
from threatfeed.archives.model import Finding, Limits, Member, MiB
from threatfeed.errors import ThreatfeedError

NestedReader = Callable[["Session", bytes, str, int], None]


class LimitReached(ThreatfeedError):
    """A limit was hit: reading stops everywhere; what was read so far is the result."""


def _mib(count: int) -> str:
    return f"{count / MiB:g} MiB"


class Session:
    """Counters and results of one read; the readers report to it and it enforces the limits."""

    def __init__(self, limits: Limits, archive_bytes: int, read_nested: NestedReader) -> None:
        self.limits = limits
        self.format = "unknown"
        self.produced = 0
        self.entries = 0
        self.members: list[Member] = []
        self.findings: list[Finding] = []
        self.errors: list[str] = []
        self._archive_bytes = archive_bytes
        self._ratio_allowance = max(limits.ratio_floor_bytes, int(limits.max_ratio * archive_bytes))
        self._deadline = time.monotonic() + limits.max_seconds
        self._read_nested = read_nested
        self._seen: set[str] = set()
        self._links: set[str] = set()
        self.current = ""  # the entry being read, named in findings of limits hit meanwhile

    def finding(self, kind: str, path: str, detail: str) -> None:
        self.findings.append(Finding(kind, path, detail))

    def error(self, message: str) -> None:
        self.errors.append(message)

    def stop(self, kind: str, path: str, message: str) -> None:
        self.finding(kind, path, message)
        self.error(message)
        raise LimitReached(message)

    def produce(self, count: int) -> None:
        """Account for `count` bytes decompressed or copied; stop at the byte, ratio and time
        limits."""
        self.produced += count
        if self.produced > self._ratio_allowance:
            ratio = self.produced / max(self._archive_bytes, 1)
            self.stop(
                "compression_bomb",
                self.current,
                f"compression bomb: more than {_mib(self.produced)} from a "
                f"{self._archive_bytes}-byte archive (ratio above {ratio:.0f}, limit "
                f"{self.limits.max_ratio:g}); reading stopped",
            )
        if self.produced > self.limits.max_total_bytes:
            self.stop(
                "archive_too_large",
                self.current,
                f"archive too large: more than {_mib(self.limits.max_total_bytes)} uncompressed; "
                "reading stopped",
            )
        self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self._deadline:
            self.stop(
                "time_limit",
                self.current,
                f"time limit of {self.limits.max_seconds:g} s exceeded; reading stopped",
            )

    def entries_left(self) -> int:
        return self.limits.max_members - self.entries

    def too_many_members(self, path: str) -> None:
        self.stop(
            "too_many_members",
            path,
            f"more than {self.limits.max_members} members; reading stopped",
        )

    def enter(self, prefix: str, name: str, *, odd_name: bool, directory: bool) -> str:
        """Count one entry (of any type), report what is suspicious about its name, and return
        its full display path (`prefix` names the enclosing archives: "outer.zip!/")."""
        path = prefix + name
        self.current = path
        self.entries += 1
        if self.entries > self.limits.max_members:
            self.too_many_members(path)
        self.check_time()
        if odd_name:
            self.finding("odd_name_encoding", path, "name has undecodable or invisible characters")
        if names.is_absolute(name):
            self.finding("absolute_path", path, "absolute path")
        components = names.parts(name)
        if ".." in components:
            self.finding("path_traversal", path, "'..' component climbs out of the target folder")
        if len(components) > self.limits.max_path_depth:
            self.finding(
                "deep_path",
                path,
                f"{len(components)} levels deep (limit {self.limits.max_path_depth})",
            )
        if self._links:
            self._check_through_link(prefix, components, path)
        if not directory:
            key = prefix + "/".join(components)
            if key in self._seen:
                self.finding("duplicate_name", path, "another entry has the same name")
            self._seen.add(key)
        return path

    def _check_through_link(self, prefix: str, components: list[str], path: str) -> None:
        """An entry below an earlier symlink is written wherever that link points when an
        extractor follows it (the classic "symlink, then file through it" escape)."""
        for end in range(1, len(components)):
            folder = prefix + "/".join(components[:end])
            if folder in self._links:
                self.finding("path_through_link", path, f"lies below the symlink {folder!r}")
                return

    def link(self, path: str, name: str, target_raw: bytes, *, hard: bool) -> None:
        """Report a link; it is never followed and never becomes a member."""
        target, _ = names.display_name(target_raw)
        kind = "hardlink" if hard else "symlink"
        self.finding(kind, path, f"{kind} to {target!r} (not followed)")
        if names.link_leaves_root(name, target, hard=hard):
            self.finding("link_outside", path, f"{kind} target {target!r} is outside the archive")
        if not hard:
            self._links.add(path[: len(path) - len(name)] + "/".join(names.parts(name)))

    def add_member(self, path: str, data: bytes, size: int, *, truncated: bool, depth: int) -> None:
        """Keep a regular file, and read it as an archive too when it is a whole one.

        `depth` is the nesting level of the archive holding the member (0 = the outer one).
        """
        self.members.append(Member(path, data, size, truncated))
        if not truncated:
            self._read_nested(self, data, path, depth + 1)
