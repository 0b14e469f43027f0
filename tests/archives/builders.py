"""Hostile archives built in memory, small however large they claim to be.

Bombs are built without ever holding their uncompressed size: a deflate chunk of zeros,
compressed once from an empty history and ended by a sync flush, only refers back into
itself, so the same bytes repeated N times are a valid stream of N times as many zeros.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

MiB = 2**20
_EPOCH = 1_700_000_000
_DATE = (2023, 11, 14, 22, 13, 20)
_ZERO_CHUNK = MiB


@dataclass(frozen=True)
class Entry:
    """One tar entry: a regular file unless `type` says otherwise."""

    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    linkname: str = ""
    pax: dict[str, str] = field(default_factory=dict)


def file(name: str, data: bytes | str = b"") -> Entry:
    return Entry(name, data.encode() if isinstance(data, str) else data)


def tar(
    entries: Iterable[Entry], compression: str = "gz", tar_format: int = tarfile.GNU_FORMAT
) -> bytes:
    """A tar archive written by tarfile; names may carry undecodable bytes as surrogates."""
    raw = io.BytesIO()
    with tarfile.open(
        fileobj=raw, mode="w", format=tar_format, encoding="utf-8", errors="surrogateescape"
    ) as archive:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type, info.linkname, info.mtime = entry.type, entry.linkname, _EPOCH
            info.pax_headers = entry.pax
            info.size = len(entry.data)
            if info.type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
                info.devmajor, info.devminor = 1, 3
            archive.addfile(info, io.BytesIO(entry.data))
    return compress(raw.getvalue(), compression)


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gz":
        return gzip.compress(data, mtime=_EPOCH)
    if compression == "bz2":
        return bz2.compress(data)
    if compression == "xz":
        return lzma.compress(data)
    assert compression == "", compression
    return data


def header(name: bytes, size: int, kind: bytes = tarfile.REGTYPE, linkname: bytes = b"") -> bytes:
    """One raw ustar header block, for names and sizes tarfile would refuse to write."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = block[116:124] = b"0000000\0"
    block[124:136] = b"%011o\0" % size if size < 8**11 else b"\x80" + size.to_bytes(11, "big")
    block[136:148] = b"%011o\0" % _EPOCH
    block[156:157] = kind
    block[157 : 157 + len(linkname)] = linkname
    block[257:265] = b"ustar\x0000"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % 512)


def zeros_deflate(count: int) -> bytes:
    """A raw deflate stream of `count` zero bytes (a multiple of 1 MiB), final block included."""
    assert count % _ZERO_CHUNK == 0
    encoder = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = encoder.compress(bytes(_ZERO_CHUNK)) + encoder.flush(zlib.Z_SYNC_FLUSH)
    return chunk * (count // _ZERO_CHUNK) + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def gzip_stream(deflate: bytes, crc: int = 0, size: int = 0) -> bytes:
    return (
        b"\x1f\x8b\x08\x00"
        + struct.pack("<L", _EPOCH)
        + b"\x02\xff"
        + deflate
        + struct.pack("<LL", crc, size & 0xFFFFFFFF)
    )


def gzip_bomb_tar(size: int, name: bytes = b"package/bomb.bin") -> bytes:
    """A tar.gz whose one member is `size` zeros (a multiple of 1 MiB); about size/1000 bytes.

    The trailer's CRC is not computed: a reader must stop long before reaching it.
    """
    encoder = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = encoder.compress(header(name, size)) + encoder.flush(zlib.Z_SYNC_FLUSH)
    return gzip_stream(head + zeros_deflate(size), size=size + 512)


def repeated_members_tgz(copies: int) -> bytes:
    """A tar.gz of 2048 * `copies` empty members (all named "package/x"), a few KiB per 1000s."""
    blocks = header(b"package/x", 0) * 2048
    encoder = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = encoder.compress(blocks) + encoder.flush(zlib.Z_SYNC_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    return gzip_stream(chunk * copies + final)


def zip_archive(
    files: Iterable[tuple[str | zipfile.ZipInfo, bytes]],
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", compression) as archive:
        for name, data in files:
            info = name if isinstance(name, zipfile.ZipInfo) else zipfile.ZipInfo(name, _DATE)
            info.compress_type = compression
            archive.writestr(info, data)
    return raw.getvalue()


class _Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then writes sizes in data descriptors after the data."""

    def __init__(self) -> None:
        self.written = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.written += data
        return len(data)


def streamed_zip(
    files: Iterable[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED
) -> bytes:
    """A zip written as a stream: every member's sizes and CRC follow its data."""
    stream = _Unseekable()
    with zipfile.ZipFile(stream, "w") as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, _DATE)
            info.compress_type = compression
            archive.writestr(info, data)
    return bytes(stream.written)


def unix_entry(name: str, mode: int) -> zipfile.ZipInfo:
    """A zip entry created on Unix with file type and permission bits `mode`."""
    info = zipfile.ZipInfo(name, _DATE)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def _local(name: bytes, method: int, crc: int, compressed: int, size: int, flags: int) -> bytes:
    return struct.pack(
        "<4s5H3L2H", b"PK\x03\x04", 20, flags, method, 0, 0x5721, crc, compressed, size,
        len(name), 0,
    ) + name  # fmt: skip


def _central(
    name: bytes, method: int, crc: int, compressed: int, size: int, offset: int, flags: int = 0
) -> bytes:
    return struct.pack(
        "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, method, 0, 0x5721, crc, compressed, size,
        len(name), 0, 0, 0, 0, 0, offset,
    ) + name  # fmt: skip


def zip64_entries_zip(files: Iterable[tuple[bytes, bytes]]) -> bytes:
    """A stored zip whose central directory gives every size and offset in zip64 extra fields
    (0xFFFFFFFF placeholders in the classic fields), behind a few bytes of unrelated data."""
    body, directory, count = b"#!stub\n", b"", 0
    for name, data in files:
        offset, crc = len(body), zlib.crc32(data)
        body += _local(name, 0, crc, len(data), len(data), 0) + data
        extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset - 7)
        directory += struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 45, 45, 0, 0, 0, 0x5721, crc, 0xFFFFFFFF, 0xFFFFFFFF,
            len(name), len(extra), 0, 0, 0, 0, 0xFFFFFFFF,
        ) + name + extra  # fmt: skip
        count += 1
    return body + directory + _end(count, len(directory), len(body) - 7)


