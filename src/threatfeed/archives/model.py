"""The values that leave the archive reader: limits in, members, findings and errors out."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 2**20

FINDING_KINDS: frozenset[str] = frozenset(
    {
        "path_traversal",  # a name with a ".." component: writes outside the target on extraction
        "absolute_path",  # "/etc/x", "\\x" or "C:x"
        "deep_path",  # more directory levels than Limits.max_path_depth
        "odd_name_encoding",  # undecodable bytes, NUL, control or bidi characters in a name
        "duplicate_name",  # two entries that extract to the same path (both members are kept)
        "name_mismatch",  # zip: the local header names another file than the central directory
        "symlink",  # a symbolic link (never followed, not a member)
        "hardlink",  # a hard link (never followed, not a member)
        "link_outside",  # a link whose target resolves outside the archive root
        "path_through_link",  # an entry below an earlier symlink: extraction writes through it
        "device",  # a device file, fifo or socket (skipped)
        "unknown_member_type",  # an unknown tar type flag: read as a regular file, as tarfile does
        "encrypted_member",  # zip: an encrypted member (skipped, its data cannot be read)
        "compression_bomb",  # the compression ratio limit was hit, or zip entries overlap
        "huge_header",  # a pax or GNU long-name header larger than Limits.max_header_bytes
        "member_too_large",  # a member larger than Limits.max_member_bytes (kept truncated)
        "archive_too_large",  # Limits.max_total_bytes was hit: reading stopped
        "too_many_members",  # Limits.max_members was hit: reading stopped
        "time_limit",  # Limits.max_seconds was hit: reading stopped
        "nested_archive",  # a member that is itself an archive (read as "outer!/inner" members)
    }
)


@dataclass(frozen=True)
class Limits:
    """Bounds on the work and memory one archive may cost, whatever its bytes claim.

    `max_total_bytes` bounds every byte the reader produces (decompressed or copied), including
    bytes it decompresses only to skip them, so it bounds both memory and decompression time.
    The ratio check applies once more than `ratio_floor_bytes` were produced: tiny archives of
    padded tar blocks have high ratios without being bombs.
    """

    max_total_bytes: int = 256 * MiB
    max_member_bytes: int = 32 * MiB
    max_members: int = 50_000
    max_ratio: float = 200.0
    max_seconds: float = 30.0
    max_depth: int = 2
    max_path_depth: int = 64
    max_header_bytes: int = 1 * MiB
    ratio_floor_bytes: int = 1 * MiB


@dataclass(frozen=True)
class Member:
    """A regular file of the archive; `path` is safe to display (see `names.display_name`)."""

    path: str
    data: bytes
    size: int
    truncated: bool = False


@dataclass(frozen=True)
class Finding:
    """Something structurally suspicious about the archive; `kind` is one of FINDING_KINDS."""

    kind: str
    path: str
    detail: str


@dataclass(frozen=True)
class ArchiveContents:
    """What could be read. `format` is one of "tar.gz", "tar.bz2", "tar.xz", "tar", "zip", or
    "gzip"/"bzip2"/"xz" (compressed data that is not a tar) or "unknown"."""

    format: str
    members: tuple[Member, ...]
    findings: tuple[Finding, ...]
    errors: tuple[str, ...]
    uncompressed_bytes: int
