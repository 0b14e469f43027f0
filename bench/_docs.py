"""Each benchmark owns one ``## Section`` of docs/benchmarks.md and rewrites only that."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"


# A block another benchmark generates inside or after a section starts with a line like
# ``<!-- bench/benign_wide.py: generated from here -->``; a section's writer stops there
# so that rewriting a section never erases a block it does not own.
BLOCK_PREFIX = "\n<!-- bench/"


def _section_end(text: str, after: int) -> int:
    """Where a section whose text runs from ``after`` ends: next ``## `` or next block."""
    ends = [i for i in (text.find("\n## ", after), text.find(BLOCK_PREFIX, after)) if i >= 0]
    return min(ends, default=-1)


def write_section(heading: str, body: str) -> None:
    """Replace the section starting at ``heading`` (a ``## `` line), or append it.

    A generated block of another benchmark inside the section (see ``BLOCK_PREFIX``) ends
    the replaced text, so that block and whatever follows it are kept.
    """
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    section = f"{heading}\n\n{body.strip()}\n"
    start = text.find(f"\n{heading}\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = _section_end(text, start + len(heading) + 2)
        text = text[: start + 1] + section + (text[end:] if end >= 0 else "")
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text.rstrip("\n") + "\n")


def write_block(begin: str, end: str, block: str, place: Callable[[str, str], str]) -> None:
    """Replace a generated block (``block`` holds its ``begin`` and ``end`` markers) where
    the markers stand; the first time, ``place(text, block)`` returns the text with it."""
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = place(text, block)
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text)


def machine() -> str:
    """What the numbers were measured on: they mean little without it."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    ).stdout.strip()
    return (
        f"{os.cpu_count()} cores, {memory:.0f} GiB RAM, Python {platform.python_version()}, "
        f"load average {load} at the start, commit {commit or 'unknown'}"
    )
