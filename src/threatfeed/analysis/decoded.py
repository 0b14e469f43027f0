"""Strings a file decodes as it runs, decoded here and scanned like the file itself.

A call spelled backwards (``getattr(builtins, "cexe"[::-1])``), a module name in escapes
(``require("\\x63\\x68...")``), a command in rot13 or in character codes hides from every
signature of the file as written, yet names exactly what the code does. The decoders here
are the ones such code calls on its own literals; each runs only at the places a signature
marked for it (``DECODERS``), and what they reveal is scanned by the same rules.
A hit found that way keeps its rule, indicator and weight (the capability is the code's,
however spelled) and points at the literal; the spelling itself is an obfuscation
technique when it hides something active.
"""

from __future__ import annotations

import binascii
import codecs
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from itertools import islice
from typing import NamedTuple

from threatfeed.analysis.signatures import MAX_OFFSETS, SignatureHit

#: At most this many bytes of decoded text are scanned per file, and files read whole
#: (rot13, hex, look-alike letters) are at most this large.
MAX_DECODED = 256 * 1024
#: Literals read per decoder and file.
MAX_LITERALS = 2000
#: Hidden this way, these capabilities are what the spelling hides (not a version string).
ACTIVE = frozenset(
    {
        "download_exec",
        "decode_exec",
        "exec",
        "network",
        "exfil",
        "dns_exfil",
        "harvest",
        "reverse_shell",
        "persistence",
        "dropper",
        "payload_host",
        "raw_ip",
        "destructive",
    }
)
HIDDEN_CODE_WEIGHT = 8.0
HIDDEN_CODE_RULE = "code_in_encoded_string"
#: Addresses are reported from the file's text as written, which would show the encoded
#: form: a hidden one counts through the technique, and ``concealed_endpoint_rule``
#: decodes the addresses of code that sends.
_SPELLED_AS_WRITTEN = frozenset({"suspicious_url_references_rule"})
#: Decoders that read the whole file once, wherever it was marked.
_WHOLE_FILE = frozenset(
    {
        "rot13_literal",
        "hex_literal",
        "base64_literal",
        "environment_bound_to_name",
        "lookalike_letters",
        "invisible_characters",
        "char_code_decoder",
    }
)
_PYTHON_ONLY = frozenset({"lookalike_letters"})
_SPELLINGS = {
    "hex": "hex",
    "base64": "base64",
    "look-alike letters": "look-alike letters",
    "reversed": "a reversed string",
    "rot13": "rot13",
    "escaped": "escape sequences",
    "character codes": "character codes",
    "invisible characters": "invisible characters",
}


#: Escapes a literal must hold to be read as spelled in them.
MIN_ESCAPES = 4
#: Decoded pieces are scanned apart: more lines between them than any rule spans.
_SEPARATOR = "\n" * 16
_QUOTES = frozenset(b"\"'`")
#: A literal is read up to this many bytes.
MAX_LITERAL = 4000
#: Every literal of a file that decodes rot13 (group 2), the first ``MAX_LITERALS``.
_LITERAL = re.compile(rb"""(["'])((?:(?!\1)[^\\\n]|\\.){8,4000})\1""")
#: ``String.fromCharCode(99, 104, ...)``, ``bytes([99, 104, ...])``, ``map(chr, [...])``.
_CODE_LIST = re.compile(
    rb"(?:fromCharCode\s*\(|\bmap\s*\(\s*chr\s*,\s*|\bbytes\s*\(\s*|\bbytearray\s*\(\s*)"
    rb"[\[(]?\s*(\d{1,3}(?:\s*,\s*\d{1,3}){3,4000})"
)
#: ``chr(99) + chr(104) + ...``
_CHR_CHAIN = re.compile(rb"(?:chr\s*\(\s*\d{1,3}\s*\)\s*\+\s*){3,4000}chr\s*\(\s*\d{1,3}\s*\)")
_NUMBER = re.compile(rb"0[xX][0-9a-fA-F]{1,2}|\d{1,3}")
_CODE = rb"(?:0[xX][0-9a-fA-F]{1,2}|\d{1,3})"
#: Two numbers or more in a row (``_c(99, 117, 114, ...)``, ``[0x63, 0x75, ...]``): in a
#: file whose decoder turns a name's numbers into characters (``"".join(map(chr, n))``),
#: the literals it is handed, wherever they are. A run of twelve or more is read alone;
#: all of them are also read joined, in order, since a command split into short runs
#: (``a = [99, 117]``, ``b = [114, 108]``) is joined before it runs.
_NUMBER_RUN = re.compile(rb"(?<![\w.])(" + _CODE + rb"(?:\s*,\s*" + _CODE + rb"){1,4000})(?![\w.])")
_LONG_RUN_COMMAS = 11
#: Characters of the joined runs read at most.
MAX_JOINED = 64 * 1024


