"""Code written to be unreadable: mangled names, packers, long lines, encoded blobs."""

from __future__ import annotations

import re

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package, SourceFile
from threatfeed.analysis.rules.base import hit_signal, indicator, signal_at
from threatfeed.analysis.text import entropy

#: Minified JavaScript has long lines by design, Python almost never.
LONG_LINE = {"python": 1000, "javascript": 20000}
LONG_LINE_WEIGHT = {"python": 4.0, "javascript": 1.0}
BLOB_MIN = 2000
BLOB_ENTROPY = 5.5
BLOB_WEIGHT = {"python": 3.0, "javascript": 1.0}
MAX_BLOB_SCAN = 2 * 1024 * 1024
HEX_ESCAPE_RUNS = 5
HEX_ESCAPE_WEIGHT = 5.0
_HEX_ESCAPES = re.compile(rb"(?:\\[xu][0-9a-fA-F]{2,4}){12,}")
_BLOB = re.compile(rb"[\"']([A-Za-z0-9+/=_\-\\x]{%d,})[\"']" % BLOB_MIN)


def _long_line(source: SourceFile) -> Signal | None:
    limit = LONG_LINE.get(source.kind)
    if limit is None:
        return None
    offset = 0
    for line in source.data.split(b"\n"):
        if len(line) > limit:
            return signal_at(
                source, offset, 0, LONG_LINE_WEIGHT[source.kind], "long_line", "obfuscation"
            )
        offset += len(line) + 1
    return None


def _blob(source: SourceFile) -> Signal | None:
    if source.kind not in BLOB_WEIGHT or len(source.data) > MAX_BLOB_SCAN:
        return None
    for match in _BLOB.finditer(source.data):
        if entropy(match.group(1)[:8192]) >= BLOB_ENTROPY:
            return signal_at(
                source, match.start(), 0, BLOB_WEIGHT[source.kind], "blob", "obfuscation"
            )
    return None


def _hex_escapes(source: SourceFile) -> Signal | None:
    """Strings spelled as ``\\x68\\x74...``: common in obfuscated JavaScript, rare by hand."""
    if source.kind != "javascript":
        return None
    runs = _HEX_ESCAPES.findall(source.data[:MAX_BLOB_SCAN])
    if len(runs) < HEX_ESCAPE_RUNS:
        return None
    offset = source.data.find(runs[0])
    return signal_at(source, offset, 0, HEX_ESCAPE_WEIGHT, "hex_escapes", "obfuscation")


def obfuscated_code_rule(package: Package) -> Indicator | None:
    """Obfuscation techniques, one object per file.

    Evidence: ``[{"file": str, "techniques": [str]}]`` with the signature labels plus
    ``"very long line"`` and ``"high-entropy encoded blob"``. Alone it weighs little:
    legitimate packages minify and protect code; with execution it is a strong signal.
    """
    evidence = []
    signals: list[Signal] = []
    for source in package.files:
        found = [hit_signal(source, hit) for hit in source.hits("obfuscated_code_rule")]
        techniques = [hit.label for hit in source.hits("obfuscated_code_rule")]
        if (signal := _long_line(source)) is not None:
            found.append(signal)
            techniques.append("very long line")
        if (signal := _blob(source)) is not None:
            found.append(signal)
            techniques.append("high-entropy encoded blob")
        if (signal := _hex_escapes(source)) is not None:
            found.append(signal)
            techniques.append("strings hidden as escape sequences")
        if found:
            signals += found
            evidence.append({"file": source.path, "techniques": sorted(set(techniques))})
    return indicator("obfuscated_code_rule", evidence, signals)
