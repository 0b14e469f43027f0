"""Each benchmark owns one ``## Section`` of docs/benchmarks.md and rewrites only that."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"


def write_section(heading: str, body: str) -> None:
    """Replace the section starting at ``heading`` (a ``## `` line), or append it."""
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    section = f"{heading}\n\n{body.strip()}\n"
    start = text.find(f"\n{heading}\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading) + 2)
        text = text[: start + 1] + section + (text[end:] if end >= 0 else "")
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text.rstrip("\n") + "\n")


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