class Hidden(NamedTuple):
    offset: int
    length: int
    encoding: str
    text: str


def _unescaped(raw: bytes) -> str:
    """The text of a literal with its escapes read as Python and JavaScript read them."""
    return raw.decode("unicode_escape", "replace")


def _escapes(text: bytes) -> int:
    return text.count(b"\\x") + text.count(b"\\u")


def _characters(numbers: bytes) -> str:
    """The text the codes spell, or nothing at the first one that is no printable ASCII."""
    characters = []
    for number in _NUMBER.findall(numbers):
        code = int(number, 16) if number[1:2] in b"xX" else int(number)
        if not 9 <= code < 127:
            return ""
        characters.append(chr(code))
    return "".join(characters)


def _literal_before(data: bytes, close: int) -> tuple[int, bytes] | None:
    """The literal whose closing quote is at ``close``: its opening quote and text."""
    quote = data[close : close + 1]
    start = max(0, close - MAX_LITERAL)
    line = max(start, data.rfind(b"\n", start, close) + 1)
    opening = data.rfind(quote, line, close)
    while opening > line and data[opening - 1 : opening] == b"\\":
        opening = data.rfind(quote, line, opening)
    return None if opening < 0 else (opening, data[opening + 1 : close])


def _reversed(data: bytes, offset: int) -> Iterator[Hidden]:
    found = _literal_before(data, offset)
    if found is not None:
        opening, raw = found
        yield Hidden(opening, offset + 1 - opening, "reversed", _unescaped(raw)[::-1])


def _escaped(data: bytes, offset: int) -> Iterator[Hidden]:
    if data[offset] not in _QUOTES:
        return
    text = _text_after(data, offset)
    if _escapes(text) >= MIN_ESCAPES:
        decoded = _unescaped(text)
        if "\x00" not in decoded:  # binary data (test vectors, magic numbers), not code
            yield Hidden(offset, len(text) + 2, "escaped", decoded)


def _text_after(data: bytes, opening: int) -> bytes:
    """A literal's text (escapes kept) from its opening quote to its closing one, the end
    of its line or ``MAX_LITERAL`` bytes, found by byte search rather than a pattern
    stepping over each escape."""
    quote, end = data[opening : opening + 1], min(len(data), opening + 1 + MAX_LITERAL)
    line_end = data.find(b"\n", opening + 1, end)
    end = end if line_end < 0 else line_end
    close = data.find(quote, opening + 1, end)
    while close > 0:
        backslashes = close - len(data[opening + 1 : close].rstrip(b"\\")) - opening - 1
        if backslashes % 2 == 0:
            return data[opening + 1 : close]
        close = data.find(quote, close + 1, end)
    return data[opening + 1 : end]


def _char_codes(data: bytes, offset: int) -> Iterator[Hidden]:
    for pattern in (_CODE_LIST, _CHR_CHAIN):
        if (match := pattern.match(data, offset)) is not None:
            numbers = (
                match.group(1) if pattern is _CODE_LIST else match.group().replace(b"chr", b"")
            )
            if text := _characters(numbers):
                yield Hidden(offset, match.end() - offset, "character codes", text)
            return


def _number_runs(data: bytes, _: int) -> Iterator[Hidden]:
    """The runs of numbers of a file whose decoder turns names into characters
    (``map(chr, n)``): what it is handed, wherever it is written."""
    joined: list[str] = []
    start = end = size = 0
    for match in _whole_file_matches(_NUMBER_RUN, data):
        if not (text := _characters(match.group(1))):
            continue
        if match.group(1).count(b",") >= _LONG_RUN_COMMAS:
            yield Hidden(match.start(), match.end() - match.start(), "character codes", text)
        if size < MAX_JOINED:
            start, end = (start if joined else match.start()), match.end()
            joined.append(text)
            size += len(text)
    if len(joined) > 1:
        text = "".join(joined)[:MAX_JOINED]
        yield Hidden(start, end - start, "character codes", text)
    if joined:
        yield from _spelled_out(data)


