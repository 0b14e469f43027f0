"""Small text helpers shared by rules: decoding, line numbers, excerpts, entropy."""

from __future__ import annotations

import math
import re
import threading
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator

EXCERPT_CHARS = 160


def decode(data: bytes) -> str:
    """Decode leniently: attacker files are often mis-encoded on purpose."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def looks_binary(data: bytes) -> bool:
    """NUL bytes in the first block mean a binary, not text (same test as git and grep)."""
    return data.find(b"\x00", 0, 8192) >= 0  # no copy of the block


#: The lines counted in the last file asked about: ``(data, offsets, lines)``, the offsets
#: in order. Rules ask for the lines of many matches in one large file, one rule after
#: another, each in order: counting from the nearest offset already counted, before or
#: after, is linear where counting from the start each time is quadratic. The data is
#: held, so the identity test cannot match another file; the lock keeps the two lists in
#: step for threads.
_counted: tuple[bytes, list[int], list[int]] = (b"", [0], [1])
_counted_lock = threading.Lock()


def line_of(data: bytes, offset: int) -> int:
    """The 1-based line of ``offset`` (``data.count(b"\\n", 0, offset) + 1``)."""
    global _counted
    if offset < 0:
        return data.count(b"\n", 0, offset) + 1  # counted from the end: not remembered
    with _counted_lock:
        counted, offsets, lines = _counted
        if counted is not data:
            offsets, lines = [0], [1]
            _counted = (data, offsets, lines)
        after = bisect_right(offsets, offset)
        before = offsets[after - 1]
        if before == offset:
            return lines[after - 1]
        if after < len(offsets) and offsets[after] - offset < offset - before:
            line = lines[after] - data.count(b"\n", offset, offsets[after])
        else:
            line = lines[after - 1] + data.count(b"\n", before, offset)
        offsets.insert(after, offset)
        lines.insert(after, line)
        return line


def excerpt_at(data: bytes, offset: int, length: int = 0) -> str:
    """The line around a match, cut to a readable width centred on the match."""
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset + length)
    if end < 0:
        end = len(data)
    if end - start > EXCERPT_CHARS:
        start = max(start, offset - EXCERPT_CHARS // 3)
        end = min(end, start + EXCERPT_CHARS)
    return shorten(decode(data[start:end]).strip())


def shorten(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def entropy(data: bytes | str) -> float:
    """Shannon entropy in bits per symbol: packed or encrypted blobs sit near the maximum."""
    if not data:
        return 0.0
    counts = Counter(data)
    total = len(data)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def run_table(alphabet: bytes) -> bytes:
    """A ``bytes.translate`` table for ``quoted_runs``: ``A`` for a byte of ``alphabet``,
    ``"`` for a quote (``"`` or ``'``, never part of a run), ``.`` for any other byte."""
    return bytes(
        ord('"') if b in b"\"'" else ord("A") if b in alphabet else ord(".") for b in range(256)
    )


def quoted_runs(masked: bytes, minimum: int, *, closed: bool = False) -> Iterator[tuple[int, int]]:
    """Start and end of each run of at least ``minimum`` alphabet bytes opened by a quote
    (and closed by one when ``closed``) in ``data``, given ``masked``, which is
    ``data.translate(run_table(ALPHABET))``: the matches of ``re.finditer`` with
    ``["'](ALPHABET{minimum,})`` (``["']`` after it when ``closed``) in ``data``, as the
    span of the group. A regex tries every quote of a minified line of megabytes; this
    searches the translated copy with ``bytes.find``, at memory speed (and the caller may
    search the same copy for more)."""
    needle = b'"' + b"A" * minimum
    found = masked.find(needle)
    while found >= 0:
        start = found + 1
        ends = [i for i in (masked.find(b".", start), masked.find(b'"', start)) if i >= 0]
        end = min(ends) if ends else len(masked)
        if not closed:
            yield start, end
        elif masked[end : end + 1] == b'"':
            yield start, end
            end += 1  # the closing quote belongs to the match: it opens no other
        found = masked.find(needle, end)


def line_start_matches(
    pattern: re.Pattern[bytes], data: bytes, end: int | None = None
) -> Iterator[re.Match[bytes]]:
    r"""The matches of ``pattern`` that only whitespace precedes on their line, in the
    first ``end`` bytes: those of ``^\s*`` + ``pattern`` with ``re.MULTILINE``, found by
    ``re.finditer`` in the same order, without overlaps, with the same groups (spans start
    after the whitespace). That pattern is tried at every byte; ``pattern`` starting with
    a literal that is no whitespace (``from``), ``re`` jumps from one occurrence to the
    next. The whitespace before a match is walked back over, never the whole line: a line
    of a million statements costs each of them only its own indentation."""
    position, end = 0, len(data) if end is None else end
    while (match := pattern.search(data, position, end)) is not None:
        start = indent = match.start()
        while indent and data[indent - 1] in _SPACE:
            indent -= 1
        # the run of whitespace reaches a line start: the file's, or one after a newline
        if indent == 0 or b"\n" in data[indent:start]:
            yield match
            position = match.end()
        else:
            position = start + 1


#: The bytes of ``\s`` in a bytes pattern (those of ``bytes.isspace``).
BLANKS = b" \t\n\r\x0b\x0c"
_SPACE = frozenset(BLANKS)
#: The bytes of ``\w`` in a bytes pattern.
_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def starts_word(data: bytes, start: int) -> bool:
    """Whether ``\b`` holds before ``data[start]`` (a word character): the check a pattern
    that leaves out its leading ``\b`` makes by hand, since with it ``re`` tries every
    position instead of jumping to the pattern's first literal."""
    return start == 0 or data[start - 1] not in _WORD_BYTES
