"""Payloads spelled so that no line shows them: addresses under a character shift, a
reversal or hex, commands split into fragments joined at run time, miners started with a
wallet. Each rule decodes what the file itself would decode, and reports what it finds."""

from __future__ import annotations

import codecs
import re
from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate, chain
from typing import NamedTuple

from threatfeed.analysis.memo import ByContent
from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import RUNNING, Package, SourceFile
from threatfeed.analysis.rules.base import in_comment, indicator, marked, signal_at
from threatfeed.analysis.rules.signature_rules import signature_rule
from threatfeed.analysis.text import BLANKS, starts_word

cryptominer_rule = signature_rule(
    "cryptominer_rule",
    "Starts a cryptocurrency miner with a pool or a wallet on its command line (cryptojacking).",
)

#: Where code runs when the package is installed or used (not tests, not docs).
_CODE_KINDS = frozenset({"python", "javascript"})
_SENDS = frozenset({"network", "exfil"})
#: As much as a URL hidden in base64 in a file that sends (6 + 11 in
#: ``obfuscated_code_rule`` and ``hidden_endpoint_rule``): flags alone in ordinary modules.
CONCEALED_ENDPOINT_WEIGHT = 17.0

#: ``chr(ord(c) - 3)``, ``String.fromCharCode(s.charCodeAt(i) + 7)``: a character shift.
_SHIFT = re.compile(
    rb"(?:chr\s*\(\s*ord\s*\(\s*[\w\[\]]{1,40}\s*\)|charCodeAt\s*\(\s*\w{0,20}\s*\))"
    rb"\s*([-+])\s*(\d{1,3})\s*\)"
)
_HEX_DECODE = re.compile(
    rb"\b(?:fromhex|unhexlify)\s*\(|Buffer\.from\s*\([^)\n]{1,200}['\"]hex['\"]"
)
_ROT13 = re.compile(rb"rot_?13", re.IGNORECASE)
#: What a literal holds between its quotes, as read here: no quote, escape or line break.
_LITERAL_TEXT = re.compile(rb"""[^"'`\\\n]{0,400}""")
#: String literals (empty ones too, so that ``''.join(...)`` does not shift the quotes that
#: follow); escapes are left alone. Those shorter than an address are skipped.
_LITERAL = re.compile(rb"""(["'`])(""" + _LITERAL_TEXT.pattern + rb""")\1""")
MIN_LITERAL = 10
_HEX = re.compile(rb"(?:[0-9a-fA-F]{2}){8,}")
_URL = re.compile(r"""\b(?:https?|wss?)://[\w-]+(?:\.[\w-]+)+[^\s"'<>]*""")
MAX_LITERALS = 2000


def _shifted(text: str, shift: int) -> str:
    try:
        return "".join(chr(ord(c) + shift) for c in text)
    except ValueError:  # below 0 or past the last code point: not what this code decodes
        return ""


def _decoders(data: bytes) -> tuple[set[int], bool, bool, bool]:
    """The decoders a file holds: character shifts (by their amounts), reversal, hex,
    rot13. Each regex runs only after a substring test says it can match, and reversal and
    hex count only when the file holds their spelling of ``://`` (reversed: ``//:``; hex:
    ``3a2f2f``) or a shift to combine with: most files that send have none of these."""
    shifts = (
        {
            int(match.group(2)) * (-1 if match.group(1) == b"-" else 1)
            for match in _SHIFT.finditer(data)
        }
        if b"ord(" in data or b"charCodeAt" in data
        else set()
    )
    reverses = (b"::-1]" in data or b".reverse(" in data) and bool(shifts or b"//:" in data)
    hexes = (b"3a2f2f" in data or b"3A2F2F" in data) and bool(_HEX_DECODE.search(data))
    rot13 = (b"uggc" in data or b"UGGC" in data) and bool(_ROT13.search(data))
    return shifts, reverses, hexes, rot13


