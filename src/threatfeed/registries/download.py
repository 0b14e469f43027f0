"""Downloading one release file and proving it is the one the registry published.

The bytes are hashed with SHA256 (what the feed stores) and with the algorithm
of the registry's digest; only a match is returned. A
mismatch raises :class:`DigestMismatch` and a file without a usable digest raises
:class:`DigestMissing`: neither is ever handed on as if it were the archive.
"""

from __future__ import annotations

import hmac

from threatfeed.registries.errors import (
    ArchiveTooLarge,
    DigestMismatch,
    DigestMissing,
    ProtocolViolation,
)
from threatfeed.registries.http import PoliteClient
from threatfeed.registries.model import Download, ReleaseFile

VERIFIABLE = frozenset({"sha512", "sha384", "sha256", "sha1"})


def download(client: PoliteClient, file: ReleaseFile, *, max_bytes: int) -> Download:
    algorithm, expected = file.digest_algorithm, file.digest
    if algorithm not in VERIFIABLE or not expected:
        raise DigestMissing(f"{file.url}: no digest to verify ({algorithm or 'none given'})")
    if not file.url.startswith(("https://", "http://")):
        raise ProtocolViolation(f"refusing to fetch a non-HTTP file URL {file.url[:200]!r}")
    if file.size is not None and file.size > max_bytes:
        raise ArchiveTooLarge(file.url, file.size, max_bytes)
    body = client.fetch("GET", file.url, max_bytes=max_bytes, algorithms=("sha256", algorithm))
    actual = body.digests[algorithm]
    if not hmac.compare_digest(actual, expected.lower()):
        raise DigestMismatch(file.url, algorithm, expected.lower(), actual)
    return Download(file=file, content=body.content, sha256=body.digests["sha256"])
