"""Errors of triage; the CLI prints them, the web UI shows them on the page."""

from __future__ import annotations

from threatfeed.errors import Conflict, NotFound, ThreatfeedError


class UnknownPackage(NotFound):
    """No version of that name is known to the store."""


class IllegalTransition(Conflict):
    """The verdict does not follow from the version's current state (e.g. withdrawing a pending
    version, or confirming one that is already in the feed)."""


class InvalidVerdict(ThreatfeedError):
    """A verdict without a reason, with an unknown kind, or on an empty selection."""