def _decodings(source: SourceFile) -> Iterator[tuple[int, int, str, str]]:
    """(offset, length, encoding, decoded text) of each literal this file's own decoders
    turn into something else: shifted by the amounts it names, reversed, from hex, rot13."""
    data = source.data
    shifts, reverses, hexes, rot13 = _decoders(data)
    if not (shifts or reverses or hexes or rot13):
        return
    for count, match in enumerate(_LITERAL.finditer(data)):
        if count >= MAX_LITERALS:
            return
        raw = match.group(2)
        if len(raw) < MIN_LITERAL:
            continue
        start, length = match.start(2), len(raw)
        if hexes and _HEX.fullmatch(raw):
            yield start, length, "hex", bytes.fromhex(raw.decode()).decode("latin-1")
            continue
        text = raw.decode("latin-1")
        orders = [text, text[::-1]] if reverses else [text]
        for order in orders:
            for shift in shifts:
                yield start, length, "character shift", _shifted(order, shift)
            if rot13:
                yield start, length, "rot13", codecs.encode(order, "rot13")
        if reverses:
            yield start, length, "reversed", text[::-1]


#: A ``+`` before a literal: where two literals may be joined. Found from the ``+``
#: (a literal first byte is searched twenty times faster than a class of quotes), then
#: the closing quote before it is looked for. Files are read at these joints only.
_PLUS_QUOTE = re.compile(rb"""\+\s*["'`]""")
_QUOTES = frozenset(b"\"'`")
_BLANK_BYTES = frozenset(BLANKS)
#: The parts of an address that a split hides from readers and scanners: the scheme and
#: host of a URL, or a whole IPv4 address.
_ADDRESS = re.compile(r"\b(?:https?|wss?)://[\w-]+(?:\.[\w-]+)+|\b(?:\d{1,3}\.){3}\d{1,3}\b")


def _concatenations(data: bytes) -> Iterator[tuple[int, int, str, str]]:
    """(offset, length, "concatenation", address) of each chain of literals joined by
    ``+`` whose joined text holds an address that no literal of the chain holds whole:
    ``'htt' + 'ps://collect.example'``, ``'89.39.' + '121.49'``. Long URLs are split
    after their host to fit a line; only code hiding them splits the host or scheme.
    (Python's literals set side by side are left out: ``" "`` and ``""`` would pass any
    test for them, and a docstring after a constant is no part of it.)"""
    chain: list[tuple[int, int]] = []  # (opening quote, closing quote) of each literal
    for count, (close, opening) in enumerate(_joints(data)):
        if count >= MAX_LITERALS:
            break
        left = _literal_ending(data, close)
        right = _literal_starting(data, opening)
        if left is None or right is None:
            yield from _split_addresses(data, chain)
            chain = []
            continue
        if not chain or chain[-1] != left:  # not the literal the last joint ended with
            yield from _split_addresses(data, chain)
            chain = [left]
        chain.append(right)
    yield from _split_addresses(data, chain)


def _joints(data: bytes) -> Iterator[tuple[int, int]]:
    """(closing quote, opening quote) of each ``'...' + '...'``."""
    for plus in _PLUS_QUOTE.finditer(data):
        close = plus.start() - 1
        while close > 0 and data[close] in _BLANK_BYTES and plus.start() - close < 40:
            close -= 1
        if close >= 0 and data[close] in _QUOTES:
            yield close, plus.end() - 1


def _literal_ending(data: bytes, close: int) -> tuple[int, int] | None:
    opening = data.rfind(data[close : close + 1], max(0, close - 401), close)
    return _literal(data, opening, close)


def _literal_starting(data: bytes, opening: int) -> tuple[int, int] | None:
    close = data.find(data[opening : opening + 1], opening + 1, opening + 402)
    return _literal(data, opening, close)


def _literal(data: bytes, opening: int, close: int) -> tuple[int, int] | None:
    if opening < 0 or close < 0 or not _LITERAL_TEXT.fullmatch(data, opening + 1, close):
        return None
    return opening, close


def _split_addresses(
    data: bytes, chain: list[tuple[int, int]]
) -> Iterator[tuple[int, int, str, str]]:
    """The first address split inside its scheme or host (``'https://' + host`` is how
    code names a host, ``'htt' + 'ps://'`` and ``'disc' + 'ord.com'`` are not)."""
    if len(chain) < 2:
        return
    parts = [data[opening + 1 : close].decode("latin-1") for opening, close in chain]
    joined = "".join(parts)
    seams = [seam for seam in accumulate(map(len, parts[:-1])) if joined[seam - 3 : seam] != "://"]
    for address in _ADDRESS.finditer(joined):
        if any(
            address.start() < seam < address.end()
            and not _ADDRESS.fullmatch(joined, address.start(), seam)  # whole before it
            for seam in seams
        ):
            start = chain[0][0]
            yield start, chain[-1][1] + 1 - start, "concatenation", address.group()
            return


