from __future__ import annotations

import random
import re

from threatfeed.analysis.text import (
    BASE64_ALPHABET,
    line_of,
    line_start_matches,
    quoted_runs,
    run_table,
)

BASE64 = run_table(BASE64_ALPHABET)
BLOB = run_table(BASE64_ALPHABET + b"=_-\\")


def _by_regex(data: bytes, alphabet: bytes, minimum: int, closed: bool) -> list[tuple[int, int]]:
    closing = rb"[\"']" if closed else b""
    pattern = re.compile(rb"[\"']([%s]{%d,})%s" % (re.escape(alphabet), minimum, closing))
    return [m.span(1) for m in pattern.finditer(data)]


def test_quoted_runs_are_the_group_spans_of_the_regex() -> None:
    data = b"x = 'aGVsbG8gd29ybGQ=' + \"QUJD'REVG\" + 'ab' + 'c2hvcnQ'"
    runs = [data[start:end] for start, end in quoted_runs(data.translate(BASE64), 4)]
    assert runs == [b"aGVsbG8gd29ybGQ", b"QUJD", b"REVG", b"c2hvcnQ"]
    masked = data.translate(BLOB)
    closed = [data[start:end] for start, end in quoted_runs(masked, 4, closed=True)]
    assert closed == [b"aGVsbG8gd29ybGQ=", b"QUJD", b"c2hvcnQ"]


def test_quoted_runs_agree_with_the_regex_on_random_text() -> None:
    rng = random.Random(7)
    letters = b"AZaz09+/\"'=_-\\.x\n "
    for _ in range(3000):
        data = bytes(rng.choice(letters) for _ in range(rng.randint(0, 80)))
        for minimum in (1, 3, 8):
            for closed in (False, True):
                for alphabet, table in (
                    (BASE64_ALPHABET, BASE64),
                    (BASE64_ALPHABET + b"=_-\\", BLOB),
                ):
                    expected = _by_regex(data, alphabet, minimum, closed)
                    runs = quoted_runs(data.translate(table), minimum, closed=closed)
                    assert list(runs) == expected


FROM_IMPORT = re.compile(rb"from\s+\.?([\w.]*)\s+import\b")
ANCHORED = re.compile(rb"^\s*from\s+\.?([\w.]*)\s+import\b", re.MULTILINE)


def _line_starts(data: bytes, end: int | None = None) -> list[tuple[bytes, int]]:
    return [(m.group(1), m.end()) for m in line_start_matches(FROM_IMPORT, data, end)]


def test_line_start_matches_need_only_whitespace_before_them_on_their_line() -> None:
    data = b"from a import x\n  \tfrom .b import y\nx = 1; from c import z\n\n\x0cfrom d import w"
    assert [group for group, _ in _line_starts(data)] == [b"a", b"b", b"d"]
    assert [group for group, _ in _line_starts(data, 20)] == [b"a"]


def test_line_start_matches_agree_with_the_multiline_regex_on_random_text() -> None:
    rng = random.Random(11)
    words = [b"from", b"import", b" ", b"\n", b"\t", b"\r", b"\x0b", b"x", b".", b"a_b", b"#"]
    for _ in range(5000):
        data = b"".join(rng.choice(words) for _ in range(rng.randint(0, 12)))
        for end in (None, 9):
            expected = [(m.group(1), m.end()) for m in ANCHORED.finditer(data[:end])]
            assert _line_starts(data, end) == expected


def test_line_of_counts_from_the_nearest_offset_asked_with_the_same_result() -> None:
    rng = random.Random(13)
    data = b""
    files = [bytes(rng.choice(b"ab\n") for _ in range(rng.randint(0, 300))) for _ in range(4)]
    for _ in range(3000):
        data = rng.choice(files) if rng.random() < 0.1 else data
        offset = rng.randint(-5, len(data) + 5)
        assert line_of(data, offset) == data.count(b"\n", 0, offset) + 1
