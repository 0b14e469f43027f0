"""The engine in a child process: same analyses, a dead child replaced, an orphan never left.

The engines here are real (spawned children compile the real rules); the ones that
misbehave do it on archives marked for it, from a factory the child imports by name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.fakeregistry.archives import npm_tarball
from tests.pipeline.processes import running
from tests.pipeline.samples import npm_stealer_files
from threatfeed.analysis import Analysis, Engine
from threatfeed.pipeline.engine_process import EngineFailed, EngineProcess

DIE = b"die: the engine process exits at this archive"
RAISE = b"raise: the engine raises at this archive"
STALL = b"stall: the engine never finishes this archive"


class MisbehavingEngine(Engine):
    """The real engine, except on the two marked archives."""

    def analyze(self, data: bytes, *, filename: str | None = None) -> Analysis:
        if data == DIE:
            os._exit(3)
        if data == RAISE:
            raise ValueError("this engine refuses the archive")
        if data == STALL:
            time.sleep(3600)
        return super().analyze(data, filename=filename)


EVIL = npm_tarball("evil-hook", "1.0.0", npm_stealer_files("evil-hook", "1.0.0"))
FINE = npm_tarball("fine", "1.0.0", {"README.md": "# fine\n"})


def analysis_of(result: object) -> Analysis:
    assert isinstance(result, tuple), result
    analysis, seconds = result
    assert seconds > 0
    assert isinstance(analysis, Analysis)
    return analysis


@pytest.fixture
def child() -> Iterator[EngineProcess]:
    engine = EngineProcess(MisbehavingEngine)
    yield engine
    engine.close()


@pytest.mark.slow
def test_the_child_analyses_as_the_engine_in_this_thread_does(child: EngineProcess) -> None:
    here = Engine()
    results = child.analyze([EVIL, FINE, EVIL])
    expected = [here.analyze(EVIL), here.analyze(FINE), here.analyze(EVIL)]
    here.close()
    assert [analysis_of(result) for result in results] == expected
    assert analysis_of(results[0]).flagged
    assert not analysis_of(results[1]).flagged


@pytest.mark.slow
def test_an_archive_that_kills_the_child_fails_alone_and_a_new_child_goes_on(
    child: EngineProcess,
) -> None:
    results = child.analyze([FINE, DIE, EVIL])
    assert isinstance(results[1], EngineFailed)
    assert not analysis_of(results[0]).flagged
    assert analysis_of(results[2]).flagged
    assert analysis_of(child.analyze([EVIL])[0]).flagged


@pytest.mark.slow
def test_an_engine_error_fails_its_archive_only(child: EngineProcess) -> None:
    results = child.analyze([RAISE, FINE])
    assert isinstance(results[0], EngineFailed)
    assert "ValueError: this engine refuses the archive" in str(results[0])
    assert not analysis_of(results[1]).flagged


@pytest.mark.slow
def test_an_archive_that_stalls_the_child_fails_alone_after_its_time_limit() -> None:
    child = EngineProcess(MisbehavingEngine, archive_seconds=2)
    try:
        child.analyze([FINE])  # compiles the rules: not counted against the archive
        stalled = child._child
        started = time.monotonic()
        results = child.analyze([FINE, STALL, EVIL])
        assert time.monotonic() - started < 60
        assert isinstance(results[1], EngineFailed)
        assert "took too long" in str(results[1])
        assert not analysis_of(results[0]).flagged
        assert analysis_of(results[2]).flagged
        assert stalled is not None
        assert not stalled.is_alive()  # killed, not left running beside its successor
    finally:
        child.close()


@pytest.mark.slow
def test_a_child_killed_between_batches_is_replaced(child: EngineProcess) -> None:
    child.analyze([FINE])
    first = child._child
    assert first is not None
    assert first.pid is not None
    os.kill(first.pid, signal.SIGKILL)
    first.join(10)
    assert analysis_of(child.analyze([EVIL, FINE])[0]).flagged
    assert child._child is not None
    assert child._child.pid != first.pid


PARENT = """
import sys, time
from threatfeed.pipeline.engine_process import EngineProcess
child = EngineProcess()
child.analyze([sys.stdin.buffer.read()])
print(child._child.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_the_child_exits_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert parent.stdin is not None
    assert parent.stdout is not None
    parent.stdin.write(FINE)
    parent.stdin.close()
    pid = int(parent.stdout.readline())
    assert running(pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 10
    while running(pid):
        assert time.monotonic() < deadline, "the engine process outlived its parent"
        time.sleep(0.05)
