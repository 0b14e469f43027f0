"""Formats by bytes, nesting with one shared budget, and no exception on any input."""

from __future__ import annotations

import gzip
import tarfile
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.archives.builders import (
    MiB,
    file,
    gzip_bomb_tar,
    header,
    padded,
    tar,
    zip_archive,
    zip_bomb,
)
from tests.archives.results import contents, kinds, paths
from tests.fakeregistry.archives import npm_tarball, sdist, wheel
from threatfeed.archives import FINDING_KINDS, ArchiveContents, Limits, read_archive


def test_npm_tarball() -> None:
    result = read_archive(npm_tarball("left-pad", "1.3.0"))

    assert result.format == "tar.gz"
    assert b'"name": "left-pad"' in contents(result)["package/package.json"]
    assert (result.findings, result.errors) == ((), ())
    assert result.uncompressed_bytes >= sum(member.size for member in result.members)


def test_sdist_and_wheel() -> None:
    source = read_archive(sdist("demo-pkg", "1.0"))
    built = read_archive(wheel("demo-pkg", "1.0"))

    assert source.format == "tar.gz"
    assert "demo_pkg-1.0/setup.py" in contents(source)
    assert built.format == "zip"
    assert "demo_pkg-1.0.dist-info/METADATA" in contents(built)
    assert (source.errors, built.errors, source.findings, built.findings) == ((), (), (), ())


def test_format_comes_from_bytes_not_names() -> None:
    """The reader is never given a name: a wheel saved as .tar.gz is still a zip."""
    members = [file("pkg-1.0/setup.py", "from setuptools import setup\n")]
    plain = tar(members, compression="")

    assert read_archive(tar(members, compression="bz2")).format == "tar.bz2"
    assert read_archive(tar(members, compression="xz")).format == "tar.xz"
    assert read_archive(plain).format == "tar"
    assert read_archive(zip_archive([("pkg-1.0/setup.py", b"")])).format == "zip"
    for archive in (tar(members, compression="bz2"), tar(members, compression="xz"), plain):
        assert paths(read_archive(archive)) == ["pkg-1.0/setup.py"]


def test_pre_posix_tar_without_magic_is_recognised_by_its_checksum() -> None:
    block = bytearray(header(b"pkg/setup.py", 2))
    block[257:265] = bytes(8)
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)

    result = read_archive(bytes(block) + padded(b"ok") + bytes(1024))

    assert (result.format, contents(result)) == ("tar", {"pkg/setup.py": b"ok"})


def test_concatenated_gzip_streams_are_one_archive_and_trailing_zeros_are_ignored() -> None:
    first = header(b"pkg/a.py", 1) + padded(b"a")
    second = header(b"pkg/b.py", 1) + padded(b"b") + bytes(1024)

    result = read_archive(gzip.compress(first) + gzip.compress(second) + bytes(100))

    assert contents(result) == {"pkg/a.py": b"a", "pkg/b.py": b"b"}
    assert result.errors == ()


def test_compressed_data_that_is_not_a_tar_is_an_error() -> None:
    result = read_archive(gzip.compress(b"just some text" * 100))

    assert (result.format, result.members) == ("gzip", ())
    assert result.errors == ("the gzip data does not hold a tar archive",)


def test_unknown_and_empty_inputs_are_errors() -> None:
    assert read_archive(b"").errors == ("empty file",)
    assert read_archive(b"\x89PNG\r\n\x1a\n....").errors == (
        "not an archive (unrecognised first bytes b'\\x89PNG\\r\\n\\x1a\\n')",
    )


@pytest.mark.parametrize("compression", ["bz2", "xz"])
def test_bzip2_and_xz_bombs_stop_at_the_ratio(compression: str) -> None:
    bomb = tar([file("pkg/zeros", bytes(16 * MiB))], compression=compression)

    result = read_archive(bomb)

    assert "compression_bomb" in kinds(result)
    assert result.uncompressed_bytes < 2 * MiB


def test_nested_archives_are_read_with_paths_through_them() -> None:
    wheel_inside = wheel("inner", "2.0")
    outer = tar([file("pkg-1.0/vendor/inner-2.0-py3-none-any.whl", wheel_inside)])

    result = read_archive(outer)

    assert "pkg-1.0/vendor/inner-2.0-py3-none-any.whl!/inner/__init__.py" in contents(result)
    assert kinds(result) == {"nested_archive": ["pkg-1.0/vendor/inner-2.0-py3-none-any.whl"]}


