"""Values the engine hands out: what a rule saw (signals), what it reports (indicators)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Location:
    """Where an indicator was seen, so a researcher can jump straight to it in triage."""

    rule: str
    file: str
    line: int | None
    excerpt: str


@dataclass(frozen=True)
class Signal:
    """One observation of a rule, with the weight it adds to the score.

    ``context`` says when the code runs (see ``package.CONTEXT_FACTORS``): the same call
    weighs more in ``setup.py`` than in a test. ``capabilities`` name what the code can
    do (``network``, ``harvest``...): the scorer correlates them per file, because a
    network call next to credential theft in one install-time file means far more than
    either alone. ``key`` names what was seen
    (a signature, a call type): repeats of one key count once in the score.
    """

    file: str | None
    line: int | None
    excerpt: str
    weight: float
    context: str = "install"
    capabilities: frozenset[str] = frozenset()
    key: str = ""


@dataclass(frozen=True)
class Indicator:
    """A rule's finding: the JSON evidence of the feed API plus the signals behind it."""

    rule: str
    evidence: Any
    signals: tuple[Signal, ...]


@dataclass(frozen=True)
class Analysis:
    """The verdict on one archive; ``indicators`` has the feed API's shape (rule -> evidence)."""

    ecosystem: str | None
    name: str | None
    version: str | None
    sha256: str
    score: float
    flagged: bool
    indicators: dict[str, Any]
    locations: tuple[Location, ...]
    errors: tuple[str, ...]
    files: tuple[tuple[str, int], ...]
    engine_version: str
