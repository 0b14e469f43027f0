"""Hostile and odd zip archives: each gives findings or errors, never an exception."""

from __future__ import annotations

import random
import stat
import time
import zipfile
import zlib

import pytest

from tests.archives.builders import (
    MiB,
    RawMember,
    nested_in_data_zip,
    overlapping_zip,
    raw_zip,
    streamed_zip,
    unix_entry,
    with_zip64_end,
    zip64_entries_zip,
    zip_archive,
    zip_bomb,
)
from tests.archives.results import kinds, measured_read, paths
from threatfeed.archives import Limits, read_archive


def test_traversal_and_absolute_names_are_findings() -> None:
    result = read_archive(
        zip_archive([("../../evil.py", b"1"), ("/etc/x", b"2"), ("C:\\win\\x.dll", b"3")])
    )

    assert kinds(result) == {
        "path_traversal": ["../../evil.py"],
        "absolute_path": ["/etc/x", "C:\\win\\x.dll"],
    }
    assert paths(result) == ["../../evil.py", "/etc/x", "C:\\win\\x.dll"]


def test_unix_symlinks_are_reported_with_their_target_and_not_members() -> None:
    result = read_archive(
        zip_archive(
            [
                (unix_entry("pkg/ok", stat.S_IFLNK | 0o777), b"other.py"),
                (unix_entry("pkg/key", stat.S_IFLNK | 0o777), b"../../.ssh/id_rsa"),
                ("pkg/other.py", b"x = 1"),
            ]
        )
    )

    found = kinds(result)
    assert found["symlink"] == ["pkg/ok", "pkg/key"]
    assert found["link_outside"] == ["pkg/key"]
    assert paths(result) == ["pkg/other.py"]


def test_device_entries_are_skipped() -> None:
    result = read_archive(zip_archive([(unix_entry("pkg/fifo", stat.S_IFIFO | 0o644), b"")]))

    assert kinds(result) == {"device": ["pkg/fifo"]}
    assert result.members == ()


def test_duplicate_names_keep_both() -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        archive = zip_archive([("setup.py", b"one"), ("setup.py", b"two")])

    result = read_archive(archive)

    assert [member.data for member in result.members] == [b"one", b"two"]
    assert kinds(result) == {"duplicate_name": ["setup.py"]}


def test_zip_bomb_declaring_its_size_is_not_read() -> None:
    bomb = zip_bomb(1024 * MiB)
    assert len(bomb) < 2 * MiB

    measured = measured_read(bomb)
    result = measured.result

    assert measured.seconds < 2
    assert measured.peak_bytes < 4 * MiB
    assert kinds(result) == {"compression_bomb": ["bomb.bin"]}
    assert result.members == ()


def test_zip_bomb_lying_about_its_size_is_cut_at_the_declared_size() -> None:
    bomb = zip_bomb(1024 * MiB, declared=1000)

    measured = measured_read(bomb)
    result = measured.result

    assert measured.peak_bytes < 4 * MiB
    (member,) = result.members
    assert member.data == bytes(1000)
    assert any("more than its declared 1000 bytes" in error for error in result.errors)


def test_zip_bomb_lying_low_within_the_member_limit_stops_at_the_ratio() -> None:
    bomb = zip_bomb(1024 * MiB, declared=0xFFFFFFF0)

    result = read_archive(bomb, limits=Limits(max_ratio=10**9))

    (member,) = result.members
    assert member.truncated
    assert len(member.data) == Limits().max_member_bytes
    assert kinds(result) == {"member_too_large": ["bomb.bin"]}


def test_overlapping_entries_are_a_bomb_and_read_once() -> None:
    bomb = overlapping_zip(10_000)

    started = time.monotonic()
    result = read_archive(bomb)

    assert time.monotonic() - started < 5
    assert paths(result) == ["f0"]
    assert kinds(result) == {"compression_bomb": ["zip"]}
    assert "9999 zip entries overlap" in result.findings[0].detail


def test_an_entry_hidden_inside_another_entrys_data_is_an_overlap() -> None:
    result = read_archive(nested_in_data_zip())

    assert paths(result) == ["outer.bin"]
    assert "1 zip entries overlap" in result.findings[0].detail


def test_too_many_entries_read_up_to_the_limit() -> None:
    archive = zip_archive([(f"f{index}.txt", b"x") for index in range(50)])

    result = read_archive(archive, limits=Limits(max_members=20))

    assert len(result.members) == 20
    assert kinds(result) == {"too_many_members": ["zip"]}
    assert result.errors == ("more than 20 members; reading stopped",)


def test_encrypted_members_are_skipped_with_an_error() -> None:
    archive = raw_zip(
        [
            RawMember(b"secret.py", b"\x00" * 40, 28, flags=1),
            RawMember(b"plain.py", b"x = 1", 5, method=0, crc=zlib.crc32(b"x = 1")),
        ]
    )

    result = read_archive(archive)

    assert paths(result) == ["plain.py"]
    assert kinds(result) == {"encrypted_member": ["secret.py"]}
    assert result.errors == ("zip: secret.py: encrypted member skipped",)


def test_local_and_central_names_that_differ_are_a_finding() -> None:
    data = b"import os"
    archive = raw_zip(
        [RawMember(b"setup.py", data, len(data), 0, zlib.crc32(data), central_name=b"README")]
    )

    result = read_archive(archive)

    assert paths(result) == ["README"]
    assert kinds(result) == {"name_mismatch": ["README"]}


