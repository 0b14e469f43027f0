"""Payloads carried inside pictures: bytes after the end of a PNG or JPEG image.

Viewers stop at the image's end marker, so whatever follows it is never seen, and
reviewers skim past binary pictures; loaders read the package's own picture, cut the tail
off and decode or run it. Benign pictures rarely carry a tail: of 2,100 PNG pictures in
benign-dev and the wider benign sample, one (pygame's docs) carries an editor's binary
leftovers, and no code reads it; JPEG pictures sometimes carry a second image (Ultra HDR
gain maps) or a vendor's binary trailer, so only a JPEG tail that reads as text, an
executable, an archive or compressed data counts. What weighs is the loader.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from itertools import islice
from typing import NamedTuple

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import RUNNING, Package, SourceFile
from threatfeed.analysis.rules.base import file_signal, indicator, signal_at

PNG_START = b"\x89PNG\r\n\x1a\n"
_PNG_CHUNK = struct.Struct(">I4s")
#: Chunks walked before a PNG's end is taken as its last end chunk (a 10 MB picture has
#: about 1,300).
MAX_PNG_CHUNKS = 100_000
#: The end chunk is always these twelve bytes: no data, so one CRC.
_PNG_END_CHUNK = b"\x00\x00\x00\x00IEND\xaeB`\x82"
JPEG_START = b"\xff\xd8\xff"
#: A marker inside entropy-coded data: ``FF`` not followed by a stuffed zero or a restart.
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
#: Segments walked before a JPEG's end is taken as its last end marker (real files have
#: a few dozen).
MAX_JPEG_SEGMENTS = 4096
_FILL = re.compile(rb"\xff+")
#: Markers that stand alone, with no length: TEM and the restarts.
_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD8)})
#: Pictures read one after the other in a file (a photo and its gain map).
MAX_PICTURES = 8
#: Carriers whose names are looked for in the code, and matches read per code file.
MAX_CARRIERS = 100
MAX_NAME_MATCHES = 10_000
#: File names read back from their extension: the longest a file system holds, of the
#: characters most names are made of.
NAME_MAX = 255
_NAME_CHARACTERS = re.compile(rb"[\w.-]*")
#: Fewer appended bytes than this hold no payload worth reporting (padding, a newline).
MIN_APPENDED = 64
#: What the tail is, by its first bytes.
_HEADERS = (
    (b"MZ", "Windows executable"),
    (b"\x7fELF", "ELF executable"),
    (b"PK\x03\x04", "zip archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"x\x01", "zlib data"),
    (b"x^", "zlib data"),
    (b"x\x9c", "zlib data"),
    (b"x\xda", "zlib data"),
)
_PRINTABLE = frozenset(range(32, 127)) | {9, 10, 13}
#: The share of printable bytes from which a tail is text (code, base64, hex).
TEXT_SHARE = 0.95
SAMPLE = 4096
#: On the picture itself: pictures count as documentation, so alone this stays low.
PICTURE_WEIGHT = 6.0
#: Code that runs and names a picture carrying a payload: the loader.
LOADER_WEIGHT = 13.0


class Appended(NamedTuple):
    """Where the bytes after a picture's end start, and what they look like."""

    offset: int
    looks_like: str


def appended(data: bytes) -> Appended | None:
    """The payload after a PNG or JPEG picture's end, or None (no picture, no tail worth
    reporting, or a JPEG tail that is binary vendor data). Pictures that follow the first
    (an Ultra HDR gain map) are walked in turn: the tail is what follows the last."""
    position = 0
    for _ in range(MAX_PICTURES):
        if data.startswith(PNG_START, position):
            end, payload_only = _png_end(data, position), False
        elif data.startswith(JPEG_START, position):
            end, payload_only = _jpeg_end(data, position), True
        else:
            return None
        if end is None:
            return None
        if not data.startswith((PNG_START, JPEG_START), end):
            return _tail(data, end, require_payload=payload_only)
        position = end
    return None


def _tail(data: bytes, end: int, *, require_payload: bool) -> Appended | None:
    if len(data) - end < MIN_APPENDED:
        return None
    tail = data[end : end + SAMPLE]
    for header, name in _HEADERS:
        if tail.startswith(header):
            return Appended(end, name)
    if sum(byte in _PRINTABLE for byte in tail) >= TEXT_SHARE * len(tail):
        return Appended(end, "text")
    return None if require_payload else Appended(end, "binary data")


def _png_end(data: bytes, start: int) -> int | None:
    """The offset just past the PNG's end chunk, walking its chunks: a preview picture kept
    inside a chunk (as some editors store one) has an end chunk of its own. A PNG of more
    chunks than the walk takes ends at its last end chunk."""
    position = start + len(PNG_START)
    for _ in range(MAX_PNG_CHUNKS):
        if len(data) < position + _PNG_CHUNK.size + 4:
            return None
        length: int
        kind: bytes
        length, kind = _PNG_CHUNK.unpack_from(data, position)
        position += _PNG_CHUNK.size + length + 4  # the chunk's data and CRC
        if kind == b"IEND":
            return position
    last = data.rfind(_PNG_END_CHUNK, position)
    return None if last < 0 else last + len(_PNG_END_CHUNK)


