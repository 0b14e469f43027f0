"""YARA content signatures: compiled once per engine, run once over each file.

Every bundled rule carries metadata that ties it to one of our indicators
(``indicator``), says what capability it reveals (``capability``), how much it weighs
(``weight``) and a short human ``label`` for the evidence. User rules from
``extra_yara_dir`` need none of it: they report under ``yara_signature_rule``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path

import yara_x

from threatfeed.analysis.memo import ByContent
from threatfeed.errors import ThreatfeedError

CUSTOM_INDICATOR = "yara_signature_rule"
CUSTOM_WEIGHT = 5.0
SCAN_TIMEOUT_SECONDS = 5
MAX_MATCHES_PER_PATTERN = 100
MAX_OFFSETS = 20
#: Scan results remembered by content (see ``Signatures.scan``), bounded in bytes kept and
#: in entries.
REMEMBERED_BYTES = 32 * 1024 * 1024
REMEMBERED_FILES = 16384
#: The bundled files whose rules mean something in prose and data too: the hosts,
#: addresses and web hooks a file names. The others describe what code does (calls,
#: execution, obfuscation), and scanning every manual and licence for them is wasted.
PROSE_FILES = frozenset({"network.yar"})


class SignatureError(ThreatfeedError):
    """A YARA rule file does not compile."""


class ScanIncomplete(ThreatfeedError):
    """The scanner gave up on a file (its time limit, or an error inside a rule).

    Its signatures are unknown, not absent: a file built to exhaust the scanner must not
    pass as clean, so the caller reports it instead of treating it as having no hits.
    """


@dataclass(frozen=True)
class SignatureHit:
    """One YARA rule that matched a file, with the first offsets it matched at."""

    rule: str
    indicator: str
    capability: str
    weight: float
    label: str
    offsets: tuple[tuple[int, int], ...]


def _bundled_sources() -> list[tuple[str, str]]:
    folder = resources.files("threatfeed.analysis") / "yara"
    return sorted(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".yar")
    )


def _user_sources(folder: Path) -> list[tuple[str, str]]:
    if not folder.is_dir():
        raise SignatureError(f"YARA folder not found: {folder}")
    return [
        (path.name, path.read_text(encoding="utf-8", errors="replace"))
        for path in sorted(folder.rglob("*.yar*"))
        if path.suffix in {".yar", ".yara"}
    ]


def _text(value: object) -> str:
    """yara-x hands a metadata string holding an escape (``\\x``) back as bytes."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class Signatures:
    """The compiled rule set and one scanner (a scanner is not shareable across threads)."""

    def __init__(
        self,
        extra_dir: Path | None = None,
        *,
        timeout_seconds: int = SCAN_TIMEOUT_SECONDS,
        bundled: frozenset[str] | None = None,
    ) -> None:
        """``bundled`` picks the bundled files to compile (all by default); the user's
        rules from ``extra_dir`` are always compiled."""
        compiler = yara_x.Compiler()
        sources = [
            ("bundled", name, text)
            for name, text in _bundled_sources()
            if bundled is None or name in bundled
        ]
        if extra_dir is not None:
            sources += [("user", name, text) for name, text in _user_sources(extra_dir)]
        for origin, name, text in sources:
            compiler.new_namespace(f"{origin}_{Path(name).stem}".replace("-", "_"))
            try:
                compiler.add_source(text, origin=name)
            except yara_x.CompileError as exc:
                raise SignatureError(f"{name}: {exc}") from exc
        scanner = yara_x.Scanner(compiler.build())
        scanner.set_timeout(timeout_seconds)
        scanner.max_matches_per_pattern(MAX_MATCHES_PER_PATTERN)
        # the memo holds the scanner, not this object: no cycle, so dropping this object
        # frees the scanner at once, on the dropping thread, without the cyclic collector
        self._remembered = ByContent(
            partial(_hits, scanner, timeout_seconds),
            budget=REMEMBERED_BYTES,
            files=REMEMBERED_FILES,
            smallest=0,
        )

    def close(self) -> None:
        """Frees the scanner now, on this thread: YARA-X frees a scanner only on the thread
        that made it (elsewhere it leaks it, with a warning). Closed, it scans no more."""
        del self._remembered

    def scan(self, data: bytes) -> tuple[SignatureHit, ...]:
        """The rules that match, by namespace and name.

        The hits are a function of the bytes alone, and the same files come back again and
        again (a release's unchanged modules, the libraries and licences that packages
        copy, a campaign's hundred near-identical packages), so the latest results are
        remembered by content (``memo.ByContent``: no crafted file can pass for another).
        A scan given up on raises, and is not remembered.
        """
        return self._remembered(data, None)


def _hits(scanner: yara_x.Scanner, timeout: int, data: bytes, _: None) -> tuple[SignatureHit, ...]:
    """yara-x lists matching rules in an order that can depend on what the scanner saw
    before, so the same archive could give its evidence in another order in another
    process; sorting makes the result a function of the data alone."""
    try:
        results = scanner.scan(data)
    except yara_x.TimeoutError as exc:
        raise ScanIncomplete(f"signature scan stopped after {timeout} s") from exc
    except yara_x.ScanError as exc:
        raise ScanIncomplete(f"signature scan failed: {exc}") from exc
    hits = []
    matching = sorted(results.matching_rules, key=lambda rule: (rule.namespace, rule.identifier))
    for rule in matching:
        meta = dict(rule.metadata)
        offsets = sorted(
            (match.offset, match.length) for pattern in rule.patterns for match in pattern.matches
        )
        hits.append(
            SignatureHit(
                rule=rule.identifier,
                indicator=str(meta.get("indicator", CUSTOM_INDICATOR)),
                capability=str(meta.get("capability", "custom")),
                weight=float(meta.get("weight", CUSTOM_WEIGHT)),
                label=_text(meta.get("label", rule.identifier)),
                offsets=tuple(offsets[:MAX_OFFSETS]),
            )
        )
    return tuple(hits)
