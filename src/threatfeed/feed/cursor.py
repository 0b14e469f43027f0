"""Opaque keyset cursors: a position in the feed's order, not a page number.

A position is the last item's (time, id); the next page is everything strictly
after it in descending order, so items added meanwhile never shift the walk.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_RAW = re.compile(rb"\[(-?(?:0|[1-9][0-9]{0,17})),(0|[1-9][0-9]{0,17})\]")
"""The JSON array ``[micros, id]`` exactly as ``encode_cursor`` writes it."""
MAX_ID = 2**31 - 1
"""Entry ids are 32-bit integers in both databases: a larger one was never in a cursor we
made, and PostgreSQL would refuse to compare the column with it."""


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
    except (binascii.Error, ValueError):
        return None
    if (match := _RAW.fullmatch(raw)) is None:
        return None
    if int(match[2]) > MAX_ID:
        return None
    try:
        return Position(_EPOCH + int(match[1]) * _MICROSECOND, int(match[2]))
    except OverflowError:
        return None
