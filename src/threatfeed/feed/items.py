"""The feed item as it travels in files: the API's own shape plus when it was added.

Used by ``threatfeed feed import`` and ``export`` to migrate from another feed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from threatfeed.errors import ThreatfeedError
from threatfeed.feed.params import ECOSYSTEMS, MAX_NAME_LENGTH, parse_since
from threatfeed.feed.reader import api_item, item_document
from threatfeed.utf8 import encodable

_SHA256 = re.compile(r"[0-9a-f]{64}")
_RULE = re.compile(r"[a-z][a-z0-9_]*_rule")


class ItemError(ThreatfeedError):
    """A feed item that cannot be imported."""


@dataclass(frozen=True)
class FeedItem:
    ecosystem: str
    name: str
    version: str
    created: datetime | None
    hashes: tuple[tuple[str, str], ...]
    """(archive file name, SHA-256 hex)."""
    indicators: dict[str, Any]
    added: datetime | None = None
    withdrawn: datetime | None = None
    withdrawn_reason: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.ecosystem, self.name, self.version)

    def hashes_json(self) -> list[dict[str, str]]:
        return [{"archive": a, "hash": h, "type": "SHA256"} for a, h in self.hashes]

    def _served(self) -> tuple[Any, ...]:
        return (
            self.ecosystem,
            self.name,
            self.version,
            self.created,
            self.hashes_json(),
            self.indicators,
        )

    def document(self) -> str:
        """The item as the API serves it."""
        return item_document(*self._served())

    def as_json(self) -> dict[str, Any]:
        data = api_item(*self._served())
        if self.added is not None:
            data["added"] = rfc3339(self.added)
        if self.withdrawn is not None:
            data["withdrawn"] = rfc3339(self.withdrawn)
            data["withdrawn_reason"] = self.withdrawn_reason
        return data


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise ItemError(f"{key!r} must be a non-empty string of at most {limit} characters")
    return value


def _moment(data: dict[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ItemError(f"{key!r} must be an RFC 3339 timestamp")
    try:
        return parse_since(value)
    except ThreatfeedError:
        raise ItemError(f"{key!r} must be an RFC 3339 timestamp, got {value[:40]!r}") from None


def _created(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ItemError(
            "'created' must be an RFC 1123 date such as 'Mon, 31 Jul 2023 00:52:09 GMT'"
        )
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        moment = None
    if moment is None:
        try:
            return parse_since(value)
        except ThreatfeedError:
            raise ItemError(f"'created' is not a date: {value[:40]!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _hashes(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise ItemError("'hashes' must be a list")
    hashes = []
    for entry in value:
        if not isinstance(entry, dict) or entry.get("type", "SHA256") != "SHA256":
            raise ItemError("each hash must be an object with 'archive', 'hash' and type 'SHA256'")
        archive, digest = entry.get("archive"), entry.get("hash")
        if not isinstance(archive, str) or not 0 < len(archive) <= 1024:
            raise ItemError("a hash's 'archive' must be a file name")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest.lower()):
            raise ItemError(f"a hash's 'hash' must be 64 hex digits, got {str(digest)[:70]!r}")
        hashes.append((archive, digest.lower()))
    return tuple(hashes)


def _indicators(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ItemError("'indicators' must be an object mapping rule names to evidence")
    for rule in value:
        if not _RULE.fullmatch(rule):
            raise ItemError(f"indicator {rule[:60]!r} is not a snake_case name ending in _rule")
    return value


def parse_item(data: Any) -> FeedItem:
    if not isinstance(data, dict):
        raise ItemError("an item must be a JSON object")
    if encodable(data) != data:  # no database or feed reader takes one
        raise ItemError("an item's strings must not hold a lone surrogate (\\ud800-\\udfff)")
    ecosystem = data.get("ecosystem")
    if ecosystem not in ECOSYSTEMS:
        raise ItemError(f"'ecosystem' must be one of {', '.join(ECOSYSTEMS)}")
    withdrawn = _moment(data, "withdrawn")
    reason = data.get("withdrawn_reason")
    if reason is not None and not isinstance(reason, str):
        raise ItemError("'withdrawn_reason' must be a string")
    return FeedItem(
        ecosystem=ecosystem,
        name=_text(data, "name", MAX_NAME_LENGTH),
        version=_text(data, "version", 256),
        created=_created(data.get("created")),
        hashes=_hashes(data.get("hashes", [])),
        indicators=_indicators(data.get("indicators", {})),
        added=_moment(data, "added"),
        withdrawn=withdrawn,
        withdrawn_reason=reason if withdrawn else None,
    )
