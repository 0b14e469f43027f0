"""JSON read as npm reads it: a manifest nested deeper than Python's parser goes loads.

Node's ``JSON.parse`` takes any depth, so npm reads, and runs the hooks of, a
``package.json`` that nests some value a hundred thousand levels deep, where
``json.loads`` gives up with a RecursionError: a manifest the engine could not read would
hide its hooks. Values nested deeper than ``MAX_DEPTH`` are read as ``null`` instead; no
field npm acts on lies that deep.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
#: Strings (whose brackets are text) and the brackets that nest.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def loads(text: str) -> Any:
    """``json.loads``, with over-deep values as ``null``; ValueError if it is no JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        pass
    try:
        return json.loads(_pruned(text))
    except RecursionError as exc:  # brackets the tokens could not pair (broken strings)
        raise ValueError("JSON nested too deeply") from exc


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
