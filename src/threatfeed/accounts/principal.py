"""Who is calling and what they may do: the value every edge checks before acting."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    SUBSCRIBER = "subscriber"
    RESEARCHER = "researcher"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated account.

    Reading the feed depends only on ``subscribed``, not on the role: the threat
    feed is its own subscription, so an admin without it gets 403 like anyone.
    ``key_id`` is the API key that authenticated the call (directly or through a
    bearer token derived from it); None after a password login.
    """

    account_id: int
    name: str
    role: Role
    subscribed: bool
    key_id: int | None

    @property
    def can_read_feed(self) -> bool:
        return self.subscribed

    @property
    def can_triage(self) -> bool:
        return self.role in (Role.RESEARCHER, Role.ADMIN)

    @property
    def can_admin(self) -> bool:
        return self.role is Role.ADMIN
