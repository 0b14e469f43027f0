"""Reading registry JSON as untrusted input: every field is checked for its type.

A registry answer that lacks a field or has one of the wrong type raises
:class:`ProtocolViolation` naming where, instead of an ``AttributeError`` deep in
the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from threatfeed.registries.errors import ProtocolViolation


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProtocolViolation(f"{where}: expected an object, got {type(value).__name__}")
    return value


def text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolViolation(f"{where}: {key!r} must be a non-empty string")
    return value


def optional_text(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ProtocolViolation(f"{where}: {key!r} must be a string")
    return value


def optional_int(data: Mapping[str, Any], key: str, where: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolViolation(f"{where}: {key!r} must be a non-negative integer")
    return value


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time as registries write it; an unreadable one is unknown, not fatal."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