#: A call of the decoder, or a list, handed one run of numbers: ``_L(115, 117, ...)``.
_DECODED_CALL = re.compile(
    rb"(?:\b[A-Za-z_]\w*\s*\(\s*|\[\s*)(" + _CODE + rb"(?:\s*,\s*" + _CODE + rb"){1,4000})\s*[)\]]"
)
#: Two literals joined by ``+``: ``'cur' + "l -s"`` reads ``'curl -s"``.
_JOINT = re.compile(rb"""["']\s*\+\s*["']""")


def _spelled_out(data: bytes) -> Iterator[Hidden]:
    """The file with each call of its decoder (``_L(115, 117, 98, ...)``) written as the
    string it returns and literals joined by ``+`` written as one: how it reads when it
    runs (``__import__('subprocess')``, ``'curl -fsS http://...'``), for the signatures that
    read names and commands in place."""
    first: list[re.Match[bytes]] = []

    def spelled(match: re.Match[bytes]) -> bytes:
        text = _characters(match.group(1))
        if not text or "'" in text:
            return match.group(0)
        first[:] = first or [match]
        return b"'" + text.encode() + b"'"

    view = _JOINT.sub(b"", _DECODED_CALL.sub(spelled, data, MAX_LITERALS))
    yield from _view(first, "character codes", view)


def _view(first: list[re.Match[bytes]], encoding: str, view: bytes) -> Iterator[Hidden]:
    """The file read another way, located at the first place it was rewritten (only
    there: a piece spanning the rest of the file would hide the literals decoded after
    it, which ``revealed`` skips as inside the one before)."""
    if first:
        place = first[0]
        yield Hidden(
            place.start(), place.end() - place.start(), encoding, view.decode("utf-8", "replace")
        )


#: A literal of hex digits long enough to hold a command: 24 bytes or more.
_HEX_LITERAL = re.compile(rb"""["']((?:[0-9a-fA-F]{2}){24,4000})["']""")


def _hex(data: bytes, _: int) -> Iterator[Hidden]:
    """The long hex literals of a file that decodes hex, those that decode to text."""
    for match in _whole_file_matches(_HEX_LITERAL, data):
        text = bytes.fromhex(match.group(1).decode()).decode("latin-1")
        if text.isascii():
            yield Hidden(match.start(), match.end() - match.start(), "hex", text)


#: A base64 literal long enough to hold a command (40 characters, 30 bytes) and short
#: enough to be text rather than a picture or an archive (16 KiB).
_BASE64_LITERAL = re.compile(rb"""["'`]([A-Za-z0-9+/]{40,16384}={0,2})["'`]""")
#: What decoded text may hold: printable ASCII, tabs and line ends.
_NOT_TEXT = re.compile(rb"[^\t\n\r\x20-\x7e]")


def _base64(data: bytes, _: int) -> Iterator[Hidden]:
    """The base64 literals of a file that decodes base64, those that decode to text (a
    workflow, a script, a command): images and archives in base64 decode to bytes that
    are no text, told by their first bytes before the rest is decoded."""
    for match in _whole_file_matches(_BASE64_LITERAL, data):
        literal = match.group(1)
        try:
            if _NOT_TEXT.search(binascii.a2b_base64(literal[:64])):
                continue
            decoded = binascii.a2b_base64(literal, strict_mode=True)
        except binascii.Error:
            continue
        if not _NOT_TEXT.search(decoded):
            yield Hidden(match.start(), match.end() - match.start(), "base64", decoded.decode())


#: A name bound to the whole environment (``environment_bound_to_name``), and what it
#: stands for.
_ENVIRONMENT_NAME = re.compile(
    rb"(?<![\w$.])([A-Za-z_$][\w$]{0,40})\s*=\s*(process\.env|\{\s*\.\.\.\s*process\.env\s*\}"
    rb"|(?:dict\s*\(\s*)?os\.environ)(?![\w$]|\s*[.\[])"
    rb"|\{\s*(env)\s*\}\s*=\s*process\b"
)
#: Names read per file: decoys bound in front do not push the real one out.
MAX_ENVIRONMENT_NAMES = 64
#: Read through a name, nothing is concealed: the hits count, with no obfuscation technique.
_BOUND_NAME = "a name bound to it"


