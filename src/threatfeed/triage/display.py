"""Attacker-controlled text made safe to look at, before any template or terminal sees it.

Escaping (Jinja2's autoescape) stops markup; this module handles what escaping
does not: characters that reorder or hide text (bidirectional overrides,
zero-width characters, terminal control codes) are replaced by a visible marker
such as ``⟦U+202E⟧``, and long text is cut on the server, so a 10 MB line is
never sent to a browser or a terminal whole.
"""

from __future__ import annotations

import json
import re
from typing import Any

LINE_CHARS = 400
"""Longest line shown; the rest is replaced by a note of how much was cut."""
MAX_LINES = 40
MAX_ITEMS = 50
MAX_DEPTH = 6

_HIDDEN = re.compile(
    "["
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (but tab and newline) and C1 controls, DEL
    "\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad"  # bidi, zero-width, invisible
    "\ufff9-\ufffb\U000e0000-\U000e007f"  # interlinear annotations, tag characters
    "]"
)


def _marker(match: re.Match[str]) -> str:
    return f"⟦U+{ord(match.group()):04X}⟧"


def reveal(text: str) -> str:
    """Every hidden or reordering character replaced by a visible marker."""
    return _HIDDEN.sub(_marker, text)


def clip(text: str, limit: int = LINE_CHARS) -> str:
    """At most ``limit`` characters of one line, hidden characters revealed."""
    if len(text) > limit:
        text = f"{text[:limit]} … [{len(text) - limit:,} more characters]"
    return reveal(text)


def excerpt(text: str, limit: int = LINE_CHARS, max_lines: int = MAX_LINES) -> str:
    """A code excerpt: each line clipped, at most ``max_lines`` lines."""
    lines = text[: limit * max_lines * 2].split("\n")
    shown = [clip(line, limit) for line in lines[:max_lines]]
    if len(lines) > max_lines or len(text) > limit * max_lines * 2:
        shown.append("… [excerpt cut]")
    return "\n".join(shown)


def bounded(value: Any, depth: int = 0) -> Any:
    """A copy of JSON evidence with strings clipped and lists, maps and nesting bounded."""
    if isinstance(value, str):
        return value if len(value) <= LINE_CHARS else clip(value)
    if depth >= MAX_DEPTH and isinstance(value, list | dict):
        return "… [nested too deep]"
    if isinstance(value, list):
        items = [bounded(item, depth + 1) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"… [{len(value) - MAX_ITEMS} more items]")
        return items
    if isinstance(value, dict):
        keys = list(value)[:MAX_ITEMS]
        shown = {clip(str(key), 100): bounded(value[key], depth + 1) for key in keys}
        if len(value) > MAX_ITEMS:
            shown["…"] = f"[{len(value) - MAX_ITEMS} more keys]"
        return shown
    return value


def evidence(value: Any) -> str:
    """Evidence as indented JSON, bounded and with hidden characters revealed."""
    return reveal(json.dumps(bounded(value), indent=2, ensure_ascii=False))
