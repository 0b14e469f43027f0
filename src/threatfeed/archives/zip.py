"""Zip reading from the central directory, with every offset and size checked against the data.

`zipfile` is not used: it builds an object per entry before anything can be checked, trusts
declared sizes, and accepts entries that share data (the "non-recursive zip bomb", where
thousands of central-directory entries point into one highly compressed kernel). Here the
entry count is bounded while the directory is parsed, overlapping entries are detected from
their byte spans, and members are decompressed in bounded chunks by `streams.Inflater`.
"""

from __future__ import annotations

import stat
import struct
import zlib
from dataclasses import dataclass

from threatfeed.archives import names
from threatfeed.archives.state import Session
from threatfeed.archives.streams import Inflater
from threatfeed.errors import ThreatfeedError

_END = struct.Struct("<4s4H2LH")
_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")
_EXTRA = struct.Struct("<HH")
_U64 = struct.Struct("<Q")

_END_SIGNATURE = b"PK\x05\x06"
_LOCATOR_SIGNATURE = b"PK\x06\x07"
_END64_SIGNATURE = b"PK\x06\x06"
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_LOCAL_SIGNATURE = b"PK\x03\x04"

_CODECS = {8: "deflate", 12: "bzip2"}
_UNIX = 3
_ENCRYPTED = 0x1
_FULL = 0xFFFFFFFF
_MAX_LINK_TARGET = 4096


class CorruptZip(ThreatfeedError):
    """Structural damage: the rest of the directory (or one member) cannot be read."""


@dataclass(frozen=True)
class _Entry:
    name: bytes
    flags: int
    method: int
    crc: int
    compressed: int
    size: int
    offset: int
    mode: int


@dataclass(frozen=True)
class _Span:
    header: int
    start: int
    end: int
    local_name: bytes


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