def _bound_environment(data: bytes, _: int) -> Iterator[Hidden]:
    """The file with the environment written in place of each name bound to it, where
    the name is read whole (not ``e.PATH``, ``e['HOME']``): ``JSON.stringify(env)`` of
    ``(schema, env = process.env)`` reads as the environment's dump."""
    if len(data) > MAX_DECODED:
        return
    names: dict[bytes, bytes] = {}
    for match in islice(_ENVIRONMENT_NAME.finditer(data), MAX_LITERALS):
        if len(names) >= MAX_ENVIRONMENT_NAMES:
            break
        if match.group(3):  # ``const { env } = process``
            names.setdefault(match.group(3), b"process.env")
            continue
        spelled = b"os.environ" if b"environ" in match.group(2) else b"process.env"
        names.setdefault(match.group(1), spelled)
    if not names:
        return
    reads = re.compile(
        rb"(?<![\w$.])(" + b"|".join(map(re.escape, names)) + rb")\b(?![\w$]|\s*[.\[(=])"
    )
    first: list[re.Match[bytes]] = []

    def environment(match: re.Match[bytes]) -> bytes:
        first[:] = first or [match]
        return names[match.group(1)]

    view = reads.sub(environment, data, MAX_LITERALS)
    yield from _view(first, _BOUND_NAME, view)


def _whole_file_matches(pattern: re.Pattern[bytes], data: bytes) -> Iterator[re.Match[bytes]]:
    """The first ``MAX_LITERALS`` matches of ``pattern`` in a file of at most ``MAX_DECODED``
    bytes (a larger one is not read whole)."""
    return islice(pattern.finditer(data), MAX_LITERALS) if len(data) <= MAX_DECODED else iter(())


def _lookalikes(data: bytes, offset: int) -> Iterator[Hidden]:
    """The whole file as Python reads its names: in NFKC form, full-width and mathematical
    letters are plain ones."""
    if len(data) <= MAX_DECODED:
        text = unicodedata.normalize("NFKC", data.decode("utf-8", "replace"))
        yield Hidden(offset, 3, "look-alike letters", text)


def _rot13(data: bytes, _: int) -> Iterator[Hidden]:
    """Every literal: rot13 is applied to a name, wherever its text sits."""
    for match in _whole_file_matches(_LITERAL, data):
        text = codecs.encode(match.group(2).decode("latin-1"), "rot13")
        yield Hidden(match.start(), match.end() - match.start(), "rot13", text)


#: Runs of invisible characters that each stand for a byte (``invisible_characters``).
_INVISIBLE_RUN = re.compile(
    "(?:[\ufe00-\ufe0f\U000e0100-\U000e01ef\U000e0000-\U000e007f\ue000-\uf8ff"
    "\U000f0000-\U000f00ff]){16,}"
)
#: The first code point of each block, and the byte it stands for.
_INVISIBLE_BLOCKS = ((0xF0000, 0), (0xE0100, 16), (0xE0000, 0), (0xFE00, 0), (0xE000, 0))


def _byte_of(character: str) -> int:
    point = ord(character)
    start, value = next(block for block in _INVISIBLE_BLOCKS if point >= block[0])
    return (point - start + value) & 0xFF


def _invisible(data: bytes, _: int) -> Iterator[Hidden]:
    """Runs of variation selectors (``U+FE00`` and on stand for 0-15, ``U+E0100`` and on
    for 16-255), tag characters and private-use letters (a byte each, from the block's
    start): the text a file hides in characters no editor shows."""
    if len(data) > MAX_DECODED:
        return
    text = data.decode("utf-8", "surrogateescape")  # a byte for each byte that is no UTF-8
    characters = offset = 0  # where the last run ended, in characters and in bytes
    for match in islice(_INVISIBLE_RUN.finditer(text), MAX_LITERALS):
        offset += len(text[characters : match.start()].encode("utf-8", "surrogateescape"))
        length = len(match.group(0).encode("utf-8"))
        hidden = bytes(_byte_of(character) for character in match.group(0)).decode("latin-1")
        yield Hidden(offset, length, "invisible characters", hidden)
        characters, offset = match.end(), offset + length


#: The decoder of each marking signature, given the file and a place it marked.
DECODERS: dict[str, Callable[[bytes, int], Iterator[Hidden]]] = {
    "reversed_literal": _reversed,
    "escaped_literal": _escaped,
    "char_code_literal": _char_codes,
    "char_code_decoder": _number_runs,
    "rot13_literal": _rot13,
    "hex_literal": _hex,
    "base64_literal": _base64,
    "environment_bound_to_name": _bound_environment,
    "lookalike_letters": _lookalikes,
    "invisible_characters": _invisible,
}