def _jpeg_end(data: bytes, start: int) -> int | None:
    """The offset just past the JPEG's end-of-image marker, walking its segments (an
    embedded thumbnail has an end marker of its own, inside its segment). A JPEG of more
    segments than the walk takes ends at its last end marker."""
    position = start + 2
    for _ in range(MAX_JPEG_SEGMENTS):
        fill = _FILL.match(data, position)
        if fill is None or fill.end() >= len(data):
            return None
        position = fill.end() - 1  # fill bytes before the marker, however many
        marker = data[position + 1]
        if marker == 0xD9:
            return position + 2
        if marker in _NO_LENGTH:
            position += 2
            continue
        if len(data) < position + 4:
            return None
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        if marker == 0xDA:  # start of scan: coded data up to the next marker
            found = _JPEG_MARKER.search(data, position)
            if found is None:
                return None
            position = found.start()
    last = data.rfind(b"\xff\xd9", position)
    return None if last < 0 else last + 2


class _Names(NamedTuple):
    """The carriers' names as ``_mentions`` looks for them, sorted out once per package:
    names of the usual characters by their extension (``endings``), or whole (``other``)."""

    plain: frozenset[bytes]
    endings: frozenset[bytes]
    other: tuple[bytes, ...]


def _sorted_out(names: list[bytes]) -> _Names:
    plain = frozenset(name for name in names if _NAME_CHARACTERS.fullmatch(name))
    endings = frozenset(name[name.rfind(b".") :] for name in plain if b"." in name)
    other = (*sorted(set(names) - plain)[:MAX_CARRIERS], *sorted(n for n in plain if b"." not in n))
    return _Names(plain, endings, other)


def _mentions(data: bytes, names: _Names) -> Iterator[tuple[bytes, int]]:
    """Each of the names mentioned in ``data``, with its first offset: the extensions are
    found with ``bytes.find`` and the name read back from each (a pattern of every name
    would try each at every byte); the other names are found whole."""
    for name in names.other:
        if (offset := data.find(name)) >= 0:
            yield name, offset
    seen: set[bytes] = set()
    for ending in names.endings:
        position = 0
        for _ in range(MAX_NAME_MATCHES):
            at = data.find(ending, position)
            if at < 0:
                break
            position = at + len(ending)
            before = data[max(0, at - NAME_MAX) : at][::-1]
            lead = _NAME_CHARACTERS.match(before)
            name = (lead.group(0)[::-1] if lead else b"") + ending
            if name in names.plain and name not in seen:
                seen.add(name)
                yield name, at - len(name) + len(ending)


def _loaders(code: list[SourceFile], names: list[bytes]) -> dict[bytes, list[Signal]]:
    """For each picture name, a signal at its first mention in each code file."""
    found: dict[bytes, list[Signal]] = {name: [] for name in names}
    looked_for = _sorted_out(names)
    for source in code:
        for name, offset in _mentions(source.data, looked_for):
            found[name].append(
                signal_at(source, offset, len(name), LOADER_WEIGHT, "picture_loader", "decode_exec")
            )
    return found


def picture_payload_rule(package: Package) -> Indicator | None:
    """A PNG or JPEG picture with data appended after its end (a payload where no viewer
    looks), and the running code of the package that names that picture (its loader).

    Evidence: ``[{"file": str, "appended_bytes": int, "looks_like": str, "read_by": [str]}]``;
    ``looks_like`` is ``text``, ``binary data`` (PNG only), or the executable, archive or
    compressed format the tail starts with.
    """
    carriers = list(
        islice(
            (
                (picture, found)
                for picture in package.files
                if not picture.is_code and (found := appended(picture.data)) is not None
            ),
            MAX_CARRIERS,
        )
    )
    if not carriers:
        return None  # nearly every package: the code is not searched
    code = [
        source
        for source in package.files
        if source.is_code and source.context in RUNNING and source.kind != "shell"
    ]
    names = [picture.rel.rpartition("/")[2].encode() for picture, _ in carriers]
    loaders = _loaders(code, names)
    evidence = []
    signals: list[Signal] = []
    for (picture, found), name in zip(carriers, names, strict=True):
        evidence.append(
            {
                "file": picture.path,
                "appended_bytes": len(picture.data) - found.offset,
                "looks_like": found.looks_like,
                "read_by": [signal.file for signal in loaders[name]][:10],
            }
        )
        signals.append(file_signal(picture, PICTURE_WEIGHT, "picture_payload", "obfuscation"))
        signals.extend(loaders[name])
    return indicator("picture_payload_rule", evidence[:20], signals)
