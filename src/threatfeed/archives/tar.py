"""Tar reading, header by header, from a forward-only source.

`tarfile` is not used to read: it reads pax and GNU long-name headers whole, whatever size they
declare, and its header parser costs more than the rest of a scan. The header format follows
`tarfile.TarInfo.frombuf` (so names are what pip's extraction would see: ustar prefixes
joined, old-style directories with a trailing slash), with its constants; pax and GNU
long-name headers are bounded by `Limits.max_header_bytes` and member data by
`Limits.max_member_bytes`. Data follows regular files and unknown types only, as in tarfile.
"""

from __future__ import annotations

import struct
import tarfile
import zlib
from dataclasses import dataclass

from threatfeed.archives import names
from threatfeed.archives.state import Session
from threatfeed.archives.streams import Source
from threatfeed.errors import ThreatfeedError

BLOCK = 512
_END_BLOCK = bytes(BLOCK)
_SIGNED = struct.Struct("148b8x356b")

_REGULAR = frozenset({tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE, tarfile.GNUTYPE_SPARSE})
_DEVICES = {
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "fifo",
}
_KNOWN = frozenset(tarfile.SUPPORTED_TYPES)
_GNU = frozenset(tarfile.GNU_TYPES)
_PAX_LOCAL = frozenset({tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE})
_EXTENSIONS = _PAX_LOCAL | {
    tarfile.XGLTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
}


_MAX_EXTENSIONS = 16
"""Extended headers (pax, GNU long names) before one entry: real tars have up to four."""


class CorruptTar(ThreatfeedError):
    """A header that cannot be parsed: reading this tar stops there."""


@dataclass(frozen=True, slots=True)
class Header:
    name: bytes
    linkname: bytes
    size: int
    type: bytes


def _text(field: bytes) -> bytes:
    return field.partition(b"\0")[0]


def _number(field: bytes) -> int:
    """An octal number, or GNU's base-256 for big values (a negative one is corrupt)."""
    if field[:1] == b"\x80":
        return int.from_bytes(field[1:], "big")
    if field[:1] == b"\xff":
        raise CorruptTar("negative number")
    text = _text(field).strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise CorruptTar(f"invalid number {text!r}") from None


def _checksum_matches(block: bytes, checksum: int) -> bool:
    """Whether the header's bytes (its checksum field read as spaces) add up to `checksum`.

    The sum is taken modulo 65521 from Adler-32, ten times faster than `sum()` in Python: a
    header can only pass with a wrong checksum if crafted to, and tarfile (so pip) would refuse
    that archive outright, so reading it anyway loses nothing. Old tars summed signed bytes.
    """
    expected = checksum - 256 + sum(block[148:156])
    if (
        0 <= expected <= 255 * BLOCK
        and ((zlib.adler32(block) & 0xFFFF) - 1 - expected) % 65521 == 0
    ):
        return True
    signed: int = sum(_SIGNED.unpack_from(block))
    return checksum == signed + 256


def parse_header(block: bytes) -> Header | None:
    """The header in a 512-byte `block`, or None for an end-of-archive (all zero) block."""
    if block == _END_BLOCK:
        return None
    if not _checksum_matches(block, _number(block[148:156])):
        raise CorruptTar("bad checksum")
    kind = block[156:157]
    name = _text(block[:100])
    if kind == tarfile.AREGTYPE and name.endswith(b"/"):
        kind = tarfile.DIRTYPE
    prefix = _text(block[345:500])
    if prefix and kind not in _GNU:
        name = prefix + b"/" + name
    return Header(name, _text(block[157:257]), _number(block[124:136]), kind)


def looks_like_tar(block: bytes) -> bool:
    if len(block) != BLOCK:
        return False
    try:
        parse_header(block)
    except CorruptTar:
        return False
    return True


def parse_pax(payload: bytes) -> dict[bytes, bytes]:
    """Records "<length> <key>=<value>\\n" of a pax extended header."""
    records: dict[bytes, bytes] = {}
    position = 0
    while position < len(payload) and payload[position] != 0:
        space = payload.find(b" ", position, position + 24)
        try:
            length = int(payload[position:space]) if space > position else 0
        except ValueError:
            length = 0
        end = position + length
        if length <= space - position or end > len(payload) or payload[end - 1] != 0x0A:
            raise CorruptTar(f"malformed pax record at byte {position}")
        key, equals, value = payload[space + 1 : end - 1].partition(b"=")
        if not equals:
            raise CorruptTar(f"malformed pax record at byte {position}")
        records[key] = value
        position = end
    return records


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