def _running_code(package: Package) -> Iterator[SourceFile]:
    """Python and JavaScript files with signature hits that run when the package is
    installed or used (each rule reads only files that some signature marked)."""
    return (f for f in package.signed if f.kind in _CODE_KINDS and f.context in RUNNING)


def concealed_endpoint_rule(package: Package) -> Indicator | None:
    """A URL that appears only once the file's own decoder has run: a literal shifted by
    the amount its ``chr(ord(c) - 3)`` names, reversed by its ``[::-1]``, hex that its
    ``bytes.fromhex`` reads, or rot13, in code that sends over the network; or an address
    (URL or IPv4) split inside its scheme or host across literals joined by ``+``
    (``'htt' + 'ps://disc' + 'ord.com/...'``). A stealer hides where it reports to from
    readers and URL scanners; a client names its service.

    Only files the ``string_decoder`` signature marked are decoded; literals that are URLs
    as written are not counted (nothing is hidden). Evidence:
    ``[{"file": str, "encoding": str, "urls": [str]}]``.
    """
    evidence = []
    signals: list[Signal] = []
    for source in _running_code(package):
        if not any(hit.capability in _SENDS for hit in source.signatures):
            continue
        decoding = any(hit.rule == "string_decoder" for hit in source.signatures)
        urls: list[str] = []
        encoding = ""
        found = chain(_decodings(source) if decoding else (), _concatenations(source.data))
        for start, length, how, decoded in found:
            split = how == "concatenation"  # an address no literal holds whole
            url = _ADDRESS.search(decoded) if split else _URL.search(decoded)
            if url is None or (not split and b"://" in source.data[start : start + length]):
                continue
            if in_comment(source.data, start):
                continue
            if not urls:
                encoding = how
                signals.append(
                    signal_at(
                        source,
                        start,
                        length,
                        CONCEALED_ENDPOINT_WEIGHT,
                        "concealed_endpoint",
                        "hidden_url",
                    )
                )
            if url.group(0) not in urls:
                urls.append(url.group(0)[:200])
        if urls:
            evidence.append({"file": source.path, "encoding": encoding, "urls": urls[:10]})
    return indicator("concealed_endpoint_rule", evidence, signals)


#: A list of three or more short string literals: the fragments of something spelled out.
#: A literal without escapes is read by one repeat of a character class, far cheaper than
#: the alternation that escapes need. Atomic: a literal ends at its first unescaped quote,
#: there is no other way to match it, and none is tried when a list fails after it.
_STRING = (
    rb"""(?>"[^"\\\n]{0,40}+"|'[^'\\\n]{0,40}+'"""
    rb"""|"(?:[^"\\\n]|\\.){0,40}"|'(?:[^'\\\n]|\\.){0,40}')"""
)
_FRAGMENTS = re.compile(rb"\[\s*(?:" + _STRING + rb"\s*,\s*){2,60}" + _STRING + rb"\s*,?\s*\]")
_FRAGMENT = re.compile(_STRING)
#: Words of download-and-run commands. URL schemes are not among them: ``["http", "://",
#: host]`` is how programs build addresses.
_COMMAND_WORDS = (
    "powershell",
    "executionpolicy",
    "invoke-webrequest",
    "invoke-expression",
    "invoke-restmethod",
    "downloadstring",
    "downloadfile",
    "start-process",
    "frombase64string",
    "encodedcommand",
    "windowstyle",
    "certutil",
    "bitsadmin",
    "mshta",
    "rundll32",
    "regsvr32",
    "curl",
    "wget",
    "/dev/tcp",
    "nc -e",
)
#: A shell command decoded at run time (``shell_command_decoded_at_run_time``) weighs as much.
FRAGMENTED_COMMAND_WEIGHT = 12.0


#: What is no fragment's in a list of fragments: brackets, blanks, commas and quotes.
_SEPARATORS = BLANKS + b",'\"[]"
#: The command words without those bytes (``nc-e``).
_COMMAND_SKELETONS = tuple(word.encode().translate(None, _SEPARATORS) for word in _COMMAND_WORDS)


