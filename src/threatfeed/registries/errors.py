"""What can go wrong talking to a registry, as distinct types the pipeline can record.

The distinctions matter downstream: a file over the size cap is *recorded* as too
large (never silently dropped), a digest mismatch is evidence of tampering or
corruption and must never be analysed as if it were the published archive, and a
registry that stayed unreachable through every retry is a transient condition the
job queue retries later.
"""

from __future__ import annotations

from threatfeed.errors import ThreatfeedError


class RegistryError(ThreatfeedError):
    """A registry answered something we cannot use, or did not answer at all."""


class RegistryUnavailable(RegistryError):
    """Every attempt failed on a transient cause (timeout, 5xx, 429, truncated body)."""


class RegistryNotFound(RegistryError):
    """The registry says the document does not exist (HTTP 404 or 410)."""


class ProtocolViolation(RegistryError):
    """The answer is malformed or hostile (bad JSON, an XML DOCTYPE, a missing field)."""


class DigestMismatch(RegistryError):
    """The bytes received do not hash to the digest the registry published."""

    def __init__(self, url: str, algorithm: str, expected: str, actual: str) -> None:
        super().__init__(f"{algorithm} of {url} is {actual}, the registry published {expected}")
        self.url = url
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual


class DigestMissing(RegistryError):
    """The registry published no digest we can check, so the bytes cannot be trusted."""


class ArchiveTooLarge(RegistryError):
    """The file exceeds the size cap; ``size`` is the declared size or a lower bound."""

    def __init__(self, url: str, size: int, limit: int) -> None:
        super().__init__(f"{url} is at least {size} bytes, over the cap of {limit}")
        self.url = url
        self.size = size
        self.limit = limit
