"""The engine in a child process of its own, for a worker that shares its interpreter.

``threatfeed serve`` runs the API, the watchers and a worker's fetch and store
threads in one process. With the engine in that process too, every one of those
threads takes the GIL from the analysis, and the analysis from them: the engine
ran at two thirds of its own speed. Here the worker hands each batch's downloads
to a child process that does nothing but analyse them and send the analyses back,
so the rest of the worker runs beside the engine rather than between its steps
(on the same number of analysing processes: one).

The child holds no lease and writes nothing: the parent claims, renews and stores
as before, so what holds under ``kill -9`` still holds. The child reads its batches
from a pipe whose other end only the parent holds; when the parent dies, however it
dies, the child's next read (or its next answer) fails and it exits. A child that
dies (killed, or crashed by an archive) is replaced, and its batch analysed again
one archive at a time in the new one, so only an archive that kills the engine fails
(and is retried, then failed after its attempts, like any other job). An archive the
child spends more than ``archive_seconds`` on is treated the same way: the child is
killed, so no input can hold a worker, and the leases it renews, for ever.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from threatfeed.analysis import Analysis, Engine
from threatfeed.errors import ThreatfeedError

log = logging.getLogger(__name__)

Result = tuple[Analysis, float] | Exception
"""An analysis and the seconds it took, or why there is none."""

#: Far beyond any real archive (the dev corpus's slowest takes 0.2 s), short enough that
#: an archive built to stall the engine fails within minutes instead of never.
ARCHIVE_SECONDS = 120.0
#: Added to the first answer of a new child, which compiles the rules first.
START_SECONDS = 60.0


class EngineFailed(ThreatfeedError):
    """The engine raised on an archive (in the child), or the child died analysing it."""


class EngineProcess:
    """A child process running ``make_engine()`` (compiled at its first batch, as a worker
    thread compiles its engine at its first archive). ``make_engine`` must be importable by
    name: the child is spawned, not forked (forking a process with threads running)."""

    def __init__(
        self,
        make_engine: Callable[[], Engine] = Engine,
        *,
        archive_seconds: float = ARCHIVE_SECONDS,
    ) -> None:
        self._make_engine = make_engine
        self._archive_seconds = archive_seconds
        self._lock = threading.Lock()
        self._child: BaseProcess | None = None
        self._connection: Connection | None = None

    def analyze(self, contents: Sequence[bytes]) -> list[Result]:
        """Each archive's analysis, in order: the batch goes in one message, the answers
        come back one by one as the child finishes each archive."""
        if not contents:
            return []
        with self._lock:
            try:
                return self._round_trip(contents)
            except (EOFError, OSError) as exc:
                failure = self._discard(exc)
            if len(contents) == 1:
                return [failure]
            return [self._alone(data) for data in contents]

    def _alone(self, data: bytes) -> Result:
        try:
            return self._round_trip([data])[0]
        except (EOFError, OSError) as exc:
            return self._discard(exc)

    def _round_trip(self, contents: Sequence[bytes]) -> list[Result]:
        """Sends the batch, then takes one answer per archive, each within its time limit
        (``TimeoutError``, an ``OSError``, when the child overstays)."""
        fresh = self._connection is None
        connection = self._connection or self._start()
        connection.send(list(contents))
        results: list[Result] = []
        for _ in contents:
            limit = self._archive_seconds + (START_SECONDS if fresh and not results else 0.0)
            if not connection.poll(limit):
                raise TimeoutError(f"no analysis after {self._archive_seconds:g} s")
            answer: tuple[Analysis, float] | str = connection.recv()
            results.append(answer if isinstance(answer, tuple) else EngineFailed(answer))
        return results

    def _start(self) -> Connection:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        child = context.Process(
            target=_serve, args=(theirs, self._make_engine), name="engine", daemon=True
        )
        child.start()
        theirs.close()  # the child's end lives in the child alone: EOF there when we die
        self._child, self._connection = child, ours
        return ours

    def _discard(self, exc: Exception) -> EngineFailed:
        """Forgets a child that stopped answering (after making sure it is gone), and says
        what becomes of the archive it was on."""
        log.error(
            "the engine process stopped answering (%s: %s); starting another",
            type(exc).__name__,
            exc,
        )
        self._stop(timeout=1.0)
        if isinstance(exc, TimeoutError):
            return EngineFailed(f"the engine process took too long on this archive ({exc})")
        return EngineFailed("the engine process died analysing this archive")

    def _stop(self, timeout: float) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._child is not None:
            self._child.join(timeout)
            if self._child.is_alive():
                self._child.kill()
                self._child.join(timeout)
        self._child, self._connection = None, None

    def close(self, timeout: float = 5.0) -> None:
        """Ends the child: it sees the pipe closed and exits (killed if it does not)."""
        with self._lock:
            self._stop(timeout)


def _serve(connection: Connection, make_engine: Callable[[], Engine]) -> None:
    """The child: batches in, analyses out, until the parent closes the pipe or dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group; the parent decides
    engine: Engine | None = None
    while True:
        try:
            contents: list[bytes] = connection.recv()
        except (EOFError, OSError):
            return
        engine = engine or make_engine()
        for data in contents:
            started = time.perf_counter()
            answer: tuple[Analysis, float] | str
            try:
                answer = (engine.analyze(data), time.perf_counter() - started)
            except Exception as exc:  # sent as text: not every exception pickles
                answer = f"{type(exc).__name__}: {exc}"
            try:
                connection.send(answer)
            except OSError:  # the parent is gone
                return