def hidden_strings(data: bytes, marks: Iterable[SignatureHit], kind: str) -> Iterator[Hidden]:
    """What the file's own decoders would make of its literals, at the places the
    signatures marked (``DECODERS``): never a pass over the whole file, but where the
    marker names the codec rather than the literal (rot13, hex) or the language reads the
    whole file differently (Python's NFKC names, for Python files only)."""
    for hit in marks:
        decode = DECODERS.get(hit.rule)
        if decode is None or (hit.rule in _PYTHON_ONLY and kind != "python"):
            continue
        if hit.rule in _WHOLE_FILE:
            yield from decode(data, hit.offsets[0][0] if hit.offsets else 0)
            continue
        for offset in _marks(data, hit):
            yield from decode(data, offset)


#: The markers again, for files that hold more than a signature reports (``MAX_OFFSETS``):
#: decoys in front must not push the payload out of reach. Tables of escaped bytes hold
#: thousands; the places read past the reported ones are bounded.
MAX_MORE_MARKS = 200
_MORE_MARKS = {
    "reversed_literal": re.compile(
        rb"""["'`]\s*\[::-1\]|["'`]\s*\.split\(\s*["'`]{2}\s*\)\s*\.reverse\("""
    ),
    "escaped_literal": re.compile(rb"""["'`](?:\\x[0-9a-fA-F]{2}|\\u00[0-9a-fA-F]{2}){4}"""),
    "char_code_literal": re.compile(
        rb"fromCharCode\s*\(\s*\d|\bmap\s*\(\s*chr\s*,|\bbytes\s*\(\s*\[\s*\d"
        rb"|chr\s*\(\s*\d{1,3}\s*\)\s*\+\s*chr\s*\("
    ),
}


def _marks(data: bytes, hit: SignatureHit) -> Iterator[int]:
    yield from (offset for offset, _ in hit.offsets)
    more = _MORE_MARKS.get(hit.rule)
    if more is None or len(hit.offsets) < MAX_OFFSETS:
        return
    after = hit.offsets[-1][0] + 1
    for count, match in enumerate(more.finditer(data, after)):
        if count >= MAX_MORE_MARKS:
            return
        yield match.start()


def revealed(
    data: bytes,
    kind: str,
    hits: tuple[SignatureHit, ...],
    scan: Callable[[bytes], tuple[SignatureHit, ...]],
) -> tuple[SignatureHit, ...]:
    """The signature hits of the decoded strings of ``data`` that its own text lacks
    (``hits``), each at its literal; and, when one of them is active, the obfuscation
    technique that hid it."""
    seen = {hit.rule for hit in hits}
    pieces: list[Hidden] = []
    size = 0
    for hidden in hidden_strings(data, hits, kind):
        if size + len(hidden.text) > MAX_DECODED:
            continue  # a whole file read another way does not crowd out the literals after it
        if pieces and pieces[-1].offset <= hidden.offset < pieces[-1].offset + pieces[-1].length:
            continue  # a mark inside the literal just decoded (a chain of chr() calls)
        pieces.append(hidden)
        size += len(hidden.text) + len(_SEPARATOR)
    if not pieces:
        return ()
    # pieces apart by more lines than any rule spans: no match joins two of them
    encoded = [piece.text.encode("utf-8", "surrogatepass") for piece in pieces]
    separator = _SEPARATOR.encode()
    text = separator.join(encoded)
    ends, end = [], -len(separator)  # where each piece ends in ``text``
    for part in encoded:
        end += len(separator) + len(part)
        ends.append(end)
    found: dict[str, SignatureHit] = {}
    hiding: Hidden | None = None
    for hit in scan(text):
        if hit.rule in seen or hit.rule in found or not hit.offsets or hit.capability == "decoder":
            continue
        piece = pieces[min(bisect_left(ends, hit.offsets[0][0]), len(pieces) - 1)]
        spelling = _SPELLINGS.get(piece.encoding)
        if hiding is None and hit.capability in ACTIVE and spelling is not None:
            hiding = piece
        if hit.indicator in _SPELLED_AS_WRITTEN:
            continue
        found[hit.rule] = replace(
            hit,
            label=f"{hit.label} (hidden in {spelling})"
            if spelling
            else f"{hit.label} (through {piece.encoding})",
            offsets=((piece.offset, piece.length),),
        )
    unveiled = list(found.values())
    if hiding is not None:
        unveiled.append(
            SignatureHit(
                HIDDEN_CODE_RULE,
                "obfuscated_code_rule",
                "obfuscation",
                HIDDEN_CODE_WEIGHT,
                f"code hidden in {_SPELLINGS[hiding.encoding]}",
                ((hiding.offset, hiding.length),),
            )
        )
    return tuple(unveiled)
