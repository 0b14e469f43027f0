"""JSON read as npm reads it: a manifest nested deeper than Python's parser goes loads.

Node's ``JSON.parse`` takes any depth, so npm reads, and runs the hooks of, a
``package.json`` that nests some value a hundred thousand levels deep, where
``json.loads`` gives up with a RecursionError: a manifest the engine could not read would
hide its hooks. Values nested deeper than ``MAX_DEPTH`` are read as ``null`` instead; no
field npm acts on lies that deep. Likewise every JSON number is a double to Node, whatever
its digits, where Python's ``int`` refuses more than ``sys.get_int_max_str_digits()``.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
#: Strings (whose brackets are text) and the brackets that nest.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def loads(text: str) -> Any:
    """``json.loads``, with over-deep values as ``null`` and over-long integers as doubles;
    ValueError if it is no JSON."""
    try:
        return json.loads(text, parse_int=_integer)
    except RecursionError:
        pass
    try:
        return json.loads(_pruned(text), parse_int=_integer)
    except RecursionError as exc:  # brackets the tokens could not pair (broken strings)
        raise ValueError("JSON nested too deeply") from exc


def _integer(digits: str) -> int | float:
    """An integer as ``json.loads`` reads it, or, past the digits Python converts, the
    double Node reads (infinite for the longest): it is no reason to refuse the manifest."""
    try:
        return int(digits)
    except ValueError:  # the JSON parser checked the digits: only their number is refused
        return float(digits)


def _pruned(text: str) -> str:
    """``text`` with each value opening at depth ``MAX_DEPTH + 1`` replaced by ``null``."""
    kept: list[str] = []
    depth = 0
    start = 0
    skipping = False
    for match in _TOKEN.finditer(text):
        bracket = match.group()
        if bracket[0] == '"':
            continue
        if bracket in "[{":
            depth += 1
            if depth == MAX_DEPTH + 1:
                kept += (text[start : match.start()], "null")
                skipping = True
        else:
            if depth == MAX_DEPTH + 1 and skipping:
                start = match.end()
                skipping = False
            depth -= 1
    if not skipping:
        kept.append(text[start:])
    return "".join(kept)
