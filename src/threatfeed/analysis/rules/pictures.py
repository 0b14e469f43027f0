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
from typing import NamedTuple

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import RUNNING, Package, SourceFile
from threatfeed.analysis.rules.base import file_signal, indicator, signal_at

PNG_START = b"\x89PNG\r\n\x1a\n"
_PNG_CHUNK = struct.Struct(">I4s")
#: Chunks walked before a PNG is given up on (a 10 MB picture has about 1,300).
MAX_PNG_CHUNKS = 100_000
JPEG_START = b"\xff\xd8\xff"
#: A marker inside entropy-coded data: ``FF`` not followed by a stuffed zero or a restart.
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
#: Segments walked before a JPEG is given up on (real files have a few dozen).
MAX_JPEG_SEGMENTS = 4096
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
    reporting, or a JPEG tail that is a second image or binary vendor data)."""
    if data.startswith(PNG_START):
        end = _png_end(data)
        if end is None or data.startswith(PNG_START, end):
            return None
        return _tail(data, end, require_payload=False)
    if data.startswith(JPEG_START):
        end = _jpeg_end(data)
        if end is None or data.startswith(JPEG_START, end):
            return None
        return _tail(data, end, require_payload=True)
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


def _png_end(data: bytes) -> int | None:
    """The offset just past the PNG's end chunk, walking its chunks: a preview picture kept
    inside a chunk (as some editors store one) has an end chunk of its own."""
    position = len(PNG_START)
    for _ in range(MAX_PNG_CHUNKS):
        if len(data) < position + _PNG_CHUNK.size + 4:
            return None
        length: int
        kind: bytes
        length, kind = _PNG_CHUNK.unpack_from(data, position)
        position += _PNG_CHUNK.size + length + 4  # the chunk's data and CRC
        if kind == b"IEND":
            return position
    return None


def _jpeg_end(data: bytes) -> int | None:
    """The offset just past the JPEG's end-of-image marker, walking its segments (an
    embedded thumbnail has an end marker of its own, inside its segment)."""
    position = 2
    for _ in range(MAX_JPEG_SEGMENTS):
        if data[position : position + 1] != b"\xff":
            return None
        marker = data[position + 1 : position + 2]
        if marker == b"\xd9":
            return position + 2
        if marker == b"\xff":
            position += 1  # fill byte
            continue
        if marker in {b"\x01", *(bytes([m]) for m in range(0xD0, 0xD8))}:
            position += 2  # markers without a length
            continue
        if len(data) < position + 4:
            return None
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        if marker == b"\xda":  # start of scan: coded data up to the next marker
            found = _JPEG_MARKER.search(data, position)
            if found is None:
                return None
            position = found.start()
    return None


def _loader(source: SourceFile, name: bytes) -> Signal | None:
    offset = source.data.find(name)
    if offset < 0:
        return None
    return signal_at(source, offset, len(name), LOADER_WEIGHT, "picture_loader", "decode_exec")


def picture_payload_rule(package: Package) -> Indicator | None:
    """A PNG or JPEG picture with data appended after its end (a payload where no viewer
    looks), and the running code of the package that names that picture (its loader).

    Evidence: ``[{"file": str, "appended_bytes": int, "looks_like": str, "read_by": [str]}]``;
    ``looks_like`` is ``text``, ``binary data`` (PNG only), or the executable, archive or
    compressed format the tail starts with.
    """
    carriers = [
        (picture, found)
        for picture in package.files
        if not picture.is_code
        and picture.data.startswith((PNG_START, JPEG_START))
        and (found := appended(picture.data)) is not None
    ]
    if not carriers:
        return None  # nearly every package: the code is not searched
    code = [
        source
        for source in package.files
        if source.is_code and source.context in RUNNING and source.kind != "shell"
    ]
    evidence = []
    signals: list[Signal] = []
    for picture, found in carriers:
        name = picture.rel.rpartition("/")[2].encode()
        loaders = [
            (source, signal) for source in code if (signal := _loader(source, name)) is not None
        ]
        evidence.append(
            {
                "file": picture.path,
                "appended_bytes": len(picture.data) - found.offset,
                "looks_like": found.looks_like,
                "read_by": [source.path for source, _ in loaders][:10],
            }
        )
        signals.append(file_signal(picture, PICTURE_WEIGHT, "picture_payload", "obfuscation"))
        signals.extend(signal for _, signal in loaders)
    return indicator("picture_payload_rule", evidence[:20], signals)
