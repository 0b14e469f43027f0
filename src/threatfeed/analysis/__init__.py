"""The analysis engine: rules with evidence over package archives, and a score.

A library: it reads bytes and returns values, with no database, server or network.

    engine = Engine()                      # compile once per process
    analysis = engine.analyze(archive_bytes)
    if analysis.flagged: ...

``FLAG_THRESHOLD``: an archive is flagged when ``score >= 0.5``, i.e. when its indicators
add up to 10 risk points (see ``scoring.py`` and docs/rules.md).
"""

from __future__ import annotations

from threatfeed.analysis.engine import ENGINE_VERSION, Engine
from threatfeed.analysis.model import Analysis, Location
from threatfeed.analysis.scoring import FLAG_THRESHOLD

__all__ = ["ENGINE_VERSION", "FLAG_THRESHOLD", "Analysis", "Engine", "Location"]