class _ZipReader:
    def __init__(self, session: Session, view: memoryview, prefix: str, depth: int) -> None:
        self.session = session
        self.view = view
        self.prefix = prefix
        self.depth = depth
        self.label = prefix[:-2] if prefix else "zip"
        self.entries: list[_Entry] = []
        self.directory_start = 0
        self.directory_end = 0
        self.too_many = False

    def error(self, message: str) -> None:
        self.session.error(f"{self.label}: {message}")

    def end_record(self) -> tuple[int, int]:
        """Where the central directory starts, and how many bytes precede the zip proper."""
        view = self.view
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
        self.directory_end = directory_end
        return start, start - offset

    def read_directory(self) -> None:
        start, shift = self.end_record()
        self.directory_start = start
        view = self.view
        position = start
        room = self.session.entries_left()
        end = self.directory_end
        while position < end and view[position : position + 4] == _CENTRAL_SIGNATURE:
            if len(self.entries) >= room:
                self.too_many = True
                return
            if position + _CENTRAL.size > end:
                raise CorruptZip(f"truncated central directory entry at offset {position}")
            fields = _CENTRAL.unpack_from(view, position)
            made_by, flags, method = fields[1], fields[3], fields[4]
            name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
            name_start = position + _CENTRAL.size
            extra_start = name_start + name_length
            position = extra_start + extra_length + comment_length
            if position > end:
                raise CorruptZip(f"truncated central directory entry at offset {name_start}")
            size, compressed, offset = _zip64_values(
                view[extra_start : extra_start + extra_length], fields[9], fields[8], fields[16]
            )
            mode = fields[15] >> 16 if made_by >> 8 == _UNIX else 0
            name = bytes(view[name_start:extra_start])
            self.entries.append(
                _Entry(name, flags, method, fields[7], compressed, size, offset + shift, mode)
            )
            if len(self.entries) % 4096 == 0:
                self.session.check_time()
        if position < end:
            raise CorruptZip(f"corrupt central directory entry at offset {position}")

    def span(self, entry: _Entry) -> _Span:
        view, header = self.view, entry.offset
        if view[header : header + 4] != _LOCAL_SIGNATURE or header + _LOCAL.size > len(view):
            raise CorruptZip(f"no local header at offset {header}")
        fields = _LOCAL.unpack_from(view, header)
        name_start = header + _LOCAL.size
        start = name_start + fields[9] + fields[10]
        end = start + entry.compressed
        if end > self.directory_start:
            raise CorruptZip("member data runs past the end of the data (truncated)")
        return _Span(header, start, end, bytes(view[name_start : name_start + fields[9]]))

    def spans(self) -> dict[int, _Span | str]:
        """Each entry's bytes, or why they cannot be read; entries whose bytes overlap an
        earlier entry's are left out and reported once as a bomb."""
        located: dict[int, _Span | str] = {}
        for index, entry in enumerate(self.entries):
            try:
                located[index] = self.span(entry)
            except CorruptZip as exc:
                located[index] = str(exc)
        ordered = sorted(
            (span.header, index) for index, span in located.items() if isinstance(span, _Span)
        )
        reach = 0
        overlapping = 0
        for header, index in ordered:
            span = located[index]
            assert isinstance(span, _Span)
            if header < reach:
                del located[index]
                overlapping += 1
            else:
                reach = span.end
        if overlapping:
            self.session.finding(
                "compression_bomb",
                self.label,
                f"{overlapping} zip entries overlap other entries' data "
                "(a non-recursive zip bomb); they were not read",
            )
        return located

    def run(self) -> None:
        try:
            self.read_directory()
        except CorruptZip as exc:
            self.error(str(exc))
        located = self.spans()
        for index, entry in enumerate(self.entries):
            raw = entry.name
            directory = raw.endswith((b"/", b"\\")) or stat.S_ISDIR(entry.mode)
            name, odd = names.display_name(raw.rstrip(b"/") if directory else raw)
            path = self.session.enter(self.prefix, name, odd_name=odd, directory=directory)
            span = located.get(index)
            if span is None:
                continue
            if isinstance(span, str):
                self.error(f"{path}: {span}")
                continue
            if span.local_name != raw:
                local, _ = names.display_name(span.local_name)
                self.session.finding("name_mismatch", path, f"the local header names it {local!r}")
            if not directory:
                self.entry(entry, span, path, name)
        if self.too_many:
            self.session.too_many_members(self.label)

    def entry(self, entry: _Entry, span: _Span, path: str, name: str) -> None:
        if entry.flags & _ENCRYPTED:
            self.session.finding("encrypted_member", path, "encrypted member (skipped)")
            self.error(f"{path}: encrypted member skipped")
            return
        if stat.S_ISLNK(entry.mode):
            target = self.content(entry, span, path, min(entry.size, _MAX_LINK_TARGET))
            self.session.link(path, name, target or b"", hard=False)
            return
        if stat.S_IFMT(entry.mode) in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
            self.session.finding("device", path, "device file, fifo or socket (skipped)")
            return
        limits = self.session.limits
        if entry.size > limits.ratio_floor_bytes and entry.size > limits.max_ratio * max(
            entry.compressed, 1
        ):
            self.session.finding(
                "compression_bomb",
                path,
                f"declares {entry.size} bytes from {entry.compressed} compressed "
                f"(ratio above {limits.max_ratio:g}); not read",
            )
            return
        keep = min(entry.size, limits.max_member_bytes)
        data = self.content(entry, span, path, keep)
        if data is None:
            return
        truncated = len(data) < entry.size
        if keep < entry.size:
            self.session.finding(
                "member_too_large", path, f"{entry.size} bytes; only the first {keep} were read"
            )
        elif not truncated and zlib.crc32(data) != entry.crc:
            self.error(f"{path}: CRC mismatch (corrupt member)")
        self.session.add_member(path, data, entry.size, truncated=truncated, depth=self.depth)

    def content(self, entry: _Entry, span: _Span, path: str, keep: int) -> bytes | None:
        """The first `keep` bytes of a member, or None when its method cannot be read."""
        compressed = self.view[span.start : span.end]
        cause: str | None = None
        if entry.method == 0:
            data = bytes(compressed[:keep])
            self.session.produce(len(data))
            overflow = len(compressed) > entry.size
        elif entry.method in _CODECS:
            source = Inflater(compressed, _CODECS[entry.method], self.session)
            data = source.read(keep)
            cause = source.error
            overflow = len(data) == entry.size and bool(source.read(1))
        else:
            self.error(f"{path}: unsupported compression method {entry.method} (skipped)")
            return None
        if len(data) < keep:
            self.error(f"{path}: {cause or 'the data ends early'}: {len(data)} of {keep} bytes")
        elif overflow:
            self.error(f"{path}: holds more than its declared {entry.size} bytes (cut there)")
        return data


def read_zip(session: Session, view: memoryview, prefix: str, depth: int) -> None:
    """Read the zip archive in `view`; entries count against the session's limits."""
    _ZipReader(session, view, prefix, depth).run()
