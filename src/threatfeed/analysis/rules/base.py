"""What a rule is, and the helpers most rules share."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package, SourceFile
from threatfeed.analysis.signatures import SignatureHit
from threatfeed.analysis.text import excerpt_at, line_of

#: A rule looks at a package and reports an indicator, or None when it sees nothing.
Rule = Callable[[Package], Indicator | None]


_COMMENT = re.compile(rb"^\s*(#|//|/\*|\*|>>>|\.\.\.\s)", re.M)


def in_comment(data: bytes, offset: int) -> bool:
    """A match on a comment or doctest line is documentation, whatever the file."""
    return bool(_COMMENT.match(data, data.rfind(b"\n", 0, offset) + 1))


def signal_at(
    source: SourceFile, offset: int, length: int, weight: float, key: str, *capabilities: str
) -> Signal:
    context = "docs" if source.is_code and in_comment(source.data, offset) else source.context
    return Signal(
        file=source.path,
        line=line_of(source.data, offset),
        excerpt=excerpt_at(source.data, offset, length),
        weight=weight,
        context=context,
        capabilities=frozenset(capabilities),
        key=key,
    )


def hit_signal(source: SourceFile, hit: SignatureHit) -> Signal:
    """The signal of a signature, at its first match outside comments and doctests (the
    code a docstring example precedes is what runs), else at its first match."""
    offset, length = hit.offsets[0] if hit.offsets else (0, 0)
    if source.is_code:
        offset, length = next(
            ((o, n) for o, n in hit.offsets if not in_comment(source.data, o)), (offset, length)
        )
    return signal_at(source, offset, length, hit.weight, hit.rule, hit.capability)


def indicator(name: str, evidence: Any, signals: Iterable[Signal]) -> Indicator | None:
    signals = tuple(signals)
    if not evidence and evidence is not True:
        return None
    return Indicator(rule=name, evidence=evidence, signals=signals)
