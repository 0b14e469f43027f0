import base64
from datetime import UTC, datetime

import pytest

from threatfeed.feed.cursor import Position, decode_cursor, encode_cursor
from threatfeed.feed.params import ParameterError, parse_feed_params, parse_since


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023-07-19", datetime(2023, 7, 19, tzinfo=UTC)),
        ("2023-07-19T12:30:00Z", datetime(2023, 7, 19, 12, 30, tzinfo=UTC)),
        ("2023-07-19T12:30:00+02:00", datetime(2023, 7, 19, 10, 30, tzinfo=UTC)),
        ("2023-07-19t12:30:00.123456789z", datetime(2023, 7, 19, 12, 30, 0, 123456, tzinfo=UTC)),
    ],
)
def test_since_accepts_dates_and_rfc3339(raw: str, expected: datetime) -> None:
    assert parse_since(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["2023-7-19", "2023-02-30", "19-07-2023", "yesterday", "", "2023-07-19T12:30:00", "9" * 500],
)
def test_since_rejects_everything_else(raw: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_since(raw)
    assert caught.value.parameter == "since"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page": "\uff11"}, "page"),
        ({"page": "99999999999999"}, "page"),
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "101"}, "per_page"),
        ({"per_page": ""}, "per_page"),
        ({"ecosystem": "NPM"}, "ecosystem"),
        ({"name": ""}, "name"),
        ({"name": "left\x00pad"}, "name"),
        ({"name": "a\nb"}, "name"),
        ({"cursor": "not a cursor"}, "cursor"),
        (
            {"cursor": encode_cursor(Position(datetime(2023, 1, 1, tzinfo=UTC), 3)), "page": "2"},
            "cursor",
        ),
    ],
)
def test_bad_parameters_are_named(query: dict[str, str], parameter: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_feed_params(query)
    assert caught.value.parameter == parameter


def test_defaults() -> None:
    params = parse_feed_params({})
    assert (params.page, params.per_page, params.since, params.cursor) == (1, 25, None, None)


def test_cursor_round_trips_and_rejects_forgeries() -> None:
    position = Position(datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC), 42)
    assert decode_cursor(encode_cursor(position)) == position
    for forged in ["", "x" * 65, "W10", "WyJhIiwxXQ", "WzEsLTFd", "WzFlOTk5LDFd", "W3RydWUsMV0"]:
        assert decode_cursor(forged) is None
    for raw in [
        b"[1, 2]",
        b"[01,2]",
        b"[1,2,3]",
        b"[1,2]\n",
        b"[9999999999999999999,1]",
        b"[999999999999999999,1]",
        b"[1,2147483648]",
        b"\xff",
    ]:
        assert decode_cursor(base64.urlsafe_b64encode(raw).decode().rstrip("=")) is None, raw
    assert decode_cursor(encode_cursor(Position(position.at, 2**31 - 1))) is not None
    before_epoch = Position(datetime(1960, 1, 1, tzinfo=UTC), 0)
    assert decode_cursor(encode_cursor(before_epoch)) == before_epoch