class _TarReader:
    def __init__(self, session: Session, source: Source, prefix: str, depth: int) -> None:
        self.session = session
        self.source = source
        self.prefix = prefix
        self.depth = depth
        self.label = prefix[:-2] if prefix else "tar"
        self.global_pax: dict[bytes, bytes] = {}
        self.pending: dict[bytes, bytes] = {}
        self.extensions = 0

    def fail(self, message: str) -> None:
        cause = self.source.error
        self.session.error(f"{self.label}: {message}" + (f" ({cause})" if cause else ""))

    def run(self, block: bytes) -> None:
        while True:
            offset = self.source.position - len(block)
            if len(block) < BLOCK:
                if block or self.source.error:
                    self.fail(f"truncated tar header at offset {offset}")
                return
            try:
                info = parse_header(block)
                if info is None:
                    return
                if not self.entry(info, offset):
                    return
            except CorruptTar as exc:
                self.fail(f"corrupt tar header at offset {offset}: {exc}")
                return
            block = self.source.read(BLOCK)

    def payload(self, size: int, what: str, offset: int) -> bytes | None:
        if size > self.session.limits.max_header_bytes:
            message = (
                f"{what} header at offset {offset} declares {size} bytes "
                f"(limit {self.session.limits.max_header_bytes}); reading stopped"
            )
            self.session.finding("huge_header", self.label, message)
            self.session.error(f"{self.label}: {message}")
            return None
        data = self.source.read(size)
        if len(data) < size or self.source.skip(_padded(size) - size) < _padded(size) - size:
            self.fail(f"truncated {what} header at offset {offset}")
            return None
        return data

    def entry(self, info: Header, offset: int) -> bool:
        """Handle one header and its data; False when reading must stop."""
        kind = info.type
        if kind in _EXTENSIONS:
            self.extensions += 1
            if self.extensions > _MAX_EXTENSIONS:
                raise CorruptTar(f"more than {_MAX_EXTENSIONS} extended headers in a row")
            what = "pax" if kind in _PAX_LOCAL or kind == tarfile.XGLTYPE else "GNU long name"
            payload = self.payload(info.size, what, offset)
            if payload is None:
                return False
            if kind == tarfile.XGLTYPE:
                self.global_pax.update(parse_pax(payload))
            elif kind in _PAX_LOCAL:
                self.pending.update(parse_pax(payload))
            elif kind == tarfile.GNUTYPE_LONGNAME:
                self.pending[b"path"] = payload.split(b"\0", 1)[0]
            else:
                self.pending[b"linkpath"] = payload.split(b"\0", 1)[0]
            return True
        overrides = {**self.global_pax, **self.pending}
        self.pending = {}
        self.extensions = 0
        raw_name = overrides.get(b"GNU.sparse.name") or overrides.get(b"path") or info.name
        size = info.size
        if b"size" in overrides:
            text = overrides[b"size"]
            if not text.isdigit():
                raise CorruptTar(f"pax size {text!r} is not a number")
            size = int(text)
        directory = kind == tarfile.DIRTYPE
        if directory:
            raw_name = raw_name.rstrip(b"/")
        name, odd = names.display_name(raw_name)
        path = self.session.enter(self.prefix, name, odd_name=odd, directory=directory)
        if kind in _REGULAR or kind not in _KNOWN:
            if kind not in _KNOWN:
                self.session.finding(
                    "unknown_member_type", path, f"tar type {kind!r}, read as a regular file"
                )
            return self.member(path, size)
        if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
            target = overrides.get(b"linkpath") or info.linkname
            self.session.link(path, name, target, hard=kind == tarfile.LNKTYPE)
        elif kind in _DEVICES:
            self.session.finding("device", path, f"{_DEVICES[kind]} (skipped)")
        return True

    def member(self, path: str, size: int) -> bool:
        """Keep the first bytes of a member (before passing over the rest, which may hit a
        limit: a bomb's member is then still there to judge)."""
        keep = min(size, self.session.limits.max_member_bytes)
        data = self.source.read(keep)
        if len(data) < keep:
            self.session.add_member(path, data, size, truncated=True, depth=self.depth)
            self.fail(f"truncated data of {path}: {len(data)} of {size} bytes")
            return False
        if keep < size:
            self.session.finding(
                "member_too_large", path, f"{size} bytes; only the first {keep} were read"
            )
        self.session.add_member(path, data, size, truncated=keep < size, depth=self.depth)
        rest = _padded(size) - keep
        if self.source.skip(rest) < rest and keep < size:
            self.fail(f"truncated data of {path}: the archive ends within its {size} bytes")
            return False
        return True


def read_tar(session: Session, source: Source, first: bytes, prefix: str, depth: int) -> None:
    """Read the tar whose first block is `first` and whose rest comes from `source`."""
    _TarReader(session, source, prefix, depth).run(first)