def test_nesting_stops_at_the_depth_limit() -> None:
    level3 = zip_archive([("deepest.py", b"3")])
    level2 = tar([file("l3.zip", level3)])
    level1 = zip_archive([("l2.tar.gz", level2)])
    outer = tar([file("pkg/l1.zip", level1)])

    result = read_archive(outer, limits=Limits(max_depth=2))

    assert paths(result) == ["pkg/l1.zip", "pkg/l1.zip!/l2.tar.gz", "pkg/l1.zip!/l2.tar.gz!/l3.zip"]
    nested = [finding for finding in result.findings if finding.kind == "nested_archive"]
    assert [finding.path for finding in nested] == [
        "pkg/l1.zip!/l2.tar.gz!/l3.zip",
        "pkg/l1.zip!/l2.tar.gz",
        "pkg/l1.zip",
    ]
    assert "not read" in nested[0].detail
    deeper = read_archive(outer, limits=Limits(max_depth=3))
    assert contents(deeper)["pkg/l1.zip!/l2.tar.gz!/l3.zip!/deepest.py"] == b"3"


def test_nested_names_are_checked_like_outer_ones() -> None:
    inner = tar([file("../../escape.py", "1")])

    result = read_archive(zip_archive([("pkg/inner.tar.gz", inner)]))

    assert kinds(result)["path_traversal"] == ["pkg/inner.tar.gz!/../../escape.py"]


def test_nested_bombs_share_one_budget() -> None:
    """A zip of gzip bombs costs no more than one: the budget and ratio are per outer read."""
    bomb = gzip_bomb_tar(256 * MiB)
    outer = zip_archive([(f"b{index}.tar.gz", bomb) for index in range(20)])

    started = time.monotonic()
    result = read_archive(outer)

    assert time.monotonic() - started < 10
    assert result.uncompressed_bytes <= Limits().max_ratio * len(outer) + 2 * MiB
    assert "compression_bomb" in kinds(result)


def test_corrupt_nested_archive_is_an_error_and_the_outer_read_goes_on() -> None:
    broken = zip_archive([("a.py", b"1" * 100)])[:-30]  # its end record cut off
    outer = tar([file("pkg/broken.zip", broken), file("pkg/after.py", "ok")])

    result = read_archive(outer)

    assert contents(result)["pkg/after.py"] == b"ok"
    assert result.errors == (
        "pkg/broken.zip: no end of central directory record (truncated or not a zip); "
        "1 entries recovered from local headers",
    )


def test_findings_use_only_documented_kinds() -> None:
    samples = [
        zip_bomb(64 * MiB),
        tar([file("../x", "1"), file("/abs", "2"), file("\udcff", "3")]),
        tar([file("a", "1"), file("a", "2")]),
    ]
    for sample in samples:
        assert {finding.kind for finding in read_archive(sample).findings} <= FINDING_KINDS


_SEEDS = [
    npm_tarball("seed", "1.0.0", {"lib/a.js": "module.exports = 1;\n" * 50}),
    wheel("seed", "1.0", {"seed/data.txt": "x" * 3000}),
    tar([file("pkg/a.py", "print(1)\n" * 40), file("pkg/b/c.py", "2")], compression="bz2"),
    tar([file("pkg/a.py", "a" * 2000)], compression="", tar_format=tarfile.PAX_FORMAT),
]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.sampled_from(_SEEDS),
    cut=st.integers(min_value=0, max_value=10**6),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=6),
)
def test_damaged_archives_never_raise(seed: bytes, cut: int, flips: list[tuple[int, int]]) -> None:
    data = bytearray(seed[: max(1, len(seed) - cut % len(seed))])
    for position, mask in flips:
        data[position % len(data)] ^= mask

    result = read_archive(bytes(data), limits=Limits(max_seconds=5))

    assert isinstance(result, ArchiveContents)
    assert result.uncompressed_bytes <= Limits().max_total_bytes + MiB
    assert all(isinstance(error, str) and error for error in result.errors)
