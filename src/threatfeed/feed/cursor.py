"""Opaque keyset cursors: a position in the feed's order, not a page number.

A position is the last item's (time, id); the next page is everything strictly
after it in descending order, so items added meanwhile never shift the walk.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Position:
    at: datetime
    id: int


def encode_cursor(position: Position) -> str:
    micros = (position.at - _EPOCH) // _MICROSECOND
    raw = f"[{micros},{position.id}]".encode()  # the JSON array, formatted without json
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Position | None:
    """The position a cursor names, or None when it is not one we could have made."""
    if not 0 < len(text) <= 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        micros, ident = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        return None
    if not (_is_int(micros) and _is_int(ident)) or ident < 0:
        return None
    try:
        return Position(_EPOCH + micros * _MICROSECOND, ident)
    except OverflowError:
        return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
