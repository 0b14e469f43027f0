"""Errors of the accounts package; the HTTP and CLI edges map them to 401 and messages."""

from __future__ import annotations

from threatfeed.errors import ThreatfeedError


class AuthenticationError(ThreatfeedError):
    """A credential was missing, malformed, unknown, revoked, expired or tampered with.

    ``reason`` is a short fixed phrase safe to return to the client: it never
    repeats the credential, so it cannot leak a key into logs or responses.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidInput(ThreatfeedError):
    """An operator-supplied value (account name, role, password) is not acceptable."""
