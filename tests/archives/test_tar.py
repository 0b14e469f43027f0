"""Hostile and odd tar archives: each gives findings or errors, never an exception."""

from __future__ import annotations

import random
import tarfile
import time

import pytest

from tests.archives.builders import (
    Entry,
    MiB,
    file,
    gzip_bomb_tar,
    header,
    padded,
    repeated_members_tgz,
    tar,
)
from tests.archives.results import kinds, measured_read, paths
from threatfeed.archives import Limits, read_archive


@pytest.mark.parametrize("name", ["../evil.py", "package/../../evil.py", "package/..\\..\\x.py"])
def test_path_traversal_is_a_finding_and_the_member_is_kept_in_memory(name: str) -> None:
    result = read_archive(tar([file("package/index.js", "1"), file(name, "x = 1")]))

    assert kinds(result) == {"path_traversal": [name]}
    assert paths(result) == ["package/index.js", name]
    assert result.errors == ()


@pytest.mark.parametrize("name", ["/etc/cron.d/job", "C:/Windows/evil.dll", "\\evil.py"])
def test_absolute_paths_are_findings(name: str) -> None:
    result = read_archive(tar([file(name, "x")]))

    assert kinds(result) == {"absolute_path": [name]}


def test_symlinks_are_reported_never_followed_nor_members() -> None:
    result = read_archive(
        tar(
            [
                file("package/real.js", "1"),
                Entry("package/inside.js", type=tarfile.SYMTYPE, linkname="real.js"),
                Entry("package/passwd", type=tarfile.SYMTYPE, linkname="../../etc/passwd"),
                Entry("package/abs", type=tarfile.SYMTYPE, linkname="/root/.ssh/id_rsa"),
            ]
        )
    )

    found = kinds(result)
    assert found["symlink"] == ["package/inside.js", "package/passwd", "package/abs"]
    assert found["link_outside"] == ["package/passwd", "package/abs"]
    assert paths(result) == ["package/real.js"]


def test_entries_written_through_an_earlier_symlink_are_a_finding() -> None:
    result = read_archive(
        tar(
            [
                Entry("package/lib", type=tarfile.SYMTYPE, linkname="/usr/lib/python3"),
                file("package/lib/site.py", "import os"),
                file("package/library.py", "1"),
            ]
        )
    )

    found = kinds(result)
    assert found["path_through_link"] == ["package/lib/site.py"]
    assert found["link_outside"] == ["package/lib"]
    assert paths(result) == ["package/lib/site.py", "package/library.py"]


def test_endless_extended_headers_are_corrupt() -> None:
    pax = header(b"././@PaxHeader", 20, tarfile.XHDTYPE) + padded(b"20 comment=aaaaaaaa\n")
    archive = pax * 1000 + header(b"package/a.py", 0) + bytes(1024)

    result = read_archive(archive)

    assert result.members == ()
    assert result.errors == (
        "tar: corrupt tar header at offset 16384: more than 16 extended headers in a row",
    )


def test_hardlinks_are_reported_and_one_leaving_the_archive_is_outside() -> None:
    result = read_archive(
        tar(
            [
                file("package/a.py", "1"),
                Entry("package/b.py", type=tarfile.LNKTYPE, linkname="package/a.py"),
                Entry("package/c.py", type=tarfile.LNKTYPE, linkname="../outside.py"),
            ]
        )
    )

    found = kinds(result)
    assert found["hardlink"] == ["package/b.py", "package/c.py"]
    assert found["link_outside"] == ["package/c.py"]
    assert paths(result) == ["package/a.py"]


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_device_files_and_fifos_are_findings_and_skipped(kind: bytes) -> None:
    result = read_archive(tar([Entry("package/dev", type=kind), file("package/after.js", "1")]))

    assert kinds(result) == {"device": ["package/dev"]}
    assert paths(result) == ["package/after.js"]


def test_duplicate_names_keep_both_members_with_a_finding() -> None:
    result = read_archive(
        tar([file("package/setup.py", "first"), file("./package//setup.py", "second")])
    )

    assert kinds(result) == {"duplicate_name": ["./package//setup.py"]}
    assert [member.data for member in result.members] == [b"first", b"second"]


def test_unknown_type_is_read_as_a_regular_file_like_tarfile_does() -> None:
    result = read_archive(tar([Entry("package/hidden.py", b"import os", type=b"Z")]))

    assert kinds(result) == {"unknown_member_type": ["package/hidden.py"]}
    assert [member.data for member in result.members] == [b"import os"]


def test_gzip_bomb_stops_at_the_ratio_in_bounded_memory_and_time() -> None:
    bomb = gzip_bomb_tar(1024 * MiB)
    assert len(bomb) < 2 * MiB

    measured = measured_read(bomb)
    result = measured.result

    assert measured.seconds < 10
    assert measured.peak_bytes < 3 * Limits().max_member_bytes
    assert kinds(result) == {
        "member_too_large": ["package/bomb.bin"],
        "compression_bomb": ["package/bomb.bin"],
    }
    assert any("compression bomb" in error for error in result.errors)
    assert result.uncompressed_bytes <= Limits().max_ratio * len(bomb) + 2 * MiB
    (member,) = result.members
    assert (member.size, member.truncated, len(member.data)) == (1024 * MiB, True, 32 * MiB)


