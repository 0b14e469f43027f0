"""What a rule is, and the helpers most rules share."""

from __future__ import annotations

import ast
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from threatfeed.analysis import python_ast
from threatfeed.analysis.memo import per_archive
from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import RUNNING, Package, SourceFile
from threatfeed.analysis.signatures import SignatureHit
from threatfeed.analysis.text import excerpt_at, line_of

#: A rule looks at a package and reports an indicator, or None when it sees nothing.
Rule = Callable[[Package], Indicator | None]


_COMMENT = re.compile(rb"^\s*(#|//|/\*|\*|>>>|\.\.\.\s)", re.M)


def in_comment(data: bytes, offset: int) -> bool:
    """A match on a comment or doctest line is documentation, whatever the file."""
    return bool(_COMMENT.match(data, data.rfind(b"\n", 0, offset) + 1))


@per_archive(maxsize=64)
def _triple_quotes(data: bytes) -> tuple[list[int], list[int], bool]:
    """Where each kind of triple quote stands in a file, and whether it reads its own
    ``__doc__``: found once for all its matches."""
    found: tuple[list[int], list[int]] = ([], [])
    for quote, positions in zip((b'"""', b"'''"), found, strict=True):
        position = data.find(quote)
        while position >= 0:
            positions.append(position)
            position = data.find(quote, position + 3)
    return found[0], found[1], b"__doc__" in data


#: Files parsed to confirm a docstring, per archive: most modules are parsed by other
#: rules anyway, and past this a crafted archive of large modules opening with docstrings
#: would be parsed for nothing (its matches then count as code).
MAX_DOCSTRING_PARSES = 8


@per_archive(maxsize=1)
def _docstring_parses() -> set[int]:
    """The files of the archive parsed so far to confirm docstrings (by identity)."""
    return set()


def in_docstring(source: SourceFile, offset: int) -> bool:
    """A match inside a Python docstring is documentation (``When an agent runs ``rm -rf
    /`` ...``): Python keeps the string as ``__doc__`` and never runs it.

    Only a line of prose is asked about (no call, no assignment: a payload's line has
    one, and most matches are on code, whose files need not be read for quotes). Looked
    for cheaply first (an odd number of triple quotes before the match, the last opening
    its line), then confirmed by the syntax tree, so that no quote placed in a comment or
    another string passes code for a docstring. A file that reads its own ``__doc__``
    (``exec(__doc__)``) has no documentation."""
    data = source.data
    line_end = data.find(b"\n", offset)
    line = data[data.rfind(b"\n", 0, offset) + 1 : line_end if line_end >= 0 else len(data)]
    if b"(" in line or b"=" in line:
        return False
    double, single, reads_doc = _triple_quotes(data)
    if reads_doc:
        return False
    before, start = 0, -1
    for positions in (double, single):
        count = bisect_left(positions, offset)
        if count and positions[count - 1] > start:
            before, start = count, positions[count - 1]
    if start < 0 or before % 2 == 0:
        return False
    line_start = data.rfind(b"\n", 0, start) + 1
    if data[line_start:start].strip(b" \trRuU"):
        return False
    tree = _confirming_tree(data)
    if tree is None:
        return False
    number = line_of(data, offset)
    return any(first <= number <= last for first, last in python_ast.docstring_lines(tree))


def _confirming_tree(data: bytes) -> ast.Module | None:
    """The file's syntax tree, within the archive's budget of parses for docstrings."""
    parsed = _docstring_parses()
    if id(data) not in parsed:
        if len(parsed) >= MAX_DOCSTRING_PARSES:
            return None
        parsed.add(id(data))
    return python_ast.parsed(data)


_JSON_KEY = re.compile(rb'"([^"\\\n]{1,80})"\s*:\s*"')
#: What npm runs by itself from the manifest (``prepare`` runs for git installs).
_HOOK_KEYS = frozenset({b"preinstall", b"install", b"postinstall", b"prepare"})


def in_manifest_outside_hooks(source: SourceFile, offset: int) -> bool:
    """A match in ``package.json`` outside the install hooks: developer scripts
    (``"test:e2e": "curl ... | sh"``), descriptions, URLs. npm does not run them on install,
    and ``npm_hooks_rule`` weighs the hooks themselves."""
    if source.rel != "package.json":
        return False
    keys = list(_JSON_KEY.finditer(source.data, max(0, offset - 4000), offset))
    return not keys or keys[-1].group(1) not in _HOOK_KEYS


def place_of(source: SourceFile, offset: int) -> str:
    """The context a match counts in: comments, docstrings and manifest text are
    documentation."""
    if source.is_code and in_comment(source.data, offset):
        return "docs"
    if source.kind == "python" and in_docstring(source, offset):
        return "docs"
    if in_manifest_outside_hooks(source, offset):
        return "docs"
    return source.context


def signal_at(
    source: SourceFile,
    offset: int,
    length: int,
    weight: float,
    key: str,
    *capabilities: str,
    context: str | None = None,
) -> Signal:
    """A signal at a match, in ``context`` when the caller knows it, else its ``place_of``."""
    return Signal(
        file=source.path,
        line=line_of(source.data, offset),
        excerpt=excerpt_at(source.data, offset, length),
        weight=weight,
        context=context or place_of(source, offset),
        capabilities=frozenset(capabilities),
        key=key,
    )


def file_signal(source: SourceFile, weight: float, key: str, *capabilities: str) -> Signal:
    """A signal about a whole file (techniques combined in it), in the file's own context:
    whatever its first line holds (a comment, a shebang) says nothing about it."""
    return Signal(
        file=source.path,
        line=None,
        excerpt="",
        weight=weight,
        context=source.context,
        capabilities=frozenset(capabilities),
        key=key,
    )


def hit_signal(source: SourceFile, hit: SignatureHit) -> Signal:
    """The signal of a signature, at its first match outside comments, doctests and
    manifest text (the code a docstring example precedes is what runs), else at its first
    match."""
    for offset, length in hit.offsets:
        if place_of(source, offset) == source.context:
            return signal_at(
                source, offset, length, hit.weight, hit.rule, hit.capability, context=source.context
            )
    offset, length = hit.offsets[0] if hit.offsets else (0, 0)
    return signal_at(source, offset, length, hit.weight, hit.rule, hit.capability)


def marked(package: Package, signature: str) -> Iterator[SourceFile]:
    """The running files a capability-only signature marked for a rule to read further."""
    for source in package.signed:
        if source.context in RUNNING and any(hit.rule == signature for hit in source.signatures):
            yield source


def indicator(name: str, evidence: Any, signals: Iterable[Signal]) -> Indicator | None:
    signals = tuple(signals)
    if not evidence and evidence is not True:
        return None
    return Indicator(rule=name, evidence=evidence, signals=signals)
