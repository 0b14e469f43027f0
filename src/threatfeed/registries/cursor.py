"""A watcher's position, and the arithmetic that notices when changes were missed.

The watchers keep no state: the pipeline stores the encoded :class:`Position` in
the database in the same transaction as the work it produced and hands it back on
the next poll. The position carries the time of the last successful poll so that a
watcher can tell, after a restart, that the registry went unwatched for long.

A hand-written cursor (a bare ``"12345"``) is accepted too, so an operator can
point a watcher anywhere without knowing the encoding.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from threatfeed.registries.errors import RegistryError
from threatfeed.registries.model import Gap


@dataclass(frozen=True)
class Position:
    seq: str
    """The registry's own sequence (npm) or serial (PyPI), opaque in general."""
    polled_at: float | None = None
    """Seconds since the epoch of the poll that produced this position."""

    def encode(self) -> str:
        return json.dumps({"seq": self.seq, "polled_at": self.polled_at}, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str) -> Position:
        text = text.strip()
        if not text.startswith("{"):
            if not text:
                raise RegistryError("an empty cursor position")
            return cls(seq=text)
        try:
            data = json.loads(text)
            seq, polled_at = data["seq"], data.get("polled_at")
        except (ValueError, TypeError, KeyError):
            raise RegistryError(f"unreadable cursor position {text[:80]!r}") from None
        if not isinstance(seq, str | int) or not isinstance(polled_at, int | float | None):
            raise RegistryError(f"unreadable cursor position {text[:80]!r}")
        return cls(seq=str(seq), polled_at=None if polled_at is None else float(polled_at))


def sequence_number(seq: str) -> int | None:
    """The ordinal of a sequence, when it has one.

    npm's sequences are integers today, CouchDB 2's look like ``"123-g1AAAA..."``;
    both start with a count that orders them. Anything else stays opaque.
    """
    head = seq.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def find_hole(after: int, numbers: Sequence[int], tolerance: int) -> tuple[int, int] | None:
    """First and last missing number across holes wider than ``tolerance``.

    ``numbers`` are sorted and unique; the cursor ``after`` counts as seen, so a
    first number that does not follow the cursor is a hole like any other.
    """
    first = last = None
    previous = after
    for number in numbers:
        if number <= previous:  # at or before the cursor: a repeat, not progress
            continue
        if number - previous - 1 > tolerance:
            first = previous + 1 if first is None else first
            last = number - 1
        previous = number
    return None if first is None or last is None else (first, last)


def detect_gap(
    cursor: Position,
    seqs: Sequence[str],
    *,
    now: float,
    hole_tolerance: int,
    outage_seconds: float,
    outage_until: Callable[[], str],
) -> Gap | None:
    """The range this poll may have missed, or ``None``.

    Two causes, merged into one range when both apply: a hole in the sequence
    wider than ``hole_tolerance``, and a cursor that was last advanced more than
    ``outage_seconds`` ago (the range is then everything from the cursor to
    ``outage_until()``, normally the registry's head when the watcher came back;
    it is only called in that case, as it may cost a request).
    """
    gap = None
    start = sequence_number(cursor.seq)
    numbers = sorted({n for seq in seqs if (n := sequence_number(seq)) is not None})
    if start is not None and (hole := find_hole(start, numbers, hole_tolerance)):
        gap = Gap(
            after=str(hole[0] - 1),
            until=str(hole[1]),
            reason=f"sequence jumped: {hole[0]}..{hole[1]} never seen",
        )
    unwatched = None if cursor.polled_at is None else now - cursor.polled_at
    if unwatched is None or unwatched <= outage_seconds or not seqs:
        return gap
    # The outage range starts at the cursor, so it contains any hole found after it.
    reason = f"no successful poll for {unwatched:.0f} s"
    return Gap(
        after=cursor.seq,
        until=outage_until(),
        reason=reason if gap is None else f"{gap.reason}; {reason}",
    )