def _end(count: int, directory_size: int, directory_offset: int) -> bytes:
    return struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, directory_size, directory_offset, 0
    )


@dataclass(frozen=True)
class RawMember:
    """A zip member written by hand: sizes, CRC, method and flags as given, not as computed."""

    name: bytes
    payload: bytes
    size: int
    method: int = 8
    crc: int = 0
    flags: int = 0
    central_name: bytes | None = None


def raw_zip(members: Iterable[RawMember]) -> bytes:
    body, directory = b"", b""
    count = 0
    for member in members:
        offset = len(body)
        body += _local(
            member.name, member.method, member.crc, len(member.payload), member.size, member.flags
        )
        body += member.payload
        directory += _central(
            member.central_name or member.name, member.method, member.crc,
            len(member.payload), member.size, offset, member.flags,
        )  # fmt: skip
        count += 1
    return body + directory + _end(count, len(directory), len(body))


def zip_bomb(size: int, declared: int | None = None) -> bytes:
    """A zip whose one member inflates to `size` zeros and declares `declared` bytes."""
    payload = zeros_deflate(size)
    return raw_zip([RawMember(b"bomb.bin", payload, size if declared is None else declared)])


def overlapping_zip(count: int, kernel_size: int = MiB) -> bytes:
    """The core of a non-recursive zip bomb: `count` central-directory entries, each naming
    its own file, all pointing at one local header and its compressed kernel."""
    kernel = zeros_deflate(kernel_size)
    crc = zlib.crc32(bytes(kernel_size))
    body = _local(b"f0", 8, crc, len(kernel), kernel_size, 0) + kernel
    directory = b"".join(
        _central(b"f%d" % index, 8, crc, len(kernel), kernel_size, 0) for index in range(count)
    )
    return body + directory + _end(count, len(directory), len(body))


def nested_in_data_zip() -> bytes:
    """Two entries whose spans overlap partially: the second entry's local header and data
    lie inside the first (stored) entry's data."""
    inner_data = b"print('inner')\n"
    inner = _local(b"inner.py", 0, zlib.crc32(inner_data), len(inner_data), len(inner_data), 0)
    outer_data = b"data" + inner + inner_data
    outer = _local(b"outer.bin", 0, zlib.crc32(outer_data), len(outer_data), len(outer_data), 0)
    body = outer + outer_data
    directory = _central(
        b"outer.bin", 0, zlib.crc32(outer_data), len(outer_data), len(outer_data), 0
    ) + _central(
        b"inner.py", 0, zlib.crc32(inner_data), len(inner_data), len(inner_data), len(outer) + 4
    )
    return body + directory + _end(2, len(directory), len(body))


def with_zip64_end(archive: bytes) -> bytes:
    """The same zip with zip64 end records, and 0xFFFF.. placeholders in the classic one."""
    end = archive.rindex(b"PK\x05\x06")
    _, _, _, _, count, size, offset, _ = struct.unpack_from("<4s4H2LH", archive, end)
    end64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    classic = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0
    )
    return archive[:end] + end64 + locator + classic
