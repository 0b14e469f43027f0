"""From indicators to one score and a flag.

Each signal counts ``weight x context factor`` (install 1.0, import 0.8, other code 0.6,
scripts and tests 0.35, docs 0.2). Within a rule, the same key (signature, call type,
address) counts once, at its strongest place, and distinct keys add with halving weights
(1, 1/2, 1/4...) so that a large package with many weak hits in many files does not add
up like a small one concentrating different techniques. Rules add up to risk points;
``score = 1 - 2 ** (-points / 10)``, so 10 points give a score of 0.5, the flag
threshold. What tests, scripts and docs add is capped (see ``PASSIVE_CAP``). Correlations
(network plus harvesting in one file...) are rules of their own, see
``rules/correlation.py``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import CONTEXT_FACTORS

FLAG_THRESHOLD = 0.5
POINTS_AT_THRESHOLD = 10.0


def effective(signal: Signal) -> float:
    return signal.weight * CONTEXT_FACTORS[signal.context]


def _ranked(values: Collection[float]) -> float:
    if len(values) < 2:
        return sum(values)  # most rules' keys: one, counted whole
    return sum(value / 2.0**rank for rank, value in enumerate(sorted(values, reverse=True)))


def rule_points(indicator: Indicator) -> float:
    best: dict[str, float] = {}
    for signal in indicator.signals:
        best[signal.key] = max(best.get(signal.key, 0.0), effective(signal))
    return _ranked(best.values())


#: Tests and docs show techniques without running them (security tools ship fixtures of
#: every attack they detect), and scripts run only when a developer runs them. Together
#: they add at most this much: enough to tip a package with running code over the
#: threshold, never enough to flag one by themselves.
PASSIVE_CONTEXTS = frozenset({"test", "script", "docs"})
PASSIVE_CAP = 4.0


def points(indicators: Iterable[Indicator]) -> float:
    """Each rule's points (see ``rule_points``), with what tests and docs add capped."""
    running = passive = 0.0
    for indicator in indicators:
        active: dict[str, float] = {}
        idle: dict[str, float] = {}
        for signal in indicator.signals:
            best = idle if signal.context in PASSIVE_CONTEXTS else active
            best[signal.key] = max(best.get(signal.key, 0.0), effective(signal))
        share = _ranked(active.values())
        running += share
        # a key seen in running code counts there; its passive copies add nothing
        if idle_only := [v for k, v in idle.items() if k not in active]:
            passive += _ranked([*active.values(), *idle_only]) - share
    return running + min(passive, PASSIVE_CAP)


def score(total_points: float) -> float:
    """Map unbounded risk points into [0, 1); the threshold sits at 0.5."""
    return round(1.0 - float(2.0 ** (-total_points / POINTS_AT_THRESHOLD)), 4)