def test_crc_mismatch_is_an_error() -> None:
    result = read_archive(raw_zip([RawMember(b"a.py", b"x = 1", 5, method=0, crc=1)]))

    assert result.errors == ("zip: a.py: CRC mismatch (corrupt member)",)
    assert [member.data for member in result.members] == [b"x = 1"]


def test_unsupported_compression_method_is_skipped_with_an_error() -> None:
    result = read_archive(raw_zip([RawMember(b"a.py", b"\x00" * 10, 20, method=9)]))

    assert result.members == ()
    assert result.errors == ("zip: a.py: unsupported compression method 9 (skipped)",)


def test_lzma_members_are_read_so_the_method_cannot_hide_code() -> None:
    code = b"import os\n" * 500
    result = read_archive(zip_archive([("pkg/setup.py", code)], zipfile.ZIP_LZMA))

    assert [(member.path, member.data) for member in result.members] == [("pkg/setup.py", code)]
    assert result.errors == ()


def test_a_corrupt_lzma_header_is_an_error_and_the_rest_is_read() -> None:
    members = [
        RawMember(b"bad.py", b"\x09\x14\x07\x00junk", 20, method=14),
        RawMember(b"ok.py", b"x = 1", 5, method=0, crc=zlib.crc32(b"x = 1")),
    ]
    result = read_archive(raw_zip(members))

    assert [member.path for member in result.members] == ["ok.py"]
    assert result.errors == ("zip: bad.py: corrupt lzma header (skipped)",)


def test_an_lzma_bomb_is_not_inflated() -> None:
    result = read_archive(zip_archive([("a.py", bytes(200_000_000))], zipfile.ZIP_LZMA))

    assert result.members == ()
    assert [finding.kind for finding in result.findings] == ["compression_bomb"]


@pytest.mark.parametrize(
    "compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
)
def test_zip64_end_records_and_extra_fields_are_read(compression: int) -> None:
    raw = zip_archive([("a.py", b"a" * 1000), ("b/c.py", b"c")], compression)
    archive = with_zip64_end(raw)

    result = read_archive(archive)

    assert [(member.path, member.data) for member in result.members] == [
        ("a.py", b"a" * 1000),
        ("b/c.py", b"c"),
    ]
    assert result.errors == ()


def test_zip64_extra_fields_give_sizes_and_offsets() -> None:
    result = read_archive(zip64_entries_zip([(b"a.py", b"a" * 100), (b"b.py", b"bb")]))

    assert [(member.path, member.data, member.size) for member in result.members] == [
        ("a.py", b"a" * 100, 100),
        ("b.py", b"bb", 2),
    ]
    assert result.errors == ()


def test_prepended_data_is_read_past_as_zipfile_and_so_pip_do() -> None:
    result = read_archive(b"#!/bin/sh\nexit 0\n" + zip_archive([("a.py", b"1")]))

    assert result.format == "zip"
    assert [(member.path, member.data) for member in result.members] == [("a.py", b"1")]
    assert result.errors == ()


def test_missing_central_directory_is_recovered_from_local_headers() -> None:
    archive = zip_archive([("a.py", b"1" * 1000), ("b.py", b"2" * 1000)])

    result = read_archive(archive[: archive.index(b"PK\x01\x02") + 10])

    assert result.format == "zip"
    assert [(member.path, member.data) for member in result.members] == [
        ("a.py", b"1" * 1000),
        ("b.py", b"2" * 1000),
    ]
    assert result.errors == (
        "zip: no end of central directory record (truncated or not a zip); "
        "2 entries recovered from local headers",
    )


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_truncated_streamed_zip_keeps_the_whole_members_before_the_cut(compression: int) -> None:
    text = random.Random(3).randbytes(20_000).hex().encode()
    archive = streamed_zip(
        [("a.py", b"a = 1\n" * 500), ("b.py", text), ("c.py", b"c")], compression
    )
    assert b"PK\x07\x08" in archive

    result = read_archive(archive[: archive.index(b"b.py") + 5000])

    assert [(member.path, member.data) for member in result.members] == [("a.py", b"a = 1\n" * 500)]
    (error,) = result.errors
    assert error.startswith("zip: no end of central directory record")
    assert "; 1 entries recovered from local headers, then member" in error


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_streamed_zip_is_read_from_its_directory_or_its_local_headers(compression: int) -> None:
    archive = streamed_zip([("a.py", b"a = 1\n" * 500), ("b.py", b"b")], compression)

    whole = read_archive(archive)
    walked = read_archive(archive[: archive.index(b"PK\x01\x02")])

    for result in (whole, walked):
        assert [(member.path, member.data) for member in result.members] == [
            ("a.py", b"a = 1\n" * 500),
            ("b.py", b"b"),
        ]
    assert whole.errors == ()
    assert walked.errors == (
        "zip: no end of central directory record (truncated or not a zip); "
        "2 entries recovered from local headers",
    )


def test_member_data_running_past_the_directory_is_an_error() -> None:
    archive = bytearray(zip_archive([("a.py", b"1" * 1000)]))
    central = archive.index(b"PK\x01\x02")
    archive[central + 20 : central + 24] = (10**6).to_bytes(4, "little")

    result = read_archive(bytes(archive))

    assert result.members == ()
    assert result.errors == ("zip: a.py: member data runs past the end of the data (truncated)",)
