from __future__ import annotations

import random
import re

from threatfeed.analysis.text import quoted_base64_runs


def _by_regex(data: bytes, minimum: int) -> list[tuple[int, bytes]]:
    pattern = re.compile(rb"[\"']([A-Za-z0-9+/]{%d,})" % minimum)
    return [(m.start(1), m.group(1)) for m in pattern.finditer(data)]


def test_quoted_base64_runs_find_what_the_regex_finds() -> None:
    data = b"x = 'aGVsbG8gd29ybGQ=' + \"QUJD'REVG\" + 'ab' + 'c2hvcnQ'"
    assert list(quoted_base64_runs(data, 4)) == _by_regex(data, 4)
    runs = [run for _, run in quoted_base64_runs(data, 4)]
    assert runs == [b"aGVsbG8gd29ybGQ", b"QUJD", b"REVG", b"c2hvcnQ"]


def test_quoted_base64_runs_agree_with_the_regex_on_random_text() -> None:
    rng = random.Random(7)
    alphabet = b"AZaz09+/\"'=.-\n "
    for _ in range(3000):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        for minimum in (1, 3, 8):
            assert list(quoted_base64_runs(data, minimum)) == _by_regex(data, minimum)
