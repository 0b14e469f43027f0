"""Zip reading: members from the entries `zipformat` finds, checked before they are read.

`zipfile` is not used: it builds an object per entry before anything can be checked, trusts
declared sizes, and accepts entries that share data (the "non-recursive zip bomb", where
thousands of central-directory entries point into one highly compressed kernel). Here
overlapping entries are detected from their byte spans, a member declaring a bomb's ratio is
not inflated, and the others are inflated in bounded chunks by `streams.Inflater`.
"""

from __future__ import annotations

import lzma
import stat
import struct
import zlib
from dataclasses import dataclass

from threatfeed.archives import names
from threatfeed.archives.state import Session
from threatfeed.archives.streams import SMALL_OUTPUT, Filters, Inflater, inflate_prefix
from threatfeed.archives.zipformat import (
    LOCAL,
    LOCAL_SIGNATURE,
    CorruptZip,
    Directory,
    Entry,
    read_directory,
    walk_local_headers,
)

_DEFLATE = 8
_LZMA = 14
_CODECS = {_DEFLATE: "deflate", 12: "bzip2", 95: "xz"}
_LZMA_MIN_DICTIONARY = 4096
_ENCRYPTED = 0x1
_MAX_LINK_TARGET = 4096


@dataclass(frozen=True)
class _Span:
    header: int
    start: int
    end: int
    local_name: bytes


class _ZipReader:
    def __init__(self, session: Session, view: memoryview, prefix: str, depth: int) -> None:
        self.session = session
        self.view = view
        self.prefix = prefix
        self.depth = depth
        self.label = prefix[:-2] if prefix else "zip"
        self.data_end = len(view)

    def error(self, message: str) -> None:
        self.session.error(f"{self.label}: {message}")

    def directory(self) -> Directory:
        """The central directory's entries; if it cannot be read at all, the local headers'."""
        try:
            return read_directory(self.view, self.session)
        except CorruptZip as exc:
            walked = walk_local_headers(self.view, self.session)
            if walked.entries:
                walked.error = (
                    f"{exc}; {len(walked.entries)} entries recovered from local headers"
                    + (f", then {walked.error}" if walked.error else "")
                )
                return walked
            detail = f"; no entries recovered: {walked.error}" if walked.error else ""
            return Directory([], len(self.view), error=f"{exc}{detail}")

    def span(self, entry: Entry) -> _Span:
        view, header = self.view, entry.offset
        if view[header : header + 4] != LOCAL_SIGNATURE or header + LOCAL.size > len(view):
            raise CorruptZip(f"no local header at offset {header}")
        fields = LOCAL.unpack_from(view, header)
        name_start = header + LOCAL.size
        start = name_start + fields[9] + fields[10]
        end = start + entry.compressed
        if end > self.data_end:
            raise CorruptZip("member data runs past the end of the data (truncated)")
        return _Span(header, start, end, bytes(view[name_start : name_start + fields[9]]))

    def spans(self, entries: list[Entry]) -> dict[int, _Span | str]:
        """Each entry's bytes, or why they cannot be read; entries whose bytes overlap an
        earlier entry's are left out and reported once as a bomb."""
        located: dict[int, _Span | str] = {}
        for index, entry in enumerate(entries):
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
        found = self.directory()
        self.data_end = found.data_end
        if found.error:
            self.error(found.error)
        located = self.spans(found.entries)
        for index, entry in enumerate(found.entries):
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
        if found.too_many:
            self.session.too_many_members(self.label)

    def entry(self, entry: Entry, span: _Span, path: str, name: str) -> None:
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

    def inflater(self, entry: Entry, compressed: memoryview) -> Inflater | str:
        """A decompressor for the member, or why none can be made."""
        if entry.method != _LZMA:
            return Inflater(compressed, _CODECS[entry.method], self.session)
        filters = _lzma_filters(compressed, entry.size)
        if filters is None:
            return "corrupt lzma header"
        header, chain = filters
        return Inflater(compressed[header:], "lzma", self.session, filters=chain)

    def content(self, entry: Entry, span: _Span, path: str, keep: int) -> bytes | None:
        """The first `keep` bytes of a member, or None when its method cannot be read."""
        compressed = self.view[span.start : span.end]
        cause: str | None = None
        if entry.method == 0:
            data = bytes(compressed[:keep])
            self.session.produce(len(data))
            overflow = len(compressed) > entry.size
        elif entry.method == _DEFLATE and keep < SMALL_OUTPUT:
            out, cause = inflate_prefix(compressed, keep + 1, self.session)
            data = out[:keep]
            overflow = keep == entry.size and len(out) > keep
        elif entry.method in _CODECS or entry.method == _LZMA:
            source = self.inflater(entry, compressed)
            if isinstance(source, str):
                self.error(f"{path}: {source} (skipped)")
                return None
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


def _lzma_filters(compressed: memoryview, size: int) -> tuple[int, Filters] | None:
    """The header length and filter chain of a zip LZMA member (APPNOTE 5.8.8), or None.

    The header carries the LZMA properties byte and a dictionary size the archive chooses;
    the dictionary is capped at the member's declared size, which no valid stream needs to
    exceed, so a hostile header cannot make the decoder reserve gigabytes.
    """
    if len(compressed) < 9:
        return None
    _version, length = struct.unpack_from("<HH", compressed)
    if length != 5:
        return None
    properties, dictionary = struct.unpack_from("<BI", compressed, 4)
    if properties >= 9 * 5 * 5:
        return None
    pb, rest = divmod(properties, 45)
    lp, lc = divmod(rest, 9)
    dictionary = max(_LZMA_MIN_DICTIONARY, min(dictionary, size))
    chain = [{"id": lzma.FILTER_LZMA1, "dict_size": dictionary, "lc": lc, "lp": lp, "pb": pb}]
    return 4 + length, chain