def _may_spell_a_command(listing: bytes) -> bool:
    """A list of fragments whose joined text may hold a command word: the list without
    its separators is the joined text without them, where a word of the joined text is
    still a word without them. One pass over the list, where splitting it costs a regex
    match per fragment and a copy of each (and the words are ASCII: lowering the bytes
    finds what lowering their Latin-1 text would)."""
    skeleton = listing.translate(None, _SEPARATORS).lower()
    return any(word in skeleton for word in _COMMAND_SKELETONS)


def _split_words(fragments: list[str]) -> list[str]:
    """Command words of the joined text that no single fragment holds whole."""
    joined = "".join(fragments).lower()
    found = [word for word in _COMMAND_WORDS if word in joined]
    if not found:
        return []
    lowered = [fragment.lower() for fragment in fragments]
    return [word for word in found if not any(word in fragment for fragment in lowered)]


class _Command(NamedTuple):
    """A command list found in a file: where, the words it splits, the joined start."""

    start: int
    length: int
    words: tuple[str, ...]
    command: str


def _fragmented_command(data: bytes, _: None) -> _Command | None:
    """The first list of fragments outside comments that splits command words: a function
    of the file's bytes alone, remembered by content (``_fragmented_remembered``)."""
    if b".join(" not in data:
        return None
    for match in _FRAGMENTS.finditer(data):
        if not _may_spell_a_command(match.group(0)):
            continue  # nearly every list of strings
        literals = _FRAGMENT.finditer(match.group(0))
        fragments = [found.group(0)[1:-1].decode("latin-1") for found in literals]
        words = _split_words(fragments)
        if words and not in_comment(data, match.start()):
            joined = "".join(fragments)[:200]
            return _Command(match.start(), len(match.group(0)), tuple(sorted(set(words))), joined)
    return None


#: ``_fragmented_command`` remembered for the latest 8 MiB of files over 4 KiB: a fifth of
#: the bytes of the dev corpus's files that run commands repeat one of them (the budget is
#: explained at obfuscation's ``_read_remembered``).
_fragmented_remembered = ByContent(
    _fragmented_command, budget=8 * 1024 * 1024, files=4096, smallest=4096
)


def fragmented_command_rule(package: Package) -> Indicator | None:
    """A command cut into fragments that split its own keywords (``["power", "shell -NoL",
    "ogo -Ex", "ecutionP", ...]``) and joined at run time, in a file that runs commands:
    the spelling exists only to keep ``powershell`` or ``Invoke-WebRequest`` out of sight
    of readers and signatures.

    Lists of words (``["curl", "-s", url]``, an argv) split nothing and do not count.
    Evidence: ``[{"file": str, "words": [str], "command": str}]``, the words found split
    and the start of the joined command.
    """
    evidence = []
    signals: list[Signal] = []
    for source in _running_code(package):
        if not any(hit.capability == "exec" for hit in source.signatures):
            continue
        found = _fragmented_remembered(source.data, None)
        if found is None:
            continue
        evidence.append({"file": source.path, "words": list(found.words), "command": found.command})
        signals.append(
            signal_at(
                source,
                found.start,
                found.length,
                FRAGMENTED_COMMAND_WEIGHT,
                "fragmented_command",
                "exec",
            )
        )
    return indicator("fragmented_command_rule", evidence, signals)


_DEF = re.compile(rb"^[ \t]*def[ \t]+(\w+)[ \t]*\(", re.M)
#: The decoders whose result a decoder function returns.
_DECODERS = (
    b"b64decode",
    b"b32decode",
    b"b85decode",
    b"decodebytes",
    b"decompress",
    b"unhexlify",
    b"fromhex",
)
#: ``return`` of a decoder's result. No leading ``\b``: with it ``re`` tries every position
#: of the file, without it jumps from one ``return`` to the next; the word boundary is
#: checked by hand (``_returns``).
_RETURNS_DECODED = re.compile(rb"return\s+(?:base64\.)?(?:" + b"|".join(_DECODERS) + rb")\s*\(")
_LONGEST_DECODER = max(map(len, _DECODERS))
#: As ``exec`` of a decoded blob (``decode_and_execute_rule``): flags alone where code runs.
DECODER_EXEC_WEIGHT = 17.0
#: How many parentheses ``_returns`` looks behind before it leaves the rest to ``re``.
_FEW_PARENS = 32
#: How far ``_returns`` looks behind a parenthesis.
_BEHIND = 128
#: ``_return_before`` cannot tell: the match may start before what it looks at.
_UNSURE = -1


