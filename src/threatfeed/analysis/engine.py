"""The engine: read an archive, classify its files, run every rule, score."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from threatfeed.analysis import decoded, homoglyphs, memo
from threatfeed.analysis.model import Analysis, Indicator, Location
from threatfeed.analysis.package import (
    CODE_KINDS,
    Package,
    SourceFile,
    classify,
    reads_as_prose,
)
from threatfeed.analysis.rules import RULES, Rule
from threatfeed.analysis.scoring import FLAG_THRESHOLD, effective, points, score
from threatfeed.analysis.signatures import (
    CUSTOM_INDICATOR,
    PROSE_FILES,
    SCAN_TIMEOUT_SECONDS,
    ScanIncomplete,
    SignatureHit,
    Signatures,
)
from threatfeed.archives import ArchiveContents, Member, read_archive
from threatfeed.utf8 import encodable

ENGINE_VERSION = "2026.12.22"
#: Bytes of a file given to the signatures, by kind. Code is scanned whole; in binaries,
#: data and prose the start is what tells (headers, embedded scripts, URLs), and scanning
#: hundreds of megabytes of compiled libraries and docs would dominate the cost.
SCAN_LIMITS = {"binary": 256 * 1024, "data": 256 * 1024, "text": 1024 * 1024}
#: In compiled code, byte patterns of script signatures match by chance; only the hosts a
#: binary embeds, and the user's own rules (often written for binaries), are kept.
BINARY_INDICATORS = frozenset({"suspicious_url_references_rule", CUSTOM_INDICATOR})
MAX_LOCATIONS = 50
#: What a code file the scanner gave up on counts as: its signatures are unknown, and no
#: file of the dev corpus or the wider benign sample (5,000 packages) takes the scanner
#: that long, so padding built to make every window of a pattern slow hides nothing.
EXHAUSTED = SignatureHit(
    "signature_scan_exhausted",
    "obfuscated_code_rule",
    "obfuscation",
    10.0,
    "exhausts the signature scanner (its signatures are unknown)",
    ((0, 0),),
)


class Engine:
    """Compiled once per process (YARA rules, tree-sitter parser, typosquat index).

    Not thread-safe (a YARA scanner is single-threaded): use one engine per thread or
    process.
    """

    def __init__(
        self,
        *,
        extra_yara_dir: Path | None = None,
        rules: tuple[Rule, ...] = RULES,
        scan_timeout_seconds: int = SCAN_TIMEOUT_SECONDS,
    ) -> None:
        self._signatures = Signatures(extra_yara_dir, timeout_seconds=scan_timeout_seconds)
        self._prose_signatures = Signatures(
            extra_yara_dir, timeout_seconds=scan_timeout_seconds, bundled=PROSE_FILES
        )
        self._rules = rules

    def close(self) -> None:
        """Frees the compiled rules on this thread, which must be the one that compiled
        them (see ``Signatures.close``). Closed, the engine analyses no more."""
        self._signatures.close()
        self._prose_signatures.close()

    def analyze(self, data: bytes, *, filename: str | None = None) -> Analysis:
        """Analyse one archive; never raises on bad input (problems land in ``errors``).

        ``filename`` is accepted for callers' convenience but decides nothing: formats,
        ecosystems and names come from content (wheels named ``.tar.gz`` are common).
        """
        sha256 = hashlib.sha256(data).hexdigest()
        try:
            contents = read_archive(data)
        except Exception as exc:  # the reader is hardened, but one bad archive must not stop a run
            return _failed(sha256, f"cannot read archive: {type(exc).__name__}: {exc}")
        return self.analyze_contents(contents, sha256)

    def analyze_contents(self, contents: ArchiveContents, sha256: str) -> Analysis:
        """``analyze`` of an archive already read.

        The collector is held off until the archive's trees are forgotten and its package
        is dropped: the collection that follows then walks only what outlives the archive,
        not its files and what they hold, about to be freed anyway."""
        with memo.collector_paused():
            return self._analysis(contents, sha256)

    def _analysis(self, contents: ArchiveContents, sha256: str) -> Analysis:
        try:
            package = self.prepare(contents)
        except Exception as exc:  # classification parses attacker data: report, never raise
            return _failed(sha256, f"cannot classify archive: {type(exc).__name__}: {exc}")
        try:
            indicators, errors = run_rules(package, self._rules)
        finally:
            memo.forget()  # trees and calls of this archive's files: no use to the next
        total = points(indicators)
        final = score(total)
        return Analysis(
            ecosystem=package.ecosystem,
            name=package.name,
            version=package.version,
            sha256=sha256,
            score=final,
            flagged=final >= FLAG_THRESHOLD,
            indicators={i.rule: encodable(i.evidence) for i in indicators},
            locations=_locations(indicators),
            errors=tuple(map(encodable, (*contents.errors, *package.errors, *errors))),
            files=tuple((m.path, m.size) for m in contents.members),
            engine_version=ENGINE_VERSION,
        )

    def _scan(
        self, member: Member, rel: str, kind: str, context: str, problems: list[str]
    ) -> tuple[SignatureHit, ...]:
        """A file's signature hits; a scan the scanner gave up on is added to ``problems``.

        Prose (``reads_as_prose``: a fifth of what packages hold) gets the rules that mean
        something there. Code that decodes its own literals gets the hits of what they
        decode to as well (``decoded``).
        """
        if not member.data:
            return ()
        prose = reads_as_prose(rel, kind, context, member.data)
        signatures = self._prose_signatures if prose else self._signatures
        data = member.data[: SCAN_LIMITS.get(kind)]
        try:
            hits = signatures.scan(data)
        except ScanIncomplete as exc:
            problems.append(f"{member.path}: {exc}")
            return (EXHAUSTED,) if kind in CODE_KINDS else ()
        if kind == "binary":
            return tuple(hit for hit in hits if hit.indicator in BINARY_INDICATORS)
        if kind in CODE_KINDS:
            hits += homoglyphs.lookalike_imports(data)
        if any(hit.rule in decoded.DECODERS for hit in hits):
            try:
                hits += decoded.revealed(data, kind, hits, signatures.scan)
            except ScanIncomplete as exc:  # the file's own hits stand
                problems.append(f"{member.path}: decoded strings: {exc}")
        return hits

    def prepare(self, contents: ArchiveContents) -> Package:
        """The package as rules see it, with every file scanned once by the signatures."""
        layout, rows = classify(contents)
        files = []
        problems: list[str] = []
        for member, rel, kind, context in rows:
            if rel == "package.json" and layout.hooks:
                context = "install"  # the hook commands themselves run at install
            signatures = self._scan(member, rel, kind, context, problems)
            # fields by position, once per member: matching eight keywords to the
            # parameters costs a quarter of building the file
            files.append(
                SourceFile(
                    member.path,
                    rel,
                    member.data,
                    member.size,
                    member.truncated,
                    kind,
                    context,
                    signatures,
                )
            )
        return Package(
            ecosystem=layout.ecosystem,
            name=layout.name,
            version=layout.version,
            root=layout.root,
            files=tuple(files),
            findings=contents.findings,
            manifest=layout.manifest,
            hooks=layout.hooks,
            build_commands=layout.build_commands,
            build_files=layout.build_files,
            errors=(*layout.errors, *problems),
        )


def run_rules(package: Package, rules: tuple[Rule, ...]) -> tuple[list[Indicator], list[str]]:
    """Run every rule; a rule that crashes on hostile input is an error, not a stopped scan."""
    indicators: list[Indicator] = []
    errors: list[str] = []
    for rule in rules:
        try:
            found = rule(package)
        except Exception as exc:  # rules parse attacker input; one failing must not hide others
            errors.append(f"{rule.__name__}: {type(exc).__name__}: {exc}")
            continue
        if found is not None:
            indicators.append(found)
    return indicators, errors


def _locations(indicators: list[Indicator]) -> tuple[Location, ...]:
    ranked = sorted(
        ((effective(s), i.rule, s) for i in indicators for s in i.signals if s.file),
        key=lambda item: -item[0],
    )
    seen: set[tuple[str, str, int | None]] = set()
    locations = []
    for _, rule, signal in ranked:
        assert signal.file is not None
        if (rule, signal.file, signal.line) in seen:
            continue
        seen.add((rule, signal.file, signal.line))
        locations.append(Location(rule, signal.file, signal.line, encodable(signal.excerpt)))
        if len(locations) == MAX_LOCATIONS:
            break
    return tuple(locations)


def _failed(sha256: str, error: str) -> Analysis:
    empty: dict[str, Any] = {}
    return Analysis(None, None, None, sha256, 0.0, False, empty, (), (error,), (), ENGINE_VERSION)


__all__ = ["ENGINE_VERSION", "FLAG_THRESHOLD", "Engine"]
