"""Code written to be unreadable: mangled names, packers, long lines, encoded blobs."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from itertools import islice
from typing import NamedTuple

from threatfeed.analysis.memo import ByContent
from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package, SourceFile
from threatfeed.analysis.rules.base import file_signal, hit_signal, indicator, signal_at
from threatfeed.analysis.text import (
    BASE64_ALPHABET,
    BLANKS,
    entropy,
    quoted_runs,
    run_table,
    starts_word,
)

#: Minified JavaScript has long lines by design, Python almost never.
LONG_LINE = {"python": 1000, "javascript": 20000}
LONG_LINE_WEIGHT = {"python": 4.0, "javascript": 1.0}
BLOB_MIN = 2000
BLOB_ENTROPY = 5.5
#: Hex digits and the bytes of ``\x``/``\u`` escapes: a run of these alone holds at most
#: 25 symbols, at most log2(25) = 4.6 bits each, far from ``BLOB_ENTROPY``.
_HEX_TEXT = b"0123456789abcdefABCDEFxu\\"
BLOB_WEIGHT = {"python": 3.0, "javascript": 1.0}
MAX_BLOB_SCAN = 2 * 1024 * 1024
SMALL_FILE = 64 * 1024
ORDINARY_LINE = 60
#: Three different techniques in one file are no accident of a minifier or generator.
LAYERED_TECHNIQUES = 3
LAYERED_WEIGHT = 6.0
#: Any technique beyond a long line in code that runs on install (setup.py, hook scripts):
#: build scripts have nothing to hide, and none of the popular packages obfuscates one.
INSTALL_OBFUSCATION_WEIGHT = 6.0
HEX_ESCAPE_RUNS = 5
HEX_ESCAPE_WEIGHT = 5.0
#: ``(?:ESCAPE){12,}`` with its first escape written out: a pattern that starts with a
#: literal backslash lets ``re`` skip to the next backslash instead of trying to match
#: at every byte (three times faster on escape-heavy bundles, same matches). Possessive
#: (``+``) since giving back a hex digit never helps (a hex digit is left where the next
#: backslash is wanted): without backtracking records, runs of a million escapes cost a
#: tenth.
_HEX_ESCAPES = re.compile(rb"\\[xu][0-9a-fA-F]{2,4}+(?:\\[xu][0-9a-fA-F]{2,4}+){11,}+")
#: A quoted run of at least BLOB_MIN of these bytes is a blob.
_BLOB_BYTES = run_table(BASE64_ALPHABET + b"=_-\\")


class _Line(NamedTuple):
    offset: int
    text: bytes


_NO_LINE = _Line(0, b"")
BASE64_LITERAL_MIN = 160
HIDDEN_RUN = 150
_SPACES = b" " * HIDDEN_RUN
#: A line of at most this many bytes holds neither a base64 literal (over
#: ``BASE64_LITERAL_MIN`` bytes) nor a run of ``HIDDEN_RUN`` spaces (code hidden past the
#: margin starts with one).
SHORT_LINE = min(BASE64_LITERAL_MIN, HIDDEN_RUN) - 1
#: From a line's start, the lines of at most ``SHORT_LINE`` bytes after it, passed over in
#: one match, then the first bytes of a longer line (``match.end()`` is that many bytes into
#: it). A step reaches ``SHORT_LINE + 1`` bytes ahead, whatever they hold, and ends at the
#: last newline among them (``re`` scans back to it): it passes over all the short lines in
#: reach, three times faster than a step per line, which costs ``re`` more than the bytes of
#: a line of code. No newline in reach: a longer line starts there, or the data ends.
#: Possessive: no step is ever given back. ``bytes.find`` goes on to the end of a line of
#: megabytes many times faster than ``[^\n]*`` would.
_TO_LONGER_LINE = re.compile(rb"(?s:.{0,%d}\n)*+[^\n]{%d}" % (SHORT_LINE, SHORT_LINE + 1))


class _Lines(NamedTuple):
    """What the lines of over ``SHORT_LINE`` bytes of a file hold."""

    longest: _Line
    #: a run of ``HIDDEN_RUN`` spaces on one of them
    spaces: bool


_NO_LINES = _Lines(_NO_LINE, False)


def _long_lines(data: bytes, limit: int) -> _Lines | None:
    """The longest line of over ``SHORT_LINE`` bytes and where it starts (the first of the
    longest), ``_NO_LINE`` if there is none, and whether these lines hold a run of
    ``HIDDEN_RUN`` spaces; None where lines are not looked at: in a file of up to ``limit``
    bytes, and in one over ``SMALL_FILE`` of ordinary short lines (under ``ORDINARY_LINE``
    bytes on average).

    Only the longer lines are looked at, with a regex that passes over the others instead
    of splitting the file. The newlines of a large file are counted as it goes, in the
    short lines only (a long one has one), and only until there are enough to call its
    lines short: minified code is not read twice, and a file of short lines is given up on
    at its first long lines. Spaces are looked for in the long lines only, and only until
    a run is seen (most code has no line long enough to hold one)."""
    if len(data) <= limit:
        return None
    # newlines enough for short lines (len(data) / newlines < ORDINARY_LINE), if counted
    enough = len(data) // ORDINARY_LINE + 1 if len(data) > SMALL_FILE else 0
    start = end = position = newlines = 0
    spaces = False
    while (match := _TO_LONGER_LINE.match(data, position)) is not None:
        line_start = match.end() - SHORT_LINE - 1
        line_end = data.find(b"\n", match.end())
        if enough:
            newlines += data.count(b"\n", position, line_start) + (line_end >= 0)
            if newlines >= enough:
                return None
        if line_end < 0:
            line_end = len(data)
        if line_end - line_start > end - start:
            start, end = line_start, line_end
        spaces = spaces or data.find(_SPACES, line_start, line_end) >= 0
        position = line_end + 1
    if end - start <= SHORT_LINE:
        return _NO_LINES  # whatever the count
    if enough and newlines + data.count(b"\n", position) >= enough:
        return None
    return _Lines(_Line(start, data[start:end]), spaces)


def _long_line(source: SourceFile, longest: _Line) -> Signal | None:
    limit = LONG_LINE.get(source.kind)
    if limit is None or len(longest.text) <= limit:
        return None
    return signal_at(
        source, longest.offset, 0, LONG_LINE_WEIGHT[source.kind], "long_line", "obfuscation"
    )


LONG_EXEC_WEIGHT = 10.0
#: ``exec`` on a very long Python line and a high-entropy blob in the same file: a loader
#: with its payload. JSON polyfills ``eval`` on long lines, but carry no blob.
LOADER_WITH_PAYLOAD_WEIGHT = 17.0
#: A call of ``exec`` or ``eval``, where a word starts (checked by hand, see ``_exec_call``).
_EXEC_CALL = re.compile(rb"e(?:xec|val)\s*\(")
#: How many parentheses ``_exec_call`` looks behind before it leaves the rest to ``re``.
_FEW_PARENS = 32
#: How far ``_exec_call`` looks behind a parenthesis: ``exec`` and as many blanks.
_BEHIND = 4 + 64


def _exec_call(data: bytes) -> int | None:
    """Where the first match of ``\\b(exec|eval)\\s*\\(`` starts. A match ends at a
    parenthesis, which the long lines of data and payloads hardly have: the first
    ``_FEW_PARENS`` are found by ``bytes.find`` (``memchr``) and looked behind, and the rest
    of a file or line of code with more is searched by ``_EXEC_CALL``, from after the last
    one looked behind (a match holds no parenthesis but its last). Starting with ``e``, not
    ``\\b``, ``re`` jumps from one ``e`` to the next, faster even than looking for ``exec``
    and ``eval`` with ``bytes.find``; the word boundary is checked by hand."""
    position = 0
    for _ in range(_FEW_PARENS):
        paren = data.find(b"(", position)
        if paren < 0:
            return None
        behind = data[max(0, paren - _BEHIND) : paren]
        word = behind.rstrip(BLANKS)
        if len(word) < 4 and len(behind) == _BEHIND:
            break  # more blanks than are looked behind: left to ``re``
        start = paren - (len(behind) - len(word)) - 4
        if word[-4:] in (b"exec", b"eval") and starts_word(data, start):
            return start
        position = paren + 1
    while (match := _EXEC_CALL.search(data, position)) is not None:
        start = match.start()
        if starts_word(data, start):
            return start
        position = start + 1
    return None


def _exec_on_long_line(kind: str, longest: _Line) -> int | None:
    """``exec``/``eval`` on a Python line of over 1,000 characters: a one-line loader that
    decodes and runs its payload. Generated tables are long but do not execute anything."""
    if kind != "python" or len(longest.text) <= LONG_LINE["python"]:
        return None
    start = _exec_call(longest.text)
    return None if start is None else longest.offset + start


def _masked(data: bytes, kind: str, longest: _Line) -> bytes | None:
    """The file translated by ``_BLOB_BYTES``, if it may hold a blob (only a file with a
    line as long as one can, and few do): searched for blobs and base64 literals both."""
    if kind not in BLOB_WEIGHT or len(data) > MAX_BLOB_SCAN or len(longest.text) < BLOB_MIN:
        return None
    return data.translate(_BLOB_BYTES)


def _blob(data: bytes, masked: bytes | None) -> int | None:
    """The quote of the first closed run of high entropy, in a file ``_masked`` read."""
    if masked is None:
        return None
    for start, end in quoted_runs(masked, BLOB_MIN, closed=True):
        run = data[start : min(end, start + 8192)]
        # hex text is not counted: deleting its bytes costs a twentieth of counting them
        if run.translate(None, _HEX_TEXT) and entropy(run) >= BLOB_ENTROPY:
            return start - 1
    return None


def _hex_escapes(data: bytes, kind: str) -> int | None:
    """Strings spelled as ``\\x68\\x74...``: common in obfuscated JavaScript, rare by hand."""
    if kind != "javascript":
        return None
    # No count of backslashes or escapes first: the regex jumps from backslash to
    # backslash and fails at once on others, faster than ``bytes.count`` passes over a file.
    runs = list(islice(_HEX_ESCAPES.finditer(data, 0, MAX_BLOB_SCAN), HEX_ESCAPE_RUNS))
    if len(runs) < HEX_ESCAPE_RUNS:
        return None  # enough runs are counted, not all of them
    return runs[0].start()


ENCODED_PROGRAM_WEIGHT = 8.0
ENCODED_PROGRAM_RUN_WEIGHT = 14.0
_B64_RUN = re.compile(rb"[A-Za-z0-9+/]+")
#: What program text starts with: Python, JavaScript, shell and PowerShell statements.
_PROGRAM_START = re.compile(
    rb"\s*(import\s+\w|from\s+[\w.]+\s+import\s|exec\s*\(|eval\s*\(|def\s+\w+\s*\(|#!/"
    rb"|(const|var|let)\s+\w+\s*=|require\s*\(|function\s*\w*\s*\(|\$\w+\s*=\s*\S"
    rb"|(Add-Type|Invoke-\w+|New-Object|IEX)\b"
    rb"|(curl|wget|rm|chmod|cd|bash|sh|nohup|powershell|cmd)\s+[-/.~\w\"'$])"
)
_PRINTABLE = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}


#: How much of a base64 literal ``_decodes_to_program`` decodes: as much as the shortest has.
_DECODED_HEAD = BASE64_LITERAL_MIN


def _decodes_to_program(text: bytes) -> bool:
    """The first bytes of a base64 literal are program text: ASCII source, or the UTF-16
    source that PowerShell's ``-EncodedCommand`` takes."""
    try:
        head = base64.b64decode(text[:_DECODED_HEAD])
    except ValueError:
        return False
    if len(head) >= 40 and not any(head[1:40:2]):
        head = head[0::2]  # UTF-16LE: every other byte is zero
    return set(head) <= _PRINTABLE and _PROGRAM_START.match(head) is not None


def _signed_literals(source: SourceFile) -> Iterator[tuple[int, bytes]]:
    """Base64 literals that may hold a program, with their offsets: where the signature
    ``base64_program_text`` saw one start like code."""
    for hit in source.signatures:
        if hit.rule == "base64_program_text":
            for offset, _ in hit.offsets:
                run = _B64_RUN.match(source.data, offset + 1, offset + 1 + 240)
                if run is not None:
                    yield offset + 1, run.group()


def _program_on_line(data: bytes, longest: _Line, masked: bytes | None) -> int | None:
    """Where the first base64 literal of the longest line that holds a program starts:
    UTF-16 PowerShell has no fixed prefix for a signature to see. A line with few quotes
    has each of them looked at; another is read in the file ``masked`` for the blob search
    if there is one (the line is most of such a file), else in a translated copy of its own."""
    line = longest.text
    quotes = _few_quotes(line)
    if quotes is not None:
        start = next((quote + 1 for quote in quotes if _is_program_literal(line, quote + 1)), None)
    elif masked is not None:
        return _program_literal(data, masked, longest.offset, longest.offset + len(line))
    else:
        start = _program_literal(line, line.translate(_BLOB_BYTES), 0, len(line))
    return None if start is None else longest.offset + start


#: A line with at most this many quotes has them found by ``bytes.find`` (``memchr``, many
#: times faster than translating the line): most of the longest lines are bundled data or
#: code with megabytes and hardly a string.
_FEW_QUOTES = 16


def _few_quotes(line: bytes) -> list[int] | None:
    """Where the quotes (``"`` and ``'``) of ``line`` are, in order; None when it has more
    than ``_FEW_QUOTES``."""
    found: list[int] = []
    for quote in b"\"'":
        at = line.find(quote)
        while at >= 0:
            if len(found) == _FEW_QUOTES:
                return None
            found.append(at)
            at = line.find(quote, at + 1)
    return sorted(found)


#: In a masked copy: a quote, then as many bytes of the blob alphabet as a base64 literal has.
_LITERAL_START = b'"' + b"A" * BASE64_LITERAL_MIN
#: The bytes of a base64 literal after its quote, in the base64 alphabet only.
_LITERAL_HEAD = re.compile(rb"[A-Za-z0-9+/]{%d}" % BASE64_LITERAL_MIN)


def _is_program_literal(text: bytes, literal: int) -> bool:
    """Whether a base64 literal starts at ``literal`` (``BASE64_LITERAL_MIN`` bytes of the
    base64 alphabet) and its head decodes to a program. Only the head is copied: literals
    run to megabytes."""
    head = _LITERAL_HEAD.match(text, literal)
    return head is not None and _decodes_to_program(head.group())


def _program_literal(text: bytes, masked: bytes, start: int, end: int) -> int | None:
    """Where in ``text[start:end]`` the first base64 literal (a quote, then at least
    ``BASE64_LITERAL_MIN`` bytes of the base64 alphabet) starts whose head decodes to a
    program. ``masked`` is ``text`` translated by ``_BLOB_BYTES``: its quotes before that
    many bytes of the wider blob alphabet are looked at, their bytes checked. No literal
    holds a quote, so the next one is looked for from the one before, not from its end
    (which is not needed)."""
    quote = masked.find(_LITERAL_START, start, end)
    while quote >= 0:
        literal = quote + 1
        if _is_program_literal(text, literal):
            return literal
        quote = masked.find(_LITERAL_START, literal, end)
    return None


def _encoded_program(source: SourceFile, on_line: int | None) -> Signal | None:
    """A base64 string literal whose content is a program (Python, JavaScript, shell or
    PowerShell source): one the signatures saw, else the one on the longest line
    (``_program_on_line``). Data, images and fonts are shipped as base64; code that is to
    be run is written as code unless it is hiding from its reader. In a file that also runs
    commands or calls ``exec``/``eval``, the hidden program is there to be run."""
    if source.kind not in LONG_LINE:
        return None
    signed = (
        offset
        for offset, literal in _signed_literals(source)
        if len(literal) >= 160 and _decodes_to_program(literal)
    )
    offset = next(signed, on_line)
    if offset is None:
        return None
    runs = any(hit.capability in {"exec", "decode_exec"} for hit in source.signatures)
    runs = runs or _exec_call(source.data) is not None
    weight = ENCODED_PROGRAM_RUN_WEIGHT if runs else ENCODED_PROGRAM_WEIGHT
    key = "encoded_program_run" if runs else "encoded_program"
    return signal_at(source, offset, 0, weight, key, "obfuscation")


HIDDEN_WEIGHT = 8.0
#: What is hidden is a statement of its own (``;`` after the padding) or a call that runs
#: or loads code: nothing a formatter or a data table produces.
HIDDEN_STATEMENT_WEIGHT = 16.0
_HIDDEN = re.compile(rb"[ \t]{%d,}([^\s][^\n]{0,200})" % HIDDEN_RUN)
_HIDDEN_STATEMENT = re.compile(
    rb"^;|\b(exec|eval|__import__|import|system|popen|Popen|spawn|require)\b\s*[(\w]"
)


def _hidden_past_margin(data: bytes) -> tuple[int, float] | None:
    """Code pushed far right by a run of spaces, out of sight in an editor or a diff: where
    it starts and what it weighs."""
    if _SPACES not in data:
        return None
    match = _HIDDEN.search(data)
    if match is None:
        return None
    statement = _HIDDEN_STATEMENT.search(match.group(1)) is not None
    return match.start(1), HIDDEN_STATEMENT_WEIGHT if statement else HIDDEN_WEIGHT


#: An executable embedded as base64 in a file that also runs commands: it is written out
#: and started, decode-and-execute of a binary.
DROPPER_WEIGHT = 17.0


def _runs_embedded_executable(source: SourceFile) -> bool:
    return any(hit.rule == "embedded_encoded_executable" for hit in source.signatures) and any(
        hit.capability == "exec" for hit in source.signatures
    )


class _Found(NamedTuple):
    """What the techniques that read only a code file's bytes found, by offset."""

    longest: _Line
    loader: int | None
    blob: int | None
    hidden: tuple[int, float] | None
    escapes: int | None
    program: int | None


_NOTHING = _Found(_NO_LINE, None, None, None, None, None)


def _read(data: bytes, kind: str) -> _Found:
    """The passes over a code file's bytes: a function of them and the kind alone."""
    lines = _long_lines(data, LONG_LINE[kind])
    # no run of spaces on any line that can hold one, if the lines were looked at
    hidden = _hidden_past_margin(data) if lines is None or lines.spaces else None
    longest = _NO_LINE
    if lines is not None and len(lines.longest.text) > BASE64_LITERAL_MIN:
        longest = lines.longest
    escapes = _hex_escapes(data, kind)
    if longest is _NO_LINE and hidden is None and escapes is None:
        return _NOTHING  # most code files: no line any other technique looks at
    masked = _masked(data, kind, longest)
    return _Found(
        longest,
        _exec_on_long_line(kind, longest),
        _blob(data, masked),
        hidden,
        escapes,
        _program_on_line(data, longest, masked),
    )


#: ``_read`` remembered for the latest 8 MiB of code files over 4 KiB: 15% of the bytes of
#: the dev corpus's code repeat one of them (smaller files cost about as much to look up as
#: to read). With this rule's and fragmented_command_rule's memories, 8 MiB each keep 70% of
#: what 32 MiB save (0.055 of 0.076 s per dev pass) for a third of the memory (peak RSS of
#: a pass +9 MiB instead of +32 MiB).
_read_remembered = ByContent(_read, budget=8 * 1024 * 1024, files=4096, smallest=4096)


def obfuscated_code_rule(package: Package) -> Indicator | None:
    """Obfuscation techniques, one object per file.

    Evidence: ``[{"file": str, "techniques": [str]}]`` with the signature labels plus
    ``"very long line"`` and ``"high-entropy encoded blob"``. Alone it weighs little:
    legitimate packages minify and protect code; with execution it is a strong signal.
    """
    evidence = []
    signals: list[Signal] = []
    for source in package.files:
        if source.kind not in LONG_LINE and not source.signatures:
            continue  # most files: neither code nor a signature match
        read = _read_remembered(source.data, source.kind) if source.kind in LONG_LINE else _NOTHING
        if not source.signatures and read is _NOTHING:
            continue
        hits = source.hits("obfuscated_code_rule")
        found = [hit_signal(source, hit) for hit in hits]
        techniques = [hit.label for hit in hits]
        if source.kind not in LONG_LINE and not techniques:
            continue
        if (signal := _long_line(source, read.longest)) is not None:
            found.append(signal)
            techniques.append("very long line")
        if read.loader is not None:
            found.append(
                signal_at(source, read.loader, 0, LONG_EXEC_WEIGHT, "long_exec", "decode_exec")
            )
            techniques.append("executes code on a very long line")
        if read.blob is not None:
            weight = BLOB_WEIGHT[source.kind]
            found.append(signal_at(source, read.blob, 0, weight, "blob", "obfuscation"))
            techniques.append("high-entropy encoded blob")
        if read.loader is not None and read.blob is not None:
            # the one-line loader and the payload it decodes, in one file
            found.append(
                file_signal(source, LOADER_WITH_PAYLOAD_WEIGHT, "loader_payload", "decode_exec")
            )
            techniques.append("executes a high-entropy blob it carries")
        if read.hidden is not None:
            offset, weight = read.hidden
            found.append(signal_at(source, offset, 0, weight, "hidden", "obfuscation"))
            techniques.append("code hidden past the right margin")
        if read.escapes is not None:
            found.append(
                signal_at(source, read.escapes, 0, HEX_ESCAPE_WEIGHT, "hex_escapes", "obfuscation")
            )
            techniques.append("strings hidden as escape sequences")
        if (signal := _encoded_program(source, read.program)) is not None:
            found.append(signal)
            techniques.append(
                "runs program text encoded as base64"
                if signal.key == "encoded_program_run"
                else "program text encoded as base64"
            )
        if _runs_embedded_executable(source):
            found.append(file_signal(source, DROPPER_WEIGHT, "embedded_exec_run", "decode_exec"))
            techniques.append("runs the executable it embeds")
        if source.context == "install" and set(techniques) - {"very long line"}:
            # reviewers read install scripts to know what installing does
            found.append(file_signal(source, INSTALL_OBFUSCATION_WEIGHT, "install", "obfuscation"))
            techniques.append("obfuscated install script")
        if len(set(techniques)) >= LAYERED_TECHNIQUES:
            found.append(file_signal(source, LAYERED_WEIGHT, "layered", "obfuscation"))
        if found:
            signals += found
            evidence.append({"file": source.path, "techniques": sorted(set(techniques))})
    return indicator("obfuscated_code_rule", evidence, signals)
