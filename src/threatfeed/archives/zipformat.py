"""The zip format's records: where the entries are, from the central directory or, when that
is missing or damaged (a truncated download), from the local headers walked one by one.

Every offset and size read here is checked against the data before it is used; the entry
count is bounded while parsing, before any per-entry object exists.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from threatfeed.archives.state import Session
from threatfeed.archives.streams import Inflater
from threatfeed.errors import ThreatfeedError

_END = struct.Struct("<4s4H2LH")
_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
LOCAL = struct.Struct("<4s5H3L2H")
_EXTRA = struct.Struct("<HH")
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<L")

_END_SIGNATURE = b"PK\x05\x06"
_LOCATOR_SIGNATURE = b"PK\x06\x07"
_END64_SIGNATURE = b"PK\x06\x06"
_CENTRAL_SIGNATURE = b"PK\x01\x02"
LOCAL_SIGNATURE = b"PK\x03\x04"
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"

_UNIX = 3
_FULL = 0xFFFFFFFF
_HAS_DESCRIPTOR = 0x8
_DEFLATE = 8
_SIGNATURES = (LOCAL_SIGNATURE, _CENTRAL_SIGNATURE, _END_SIGNATURE)


class CorruptZip(ThreatfeedError):
    """Structural damage: the rest of the directory (or one member) cannot be read."""


@dataclass(frozen=True)
class Entry:
    """What the central directory (or a local header) says about one member."""

    name: bytes
    flags: int
    method: int
    crc: int
    compressed: int
    size: int
    offset: int
    mode: int


@dataclass
class Directory:
    """The entries found, where the member data must end, and why parsing stopped early."""

    entries: list[Entry]
    data_end: int
    too_many: bool = False
    error: str | None = None


def _zip64_values(extra: memoryview, size: int, compressed: int, offset: int) -> list[int]:
    """Sizes and offset, with the 0xFFFFFFFF placeholders replaced from the zip64 extra field."""
    values = [size, compressed, offset]
    position = 0
    while position + _EXTRA.size <= len(extra):
        tag, length = _EXTRA.unpack_from(extra, position)
        field = extra[position + _EXTRA.size : position + _EXTRA.size + length]
        position += _EXTRA.size + length
        if tag != 1:
            continue
        cursor = 0
        for index, value in enumerate(values):
            if value == _FULL:
                if cursor + _U64.size > len(field):
                    raise CorruptZip("zip64 extra field is too short")
                values[index] = _U64.unpack_from(field, cursor)[0]
                cursor += _U64.size
        break
    return values


def _find_end_record(view: bytes | memoryview) -> int:
    """The offset of the end of central directory record (-1 if there is none): the last
    signature in the final 64 KiB that leaves room for the record, as zipfile looks for it."""
    tail_start = max(0, len(view) - _END.size - 0xFFFF)
    found = bytes(view[tail_start : len(view) - _END.size + 4]).rfind(_END_SIGNATURE)
    return found if found < 0 else tail_start + found


def has_end_record(view: bytes | memoryview) -> bool:
    return _find_end_record(view) >= 0


def _directory_bounds(view: memoryview) -> tuple[int, int, int]:
    """Where the central directory starts and ends, and how many bytes precede the zip
    proper (a self-extracting stub, or junk: zipfile reads past it, so must we)."""
    end = _find_end_record(view)
    if end < 0:
        raise CorruptZip("no end of central directory record (truncated or not a zip)")
    _, disk, directory_disk, _, _, size, offset, _ = _END.unpack_from(view, end)
    directory_end = end
    locator = end - _LOCATOR.size
    if (size == _FULL or offset == _FULL) and view[locator : locator + 4] == _LOCATOR_SIGNATURE:
        directory_end = locator - _END64.size
        if directory_end < 0 or view[directory_end : directory_end + 4] != _END64_SIGNATURE:
            raise CorruptZip("zip64 end of central directory record is missing")
        fields = _END64.unpack_from(view, directory_end)
        disk, directory_disk, size, offset = fields[4], fields[5], fields[8], fields[9]
    if disk or directory_disk:
        raise CorruptZip("multi-disk zip archives are not supported")
    start = directory_end - size
    if start < 0 or start < offset:
        raise CorruptZip("the central directory lies outside the data")
    return start, directory_end, start - offset


def read_directory(view: memoryview, session: Session) -> Directory:
    """The entries of the central directory, at most as many as the session has room for."""
    start, end, shift = _directory_bounds(view)
    directory = Directory([], start)
    entries, room, position = directory.entries, session.entries_left(), start
    try:
        while position < end:
            if view[position : position + 4] != _CENTRAL_SIGNATURE:
                raise CorruptZip(f"corrupt central directory entry at offset {position}")
            if len(entries) >= room:
                directory.too_many = True
                break
            if position + _CENTRAL.size > end:
                raise CorruptZip(f"truncated central directory entry at offset {position}")
            fields = _CENTRAL.unpack_from(view, position)
            name_start = position + _CENTRAL.size
            extra_start = name_start + fields[10]
            position = extra_start + fields[11] + fields[12]
            if position > end:
                raise CorruptZip(f"truncated central directory entry at offset {name_start}")
            size, compressed, offset = _zip64_values(
                view[extra_start : extra_start + fields[11]], fields[9], fields[8], fields[16]
            )
            mode = fields[15] >> 16 if fields[1] >> 8 == _UNIX else 0
            name = bytes(view[name_start:extra_start])
            entries.append(
                Entry(name, fields[3], fields[4], fields[7], compressed, size, offset + shift, mode)
            )
            if len(entries) % 4096 == 0:
                session.check_time()
    except CorruptZip as exc:
        directory.error = str(exc)
    return directory


def _descriptor(view: memoryview, end: int) -> tuple[int, int, int]:
    """The CRC and size in the data descriptor after a member's data, and where the next
    record starts (descriptors come with or without a signature, with 32 or 64-bit sizes)."""
    start = end + 4 if view[end : end + 4] == _DESCRIPTOR_SIGNATURE else end
    if start + 12 > len(view):
        raise CorruptZip(f"truncated data descriptor at offset {end}")
    crc = _U32.unpack_from(view, start)[0]
    for after, size in ((start + 12, _U32), (start + 20, _U64)):
        if after == len(view) or view[after : after + 4] in _SIGNATURES:
            return crc, size.unpack_from(view, after - size.size)[0], after
    raise CorruptZip(f"no record after the data descriptor at offset {end}")


def _deflate_length(view: memoryview, start: int, session: Session) -> int:
    """How many bytes the deflate stream at `start` takes: found by inflating it (within the
    session's budget), as local headers followed by a data descriptor do not say."""
    stream = Inflater(view[start:], "deflate", session)
    while stream.skip(2**30) == 2**30:
        pass
    if stream.error is not None or stream.consumed is None:
        raise CorruptZip(f"member data at offset {start} does not end ({stream.error})")
    return stream.consumed


def _stored_length(data: bytes, start: int, header: int) -> int:
    """How long stored data followed by a data descriptor is: up to the first descriptor
    signature whose compressed size field says so."""
    found = data.find(_DESCRIPTOR_SIGNATURE, start)
    while 0 <= found <= len(data) - 12:
        if _U32.unpack_from(data, found + 8)[0] == found - start:
            return found - start
        found = data.find(_DESCRIPTOR_SIGNATURE, found + 1)
    raise CorruptZip(f"member at offset {header} has no size and no data descriptor")


def walk_local_headers(view: memoryview, session: Session) -> Directory:
    """The entries found by walking local headers from the first one, for a zip whose central
    directory cannot be read; stops at the first record that is not a whole local entry."""
    data = bytes(view)
    position = data.find(LOCAL_SIGNATURE)
    directory = Directory([], len(view))
    entries, room = directory.entries, session.entries_left()
    try:
        while position >= 0 and view[position : position + 4] == LOCAL_SIGNATURE:
            if len(entries) >= room:
                directory.too_many = True
                break
            if position + LOCAL.size > len(view):
                raise CorruptZip(f"truncated local header at offset {position}")
            fields = LOCAL.unpack_from(view, position)
            flags, method, crc = fields[2], fields[3], fields[6]
            name_start = position + LOCAL.size
            extra_start = name_start + fields[9]
            start = extra_start + fields[10]
            size, compressed, _ = _zip64_values(view[extra_start:start], fields[8], fields[7], 0)
            if flags & _HAS_DESCRIPTOR:
                if method == _DEFLATE:
                    compressed = _deflate_length(view, start, session)
                else:
                    compressed = _stored_length(data, start, position)
                crc, size, following = _descriptor(view, start + compressed)
            else:
                following = start + compressed
            if start + compressed > len(view):
                raise CorruptZip(f"member at offset {position} is truncated")
            name = bytes(view[name_start:extra_start])
            entries.append(Entry(name, flags, method, crc, compressed, size, position, 0))
            position = following
    except CorruptZip as exc:
        directory.error = str(exc)
    return directory
