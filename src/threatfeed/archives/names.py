"""Member names are attacker-chosen bytes: make them safe to show and judge where they point.

A name is shown as UTF-8 with every byte that is not valid UTF-8 written as ``\\xNN`` and every
character that can hide or reorder text (controls, NUL, bidirectional overrides, zero-width
characters, line separators) written as ``\\xNN`` or ``\\uNNNN``, so a terminal, a log or a web
page shows what is really there.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)
_SEPARATORS = re.compile(r"[/\\]")
_DRIVE = re.compile(r"[A-Za-z]:")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def display_name(raw: bytes) -> tuple[str, bool]:
    """The safe display form of a raw name, and whether it needed escaping (odd encoding)."""
    try:
        text = raw.decode("utf-8")
        odd = False
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "backslashreplace")
        odd = True
    if _UNSAFE.search(text):
        return _UNSAFE.sub(_escape, text), True
    return text, odd


def parts(name: str) -> list[str]:
    """The components of a name as an extractor sees them: both separators, no empty or "."."""
    return [part for part in _SEPARATORS.split(name) if part not in ("", ".")]


def is_absolute(name: str) -> bool:
    return name.startswith(("/", "\\")) or _DRIVE.match(name) is not None


def escapes_root(components: list[str]) -> bool:
    """Whether walking these components from the archive root ever climbs above it."""
    depth = 0
    for part in components:
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        else:
            depth += 1
    return False


def link_leaves_root(link: str, target: str, *, hard: bool) -> bool:
    """Whether a link's target resolves outside the archive root.

    A symbolic link's target is relative to the link's own folder; a hard link's target is a
    name in the archive, relative to its root. An absolute target is always outside.
    """
    if is_absolute(target):
        return True
    base = [] if hard else parts(link)[:-1]
    return escapes_root(base + parts(target))
