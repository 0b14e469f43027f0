"""Byte sources the readers pull from: a plain buffer, or a decompressor fed in small chunks.

Nothing here ever decompresses more than asked for: input goes in 64 KiB at a time and output
comes out with an explicit maximum length, and every byte produced is accounted to the
session, which stops the read at the byte, ratio and time limits. A bomb therefore costs at
most the budget, never the size it claims.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from threatfeed.archives.state import Session

_INPUT_CHUNK = 64 * 1024
_OUTPUT_CHUNK = 256 * 1024
SMALL_OUTPUT = _OUTPUT_CHUNK
_SKIP_CHUNK = 1024 * 1024

MAGIC = {
    "gzip": b"\x1f\x8b",
    "bzip2": b"BZh",
    "xz": b"\xfd7zXZ\x00",
}


class Source(Protocol):
    """A forward-only stream of uncompressed bytes; `position` counts the bytes passed."""

    position: int

    def read(self, count: int) -> bytes:
        """Up to `count` bytes; fewer only at the end of the data (see `error`)."""
        ...

    def skip(self, count: int) -> int:
        """Pass over up to `count` bytes; return how many there were."""
        ...

    @property
    def error(self) -> str | None:
        """Why the data ended early (corrupt or truncated compressed data), if it did."""
        ...


class PlainSource:
    """Uncompressed data already in memory: reading copies, skipping is free."""

    def __init__(self, view: memoryview, session: Session) -> None:
        self._view = view
        self._session = session
        self.position = 0

    @property
    def error(self) -> str | None:
        return None

    def read(self, count: int) -> bytes:
        start = self.position
        data = bytes(self._view[start : start + count])
        self.position = start + len(data)
        self._session.produce(len(data))
        return data

    def skip(self, count: int) -> int:
        skipped = min(count, len(self._view) - self.position)
        self.position += skipped
        return skipped


class _Decoder(Protocol):
    """The interface bz2 and lzma decompressors share; `_ZlibDecoder` gives zlib the same."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def needs_input(self) -> bool: ...

    def decompress(self, data: bytes | memoryview, max_length: int = -1) -> bytes: ...


class _ZlibDecoder:
    """zlib keeps unconsumed input in `unconsumed_tail` instead of an internal buffer."""

    def __init__(self, wbits: int) -> None:
        self._decoder = zlib.decompressobj(wbits=wbits)

    @property
    def eof(self) -> bool:
        return self._decoder.eof

    @property
    def unused_data(self) -> bytes:
        return self._decoder.unused_data

    @property
    def needs_input(self) -> bool:
        return not self._decoder.unconsumed_tail

    def decompress(self, data: bytes | memoryview, max_length: int = -1) -> bytes:
        pending = data if data else self._decoder.unconsumed_tail
        return self._decoder.decompress(pending, max_length)


Filters = Sequence[Mapping[str, Any]]


def _decoder(codec: str, filters: Filters | None) -> _Decoder:
    if codec == "gzip":
        return _ZlibDecoder(31)
    if codec == "deflate":
        return _ZlibDecoder(-15)
    if codec == "bzip2":
        return bz2.BZ2Decompressor()
    if codec == "xz":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    if codec == "lzma" and filters is not None:
        return lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=filters)
    raise ValueError(f"unknown codec {codec!r}")


class Inflater:
    """Decompresses `view` (gzip, raw deflate, bzip2, xz, or raw lzma with `filters`) on demand.

    With `multistream`, streams concatenated one after another are read as one (gzip -c a b
    and parallel bzip2 write those); data after the last stream is ignored, as gzip does.
    """

    def __init__(
        self,
        view: memoryview,
        codec: str,
        session: Session,
        *,
        multistream: bool = False,
        filters: Filters | None = None,
    ) -> None:
        self._view = view
        self._codec = codec
        self._session = session
        self._multistream = multistream
        self._filters = filters
        self._decoder = _decoder(codec, filters)
        self._input = 0
        self._buffer = b""
        self._offset = 0
        self._ended = False
        self._error: str | None = None
        self.position = 0

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def consumed(self) -> int | None:
        """How many compressed bytes the data took, once it has ended without error."""
        return self._input if self._ended and self._error is None else None

    def _fail(self, message: str) -> bytes:
        self._error = message
        self._ended = True
        return b""

    def _next_stream(self) -> bool:
        """After the end of a stream: start the next concatenated one, if there is one."""
        self._input -= len(self._decoder.unused_data)
        magic = MAGIC.get(self._codec)
        rest = bytes(self._view[self._input : self._input + 8])
        if self._multistream and magic is not None and rest.startswith(magic):
            self._decoder = _decoder(self._codec, self._filters)
            return True
        self._ended = True
        return False

    def _produce(self, limit: int) -> bytes:
        """The next piece of output, at most `limit` bytes; b"" at the end of the data."""
        while not self._ended:
            decoder = self._decoder
            try:
                if decoder.eof:
                    if not self._next_stream():
                        return b""
                    continue
                pending: bytes | memoryview = b""
                if decoder.needs_input:
                    pending = self._view[self._input : self._input + _INPUT_CHUNK]
                    if not pending:
                        return self._fail(
                            f"truncated {self._codec} data: the compressed stream ends early"
                        )
                    self._input += len(pending)
                out = decoder.decompress(pending, limit)
            except (zlib.error, OSError, lzma.LZMAError, EOFError) as exc:
                return self._fail(f"corrupt {self._codec} data: {exc}")
            if out:
                self._session.produce(len(out))
                return out
            if not pending and not decoder.needs_input and not decoder.eof:
                return self._fail(f"corrupt {self._codec} data: the decoder makes no progress")
        return b""

    def read(self, count: int) -> bytes:
        buffer, offset = self._buffer, self._offset
        if len(buffer) - offset >= count:
            self._offset = offset + count
            self.position += count
            return buffer[offset : offset + count]
        pieces = [buffer[offset:]]
        missing = count - (len(buffer) - offset)
        self._buffer, self._offset = b"", 0
        while missing > 0:
            out = self._produce(_OUTPUT_CHUNK)
            if not out:
                break
            if len(out) > missing:
                self._buffer, self._offset = out, missing
                out = out[:missing]
            pieces.append(out)
            missing -= len(out)
        data = b"".join(pieces)
        self.position += len(data)
        return data

    def skip(self, count: int) -> int:
        available = len(self._buffer) - self._offset
        if available >= count:
            self._offset += count
            self.position += count
            return count
        self._buffer, self._offset = b"", 0
        skipped = available
        while skipped < count:
            out = self._produce(_SKIP_CHUNK)
            if not out:
                break
            if skipped + len(out) > count:
                self._buffer, self._offset = out, count - skipped
                skipped = count
            else:
                skipped += len(out)
        self.position += skipped
        return skipped


def inflate_prefix(view: memoryview, count: int, session: Session) -> tuple[bytes, str | None]:
    """Up to `count` (at most SMALL_OUTPUT) bytes of a raw deflate stream in one call, and why
    the stream ended before `count` bytes if it was cut or corrupt.

    For the many small members of a zip, where setting up an `Inflater` costs more than the
    decompression; the output is bounded all the same.
    """
    assert count <= SMALL_OUTPUT + 1
    decoder = zlib.decompressobj(wbits=-15)
    try:
        data = decoder.decompress(view, count)
    except zlib.error as exc:
        return b"", f"corrupt deflate data: {exc}"
    session.produce(len(data))
    if len(data) < count and not decoder.eof:
        return data, "truncated deflate data: the compressed stream ends early"
    return data, None
