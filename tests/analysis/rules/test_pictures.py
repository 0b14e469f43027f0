"""Payloads appended to pictures, on pictures built here byte by byte (nothing is ever
decoded or run), and on pictures that end where they should or carry benign trailers."""

from __future__ import annotations

import base64
import struct
import zlib

from tests.analysis.builders import npm_tarball, run_rule, wheel
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.pictures import appended, picture_payload_rule


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 4) -> bytes:
    header = struct.pack(">IIBBBBB", width, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + bytes(range(width)))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


def _segment(marker: int, data: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(data) + 2) + data


def jpeg() -> bytes:
    """SOI, an EXIF segment holding a thumbnail with its own end marker, a table, a scan
    whose coded data has stuffed bytes and a restart marker, EOI."""
    thumbnail = b"\xff\xd8\xff\xdb\x00\x03\x00\xff\xd9"
    coded = b"\x12\xff\x00\x34\xff\xd0\x56\x78"
    return (
        b"\xff\xd8"
        + _segment(0xE1, b"Exif\x00\x00" + thumbnail)
        + _segment(0xDB, bytes(65))
        + _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + coded
        + b"\xff\xd9"
    )


PAYLOAD = base64.b64encode(b"print('stage two would run here')\n" * 8) + b"\n"
#: The loader hands the tail to the import system rather than to ``exec``: nothing but the
#: picture says that what it imports was hidden.
LOADER = (
    "import importlib.util, os, tempfile\n\n"
    "_here = os.path.dirname(__file__)\n"
    "with open(os.path.join(_here, 'assets', 'logo.png'), 'rb') as f:\n"
    "    data = f.read()\n"
    "_cache = os.path.join(tempfile.gettempdir(), '_brand_cache.py')\n"
    "with open(_cache, 'wb') as f:\n"
    "    f.write(data[data.index(b'IEND') + 8:])\n"
    "_spec = importlib.util.spec_from_file_location('_brand_cache', _cache)\n"
    "_spec.loader.exec_module(importlib.util.module_from_spec(_spec))\n"
)


def test_the_tail_of_a_png_starts_after_its_end_chunk() -> None:
    picture = png() + PAYLOAD
    found = appended(picture)
    assert found is not None
    assert picture[found.offset :] == PAYLOAD
    assert found.looks_like == "text"


def test_pictures_that_end_where_they_should_carry_nothing() -> None:
    assert appended(png()) is None
    assert appended(png() + b"\n") is None  # a stray newline, as some encoders write
    assert appended(jpeg()) is None
    assert appended(b"GIF89a" + PAYLOAD) is None  # not a format read here


def test_a_preview_png_kept_in_a_chunk_or_a_second_png_after_the_end_is_no_tail() -> None:
    """Image editors keep a preview, with its own end chunk, inside a private chunk."""
    with_preview = png()[:-12] + _chunk(b"prVw", png() + bytes(500)) + png()[-12:]
    assert appended(with_preview) is None
    assert appended(png() + png()) is None
    carrier = with_preview + PAYLOAD
    found = appended(carrier)
    assert found is not None
    assert carrier[found.offset :] == PAYLOAD


def test_a_jpeg_tail_is_found_past_a_thumbnail_end_marker_and_the_scan_data() -> None:
    picture = jpeg() + PAYLOAD
    found = appended(picture)
    assert found is not None
    assert picture[found.offset :] == PAYLOAD


def test_jpeg_trailers_that_are_a_second_image_or_vendor_binary_are_not_payloads() -> None:
    assert appended(jpeg() + jpeg()) is None  # Ultra HDR: a gain map image follows
    assert appended(jpeg() + bytes(range(256)) * 2) is None


def test_a_payload_after_a_second_picture_is_found_after_the_last() -> None:
    for pictures in (jpeg() + jpeg(), png() + png(), png() + jpeg()):
        found = appended(pictures + PAYLOAD)
        assert found is not None
        assert found.offset == len(pictures)


def test_more_segments_or_chunks_than_the_walk_takes_end_at_the_last_end_marker() -> None:
    padded_jpeg = jpeg()[:2] + _segment(0xFE, b"") * 5000 + jpeg()[2:]
    padded_png = png()[:-12] + _chunk(b"tEXt", b"") * 100_001 + png()[-12:]
    for picture in (padded_jpeg, padded_png, jpeg()[:2] + b"\xff" * 10_000 + jpeg()[2:]):
        found = appended(picture + PAYLOAD)
        assert found is not None
        assert found.offset == len(picture)


def test_executables_and_compressed_data_after_a_jpeg_are_named() -> None:
    found = appended(jpeg() + b"MZ" + bytes(200))
    assert found is not None
    assert found.looks_like == "Windows executable"
    found = appended(jpeg() + zlib.compress(PAYLOAD * 4))
    assert found is not None
    assert found.looks_like == "zlib data"


def test_broken_pictures_give_no_tail_and_no_error() -> None:
    assert appended(png()[:-12] + PAYLOAD) is None  # no end chunk
    assert appended(png()[:40]) is None  # cut inside a chunk
    assert appended(b"\xff\xd8\xff\xe0\xff\xff") is None  # a length past the end
    assert appended(b"\xff\xd8" + b"\xff" * 100_000) is None  # fill bytes, bounded
    assert appended(b"\xff\xd8" + _segment(0xDA, b"\x00") + b"\x11" * 100) is None


def test_a_module_run_on_import_that_reads_a_picture_with_a_payload_flags(
    engine: Engine,
) -> None:
    archive = wheel(
        {
            "brandkit/__init__.py": LOADER,
            "brandkit/assets/logo.png": png() + PAYLOAD,
        }
    )
    evidence = run_rule(engine, picture_payload_rule, archive)
    assert evidence == [
        {
            "file": "brandkit/assets/logo.png",
            "appended_bytes": len(PAYLOAD),
            "looks_like": "text",
            "read_by": ["brandkit/__init__.py"],
        }
    ]
    assert engine.analyze(archive).flagged


def test_a_node_module_that_reads_a_jpeg_with_a_payload_flags(engine: Engine) -> None:
    loader = (
        "const fs = require('fs');\n"
        "const buf = fs.readFileSync(__dirname + '/banner.jpg');\n"
        "new Function(buf.slice(buf.lastIndexOf(Buffer.from([0xff, 0xd9])) + 2).toString())();\n"
    )
    archive = npm_tarball({"index.js": loader, "banner.jpg": jpeg() + PAYLOAD})
    evidence = run_rule(engine, picture_payload_rule, archive)
    assert evidence[0]["read_by"] == ["package/index.js"]
    assert engine.analyze(archive).flagged


def test_a_picture_with_a_tail_that_no_code_reads_does_not_flag(engine: Engine) -> None:
    archive = wheel(
        {
            "brandkit/__init__.py": "VERSION = '1.0'\n",
            "brandkit/docs/logo.png": png() + PAYLOAD,
        }
    )
    evidence = run_rule(engine, picture_payload_rule, archive)
    assert evidence[0]["read_by"] == []
    assert not engine.analyze(archive).flagged


def test_a_package_whose_code_names_its_clean_pictures_reports_nothing(engine: Engine) -> None:
    archive = wheel(
        {
            "brandkit/__init__.py": LOADER,
            "brandkit/assets/logo.png": png(),
            "brandkit/assets/photo.jpg": jpeg(),
        }
    )
    assert run_rule(engine, picture_payload_rule, archive) is None
