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