def test_huge_member_is_truncated_and_the_members_after_it_are_read() -> None:
    big = random.Random(1).randbytes(3 * MiB)
    result = read_archive(
        tar([file("package/big.bin", big), file("package/after.js", "ok")]),
        limits=Limits(max_member_bytes=MiB),
    )

    first, second = result.members
    assert (first.path, first.size, first.truncated, first.data) == (
        "package/big.bin",
        3 * MiB,
        True,
        big[:MiB],
    )
    assert (second.data, second.truncated) == (b"ok", False)
    assert kinds(result) == {"member_too_large": ["package/big.bin"]}
    assert result.errors == ()


def test_total_budget_stops_reading_with_an_error() -> None:
    members = [file(f"package/{index}.bin", bytes([index]) * MiB) for index in range(8)]
    result = read_archive(
        tar(members, compression=""),
        limits=Limits(max_total_bytes=3 * MiB),
    )

    assert "archive_too_large" in kinds(result)
    assert 2 <= len(result.members) <= 3
    assert result.errors == ("archive too large: more than 3 MiB uncompressed; reading stopped",)


def test_millions_of_members_stop_at_the_member_limit_quickly() -> None:
    archive = repeated_members_tgz(1000)  # 2,048,000 members
    assert len(archive) < 5 * MiB

    started = time.monotonic()
    result = read_archive(archive)

    assert time.monotonic() - started < 10
    assert len(result.members) == Limits().max_members
    assert kinds(result)["too_many_members"] == ["package/x"]
    assert any("more than 50000 members" in error for error in result.errors)


def test_time_limit_stops_reading_with_a_finding() -> None:
    archive = repeated_members_tgz(1000)
    started = time.monotonic()

    result = read_archive(archive, limits=Limits(max_members=10**7, max_seconds=0.2))

    assert time.monotonic() - started < 2
    assert "time_limit" in kinds(result)
    assert any("time limit" in error for error in result.errors)
    assert result.members


def test_huge_pax_header_is_refused_before_reading_it() -> None:
    archive = header(b"././@PaxHeader", 10**12, tarfile.XHDTYPE) + bytes(4096)

    result = read_archive(archive)

    assert kinds(result) == {"huge_header": ["tar"]}
    assert result.errors == (
        "tar: pax header at offset 0 declares 1000000000000 bytes (limit 1048576); reading stopped",
    )


def test_deep_paths_are_findings() -> None:
    deep = "/".join(["d"] * 100) + "/x.py"
    result = read_archive(tar([file(deep, "1")], tar_format=tarfile.PAX_FORMAT))

    assert kinds(result) == {"deep_path": [deep]}
    assert paths(result) == [deep]


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("package/\udcff\udcfe.py", "package/\\xff\\xfe.py"),
        ("package/\x1b[31mred.py", "package/\\x1b[31mred.py"),
        ("package/evil\u202eyp.txt", "package/evil\\u202eyp.txt"),
        ("package/zero\u200bwidth.js", "package/zero\\u200bwidth.js"),
    ],
)
def test_odd_names_are_escaped_for_display_with_a_finding(name: str, shown: str) -> None:
    result = read_archive(tar([file(name, "1")]))

    assert paths(result) == [shown]
    assert kinds(result) == {"odd_name_encoding": [shown]}


def test_nul_in_a_pax_path_is_escaped() -> None:
    entry = Entry("package/x.py", b"1", pax={"path": "package/setup.py\x00.txt"})
    result = read_archive(tar([entry], tar_format=tarfile.PAX_FORMAT))

    assert paths(result) == ["package/setup.py\\x00.txt"]
    assert kinds(result) == {"odd_name_encoding": ["package/setup.py\\x00.txt"]}


def test_pax_and_gnu_long_names_are_applied() -> None:
    long_name = "package/" + "a" * 150 + ".py"
    for tar_format in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        result = read_archive(tar([file(long_name, "1")], tar_format=tar_format))
        assert paths(result) == [long_name]


def test_bad_checksum_stops_with_an_error_after_the_good_members() -> None:
    good = padded(header(b"package/a.js", 1) + b"1")
    broken = bytearray(header(b"package/b.js", 1))
    broken[0] ^= 0xFF
    result = read_archive(good + bytes(broken) + padded(b"2") + bytes(1024))

    assert paths(result) == ["package/a.js"]
    assert result.errors == ("tar: corrupt tar header at offset 1024: bad checksum",)


def test_truncated_member_data_is_kept_partially_with_an_error() -> None:
    archive = header(b"package/setup.py", 1000) + b"import os\n" * 30

    result = read_archive(archive)

    (member,) = result.members
    assert (member.truncated, member.size, len(member.data)) == (True, 1000, 300)
    assert result.errors == ("tar: truncated data of package/setup.py: 300 of 1000 bytes",)


def test_truncated_gzip_keeps_what_was_read_and_says_why() -> None:
    archive = tar([file(f"package/{index}.js", str(index) * 5000) for index in range(20)])

    result = read_archive(archive[: len(archive) // 2])

    assert 0 < len(result.members) < 20
    assert result.format == "tar.gz"
    assert len(result.errors) == 1
    assert "truncated gzip data" in result.errors[0]


def test_corrupt_gzip_data_keeps_the_members_before_it_with_an_error() -> None:
    text = random.Random(2).randbytes(30_000).hex()
    archive = bytearray(tar([file(f"package/{index}.txt", text) for index in range(6)]))
    middle = len(archive) // 2
    archive[middle : middle + 30] = bytes(30)

    result = read_archive(bytes(archive))

    assert 0 < len(result.members) < 6
    (error,) = result.errors  # zlib's or the tar checksum's, whichever notices first
    assert "corrupt" in error
