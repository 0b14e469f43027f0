"""Display escaping and where names and links point."""

from __future__ import annotations

import pytest

from threatfeed.archives.names import display_name, is_absolute, link_leaves_root, parts


@pytest.mark.parametrize(
    ("raw", "shown", "odd"),
    [
        (b"package/index.js", "package/index.js", False),
        ("pkg/caf\u00e9/\u4e2d\u6587.py".encode(), "pkg/caf\u00e9/\u4e2d\u6587.py", False),
        (b"pkg/\xff\xfe", "pkg/\\xff\\xfe", True),
        (b"pkg/a\x00b", "pkg/a\\x00b", True),
        (b"pkg/\x1b]0;title\x07", "pkg/\\x1b]0;title\\x07", True),
        ("pkg/\u202egnp.exe".encode(), "pkg/\\u202egnp.exe", True),
        ("pkg/a\u2028b\u2066c\ufeff".encode(), "pkg/a\\u2028b\\u2066c\\ufeff", True),
        ("pkg/\u0085next".encode(), "pkg/\\x85next", True),
    ],
)
def test_display_name(raw: bytes, shown: str, odd: bool) -> None:
    assert display_name(raw) == (shown, odd)


def test_parts_see_both_separators_and_drop_empty_and_dot() -> None:
    assert parts("./a//b\\c/./d/") == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("name", "absolute"),
    [("/etc/x", True), ("\\\\server\\share", True), ("c:x", True), ("pkg/c:x", False)],
)
def test_is_absolute(name: str, absolute: bool) -> None:
    assert is_absolute(name) is absolute


@pytest.mark.parametrize(
    ("link", "target", "hard", "outside"),
    [
        ("pkg/a", "b", False, False),
        ("pkg/sub/a", "../b", False, False),
        ("pkg/a", "../b", False, False),
        ("pkg/a", "../../b", False, True),
        ("pkg/a", "/etc/passwd", False, True),
        ("pkg/a", "x/../../..", False, True),
        ("pkg/a", "pkg/b", True, False),
        ("pkg/a", "../b", True, True),
        ("pkg/a", "C:\\Windows", True, True),
    ],
)
def test_link_leaves_root(link: str, target: str, hard: bool, outside: bool) -> None:
    assert link_leaves_root(link, target, hard=hard) is outside
