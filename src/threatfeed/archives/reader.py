"""From bytes to members: recognise the format by its bytes, then read it within the limits."""

from __future__ import annotations

from threatfeed.archives.model import ArchiveContents, Limits
from threatfeed.archives.state import LimitReached, Session
from threatfeed.archives.streams import MAGIC, Inflater, PlainSource, Source
from threatfeed.archives.tar import BLOCK, looks_like_tar, read_tar
from threatfeed.archives.zip import read_zip
from threatfeed.archives.zipformat import has_end_record

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_TAR_FORMATS = {"gzip": "tar.gz", "bzip2": "tar.bz2", "xz": "tar.xz"}
ARCHIVE_FORMATS = frozenset({"zip", "tar", *_TAR_FORMATS.values()})
_FIRST_BYTES = frozenset(magic[:1] for magic in (*_ZIP_MAGIC, *MAGIC.values()))


def container(data: bytes | memoryview, *, top: bool) -> str | None:
    """The outer format of `data` from its first bytes: "zip", "tar", a compression, or None.

    At the top, pre-POSIX tars without the "ustar" magic are recognised by their checksum, and
    zips with data prepended by their end record (zipfile, and so pip, read those). Inside a
    package only magic numbers count: a file that happens to look like either is no archive.
    """
    head = bytes(data[:8])
    if not top and head[:1] not in _FIRST_BYTES and data[257:262] != b"ustar":
        return None
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    for codec, magic in MAGIC.items():
        if head.startswith(magic) and (codec != "bzip2" or head[3:4].isdigit()):
            return codec
    if data[257:262] == b"ustar" or (top and looks_like_tar(bytes(data[:BLOCK]))):
        return "tar"
    if top and has_end_record(data):
        return "zip"
    return None


def _read(session: Session, view: memoryview, prefix: str, depth: int) -> str:
    """Read `view` into the session; return its format ("unknown" when it is not an archive)."""
    kind = container(view, top=depth == 0)
    if kind is None:
        return "unknown"
    if kind == "zip":
        if depth == 0:
            session.format = kind
        read_zip(session, view, prefix, depth)
        return kind
    source: Source = (
        PlainSource(view, session)
        if kind == "tar"
        else Inflater(view, kind, session, multistream=True)
    )
    first = source.read(BLOCK)
    if not looks_like_tar(first):
        if depth == 0:
            session.format = kind
            session.error(source.error or f"the {kind} data does not hold a tar archive")
        return kind
    fmt = _TAR_FORMATS.get(kind, "tar")
    if depth == 0:
        session.format = fmt
    read_tar(session, source, first, prefix, depth)
    return fmt


def _read_nested(session: Session, data: bytes, path: str, depth: int) -> None:
    """Read a member that is itself an archive, up to the nesting limit."""
    kind = container(data, top=False)
    if kind is None:
        return
    if depth > session.limits.max_depth:
        if kind in ("zip", "tar"):
            session.finding(
                "nested_archive",
                path,
                f"{kind} archive nested deeper than {session.limits.max_depth} levels (not read)",
            )
        return
    fmt = _read(session, memoryview(data), path + "!/", depth)
    if fmt in ARCHIVE_FORMATS:
        session.finding("nested_archive", path, f"{fmt} archive, read as {path}!/...")


def read_archive(data: bytes, *, limits: Limits = Limits()) -> ArchiveContents:  # noqa: B008
    """Read every member of a package archive in memory, within `limits`.

    Never raises on bad input: corrupt, truncated, unknown or hostile data gives a result
    whose `errors` say what went wrong, with whatever could be read before.
    """
    session = Session(limits, len(data), _read_nested)
    try:
        if not data:
            session.error("empty file")
        elif _read(session, memoryview(data), "", 0) == "unknown":
            session.error(f"not an archive (unrecognised first bytes {bytes(data[:8])!r})")
    except LimitReached:
        pass
    except Exception as exc:  # one hostile archive must not end a scan of thousands
        session.error(f"unexpected {type(exc).__name__} while reading ({exc}); reading stopped")
    return ArchiveContents(
        format=session.format,
        members=tuple(session.members),
        findings=tuple(session.findings),
        errors=tuple(session.errors),
        uncompressed_bytes=session.produced,
    )
