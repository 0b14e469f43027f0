"""Cursor positions and the gap arithmetic, which the watchers' tests exercise end to end."""

from __future__ import annotations

import pytest

from threatfeed.registries import Gap, Position, RegistryError
from threatfeed.registries.cursor import detect_gap, find_hole, sequence_number


def test_a_position_round_trips_and_a_bare_sequence_is_accepted() -> None:
    position = Position("123-g1AAAA", 1_700_000_000.5)
    assert Position.parse(position.encode()) == position
    assert Position.parse(" 42 ") == Position("42")


@pytest.mark.parametrize("text", ["", "{", '{"seq": null}', '{"seq": "1", "polled_at": "x"}'])
def test_an_unreadable_position_is_an_error(text: str) -> None:
    with pytest.raises(RegistryError):
        Position.parse(text)


def test_sequences_are_ordered_by_their_leading_count() -> None:
    assert sequence_number("42") == 42
    assert sequence_number("42-g1AAAAbcd") == 42
    assert sequence_number("g1AAAA") is None


@pytest.mark.parametrize(
    ("after", "numbers", "tolerance", "hole"),
    [
        (4, [5, 6, 7], 0, None),
        (4, [], 0, None),
        (4, [6, 7], 0, (5, 5)),
        (4, [5, 9, 10, 14], 0, (6, 13)),
        (4, [5, 9], 3, None),
        (4, [5, 10], 3, (6, 9)),
        (5, [4, 6], 0, None),
    ],
)
def test_holes_wider_than_the_tolerance_are_found(
    after: int, numbers: list[int], tolerance: int, hole: tuple[int, int] | None
) -> None:
    assert find_hole(after, numbers, tolerance) == hole


def test_an_outage_gap_covers_the_cursor_to_the_head_and_names_both_causes() -> None:
    cursor = Position("10", polled_at=1000.0)
    gap = detect_gap(
        cursor, ["15"], now=5000.0, hole_tolerance=0, outage_seconds=900, outage_until=lambda: "20"
    )
    assert gap == Gap(
        "10", "20", "sequence jumped: 11..14 never seen; no successful poll for 4000 s"
    )


def test_a_quiet_registry_after_an_outage_has_no_gap_and_the_head_is_not_asked() -> None:
    def head() -> str:
        raise AssertionError("no need to ask for the head")

    cursor = Position("10", polled_at=1000.0)
    gap = detect_gap(
        cursor, [], now=5000.0, hole_tolerance=0, outage_seconds=900, outage_until=head
    )
    assert gap is None
