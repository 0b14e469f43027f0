from __future__ import annotations

import gc

import pytest

from tests.analysis.builders import sdist
from threatfeed.analysis import Engine, memo


def _fail_while_paused() -> None:
    with memo.collector_paused():
        assert not gc.isenabled()
        raise ValueError("hostile input")


def test_collector_is_paused_inside_and_resumed_after_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(ValueError, match="hostile input"):
        _fail_while_paused()
    assert gc.isenabled()


def test_a_callers_pause_is_left_to_the_caller() -> None:
    gc.disable()
    try:
        with memo.collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_engine_resumes_the_collector_after_each_archive(engine: Engine) -> None:
    engine.analyze(sdist({"t/x.py": "import os\nos.system('id')\n"}))
    assert gc.isenabled()
    engine.analyze(b"\x1f\x8b\x08 truncated gzip")
    assert gc.isenabled()


def test_by_content_remembers_equal_bytes_and_reads_a_file_sharing_their_fingerprint() -> None:
    calls: list[bytes] = []

    def read(data: bytes, kind: str) -> tuple[bytes, str]:
        calls.append(data)
        return data[100:110], kind

    remembered = memo.ByContent(read, budget=64 * 1024, files=4, smallest=16)
    ends = b"#" * 100
    first, second = ends + b"x = 1\n" + ends, ends + b"y = 2\n" + ends
    assert remembered(first, "python") == (b"x = 1\n####", "python")
    assert remembered(bytes(first), "python") == (b"x = 1\n####", "python")
    assert remembered(first, "javascript") == (b"x = 1\n####", "javascript")
    assert remembered(second, "python") == (b"y = 2\n####", "python")
    assert remembered(b"x = 1", "python") == (b"", "python")  # too small to remember
    assert calls == [first, first, second, b"x = 1"]


def test_by_content_forgets_the_oldest_files_past_its_budget() -> None:
    remembered: memo.ByContent[None, int] = memo.ByContent(
        lambda data, _: len(data), budget=64 * 1024, files=8, smallest=0
    )
    for n in range(20):
        remembered(b"%d" % n + b"\n" * 1000, None)
    assert len(remembered._seen) == 8
    assert remembered._seen_bytes == sum(len(data) for data, _ in remembered._seen.values())
