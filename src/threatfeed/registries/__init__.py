"""Watching npm and PyPI and fetching what they publish, speaking their real protocols.

This package knows HTTP and the registries' formats, and nothing of analysis, the
database or the feed. The way through it:

1. ``registry.poll(position)`` reads the change stream after a cursor position
   (npm ``_changes``, PyPI ``changelog_since_serial``) and returns a
   :class:`ChangeBatch`: the :class:`Change` events, the ``next_position`` to store
   *in the same transaction* as the jobs made from them (store it even when there
   are no events: it records the poll time), and a :class:`Gap` when changes may
   have been missed. ``caught_up=False`` means: poll again at once.
2. ``registry.backfill(gap)`` looks again at a recorded gap; its ``remaining`` is
   what is still unaccounted for.
3. ``registry.resolve(change)`` fetches the metadata the change concerns and returns
   :class:`Release` values (state, publish time, files with their digests); none
   when the package is gone with all its versions. It is safe to repeat, so it
   belongs in the job, not in the watcher's transaction. npm returns every version
   of the packument and PyPI every file of the version: dedupe against what is
   stored (``(ecosystem, name, version)``, then file name).
4. ``registry.download(file)`` returns a :class:`Download` whose bytes matched the
   registry's digest, with their SHA256; otherwise :class:`DigestMismatch`,
   :class:`DigestMissing` or :class:`ArchiveTooLarge`, each to be recorded as such.

Transient trouble (timeouts, 5xx, 429, truncated bodies) is retried inside with
backoff; what is left raises :class:`RegistryUnavailable` for the queue to retry
later. Build the registries with :func:`open_registries` from the settings.
"""

from threatfeed.registries.cursor import Position
from threatfeed.registries.errors import (
    ArchiveTooLarge,
    DigestMismatch,
    DigestMissing,
    ProtocolViolation,
    RegistryError,
    RegistryNotFound,
    RegistryUnavailable,
)
from threatfeed.registries.http import Clock, PoliteClient, RetryPolicy, SystemClock, Timeouts
from threatfeed.registries.model import (
    NPM,
    PYPI,
    Backfill,
    Change,
    ChangeBatch,
    ChangeKind,
    Download,
    Gap,
    Release,
    ReleaseFile,
    ReleaseState,
)
from threatfeed.registries.npm import NpmRegistry
from threatfeed.registries.pypi import PypiRegistry
from threatfeed.registries.registry import Registry, open_registries

__all__ = [
    "NPM",
    "PYPI",
    "ArchiveTooLarge",
    "Backfill",
    "Change",
    "ChangeBatch",
    "ChangeKind",
    "Clock",
    "DigestMismatch",
    "DigestMissing",
    "Download",
    "Gap",
    "NpmRegistry",
    "PoliteClient",
    "Position",
    "ProtocolViolation",
    "PypiRegistry",
    "Registry",
    "RegistryError",
    "RegistryNotFound",
    "RegistryUnavailable",
    "Release",
    "ReleaseFile",
    "ReleaseState",
    "RetryPolicy",
    "SystemClock",
    "Timeouts",
    "open_registries",
]