def _returns(data: bytes) -> list[int]:
    """Where the returns of decoded data start, at a word boundary (no ``noreturn``).

    A match ends at a parenthesis and holds no other, and the files the signature marks
    are mostly data with few: the first ``_FEW_PARENS`` are found by ``bytes.find``
    (``memchr``) and looked behind, and the rest of a file with more is searched by
    ``_RETURNS_DECODED``, from after the last one looked behind."""
    found: list[int] = []
    position = 0
    for _ in range(_FEW_PARENS):
        paren = data.find(b"(", position)
        if paren < 0:
            return found
        start = _return_before(data, paren)
        if start == _UNSURE:
            break
        if start is not None and starts_word(data, start):
            found.append(start)
        position = paren + 1
    matches = _RETURNS_DECODED.finditer(data, position)
    return found + [start for match in matches if starts_word(data, start := match.start())]


def _return_before(data: bytes, paren: int) -> int | None:
    """Where the match of ``_RETURNS_DECODED`` that ends at ``data[paren]`` starts, read
    backwards over the ``_BEHIND`` bytes before it: None if there is none, ``_UNSURE`` if
    it may start before them (too few bytes left for what is still to read)."""
    low = max(0, paren - _BEHIND)
    cut = low > 0
    text = data[low:paren].rstrip(BLANKS)
    name = next((name for name in _DECODERS if text.endswith(name)), None)
    if name is None:
        return _UNSURE if cut and len(text) < _LONGEST_DECODER else None
    text = text[: -len(name)]
    if cut and len(text) < len(b"base64."):
        return _UNSURE
    text = text.removesuffix(b"base64.")
    before = text.rstrip(BLANKS)
    if cut and len(before) < len(b"return"):
        return _UNSURE
    if len(before) == len(text) or not before.endswith(b"return"):
        return None
    return low + len(before) - len(b"return")


def _decoder_functions(data: bytes) -> list[bytes]:
    """Names of the functions of a file whose body returns decoded data.

    The returns are found in one pass and each body looks its up by position: searching
    every body in turn cost a regex call per ``def`` of files with thousands. No return
    can run over a ``def`` line (it is words, blanks and a parenthesis), so a return lies
    in the body where it starts."""
    returns = _returns(data)
    if not returns:
        return []
    starts = list(_DEF.finditer(data))
    names = []
    for number, match in enumerate(starts):
        end = starts[number + 1].start() if number + 1 < len(starts) else len(data)
        first = bisect_left(returns, match.end())
        if first < len(returns) and returns[first] < end:
            names.append(match.group(1))
    return names


def decoder_function_exec_rule(package: Package) -> Indicator | None:
    """``exec``/``eval`` of what a function of the same file returns, when that function
    returns decoded data (``def load(p): ... return base64.b64decode(text)`` ...
    ``exec(load('data.txt'))``): the payload kept in a data file or a literal elsewhere,
    decoded by a helper so that no line shows ``exec`` next to a decoder.

    Only files the ``python_decoder_function`` signature marked are read. Evidence:
    ``[{"file": str, "line": int, "decoder": str}]``.
    """
    evidence = []
    signals: list[Signal] = []
    for source in marked(package, "python_decoder_function"):
        names = _decoder_functions(source.data)
        if not names:
            continue
        called = re.compile(
            rb"\b(?:exec|eval)\s*\(\s*(" + b"|".join(re.escape(n) for n in names) + rb")\s*\("
        )
        for match in called.finditer(source.data):
            if in_comment(source.data, match.start()):
                continue
            signal = signal_at(
                source,
                match.start(),
                len(match.group(0)),
                DECODER_EXEC_WEIGHT,
                "decoder_function_exec",
                "decode_exec",
            )
            signals.append(signal)
            evidence.append(
                {"file": source.path, "line": signal.line, "decoder": match.group(1).decode()}
            )
            break
    return indicator("decoder_function_exec_rule", evidence, signals)
