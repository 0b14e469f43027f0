"""Scanning archives on disk: find them by their bytes, analyse them in worker processes.

Each worker compiles the engine once (YARA rules, parsers) and keeps it for
every archive it is handed; results come back in the order the paths were given.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from threatfeed.analysis import ENGINE_VERSION, Analysis, Engine
from threatfeed.archives.reader import container

MAX_FILE_BYTES = 512 * 2**20
"""Larger files are reported, not read: no package archive is anywhere near this."""


@dataclass(frozen=True)
class ScanResult:
    path: str
    size: int
    analysis: Analysis
    elapsed_ms: float

    def as_json(self) -> dict[str, Any]:
        a = self.analysis
        return {
            "path": self.path,
            "ecosystem": a.ecosystem,
            "name": a.name,
            "version": a.version,
            "sha256": a.sha256,
            "score": a.score,
            "flagged": a.flagged,
            "indicators": a.indicators,
            "errors": list(a.errors),
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


def _looks_like_archive(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    return container(head, top=True) is not None


def find_archives(paths: Iterable[Path]) -> Iterator[Path]:
    """Named files as given; folders walked (links not followed) for files that are archives."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for root, dirs, files in os.walk(path, followlinks=False):
            dirs.sort()
            for name in sorted(files):
                candidate = Path(root, name)
                if not candidate.is_symlink() and _looks_like_archive(candidate):
                    yield candidate


def _unreadable(message: str) -> Analysis:
    return Analysis(
        ecosystem=None,
        name=None,
        version=None,
        sha256="",
        score=0.0,
        flagged=False,
        indicators={},
        locations=(),
        errors=(message,),
        files=(),
        engine_version=ENGINE_VERSION,
    )


_engine: Engine | None = None


def _start_worker(extra_yara_dir: Path | None) -> None:
    global _engine
    _engine = Engine(extra_yara_dir=extra_yara_dir)
    # Everything alive now (modules, compiled rules, name indexes) lives as long as the
    # worker: frozen, the cyclic collector stops walking it again each time a syntax
    # tree's allocations set off a full collection (4% of a whole scan's time).
    gc.freeze()


def _scan_path(path: Path) -> ScanResult:
    assert _engine is not None, "the worker was not started"
    started = time.perf_counter()
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            analysis = _unreadable(f"file is {size} bytes, over the {MAX_FILE_BYTES} limit")
        else:
            data = path.read_bytes()
            analysis = _engine.analyze(data, filename=path.name)
    except OSError as exc:
        size, analysis = 0, _unreadable(f"cannot read file: {exc.strerror or exc}")
    elapsed = (time.perf_counter() - started) * 1000
    return ScanResult(str(path), size, analysis, elapsed)


def scan(
    paths: Sequence[Path], *, jobs: int = 1, extra_yara_dir: Path | None = None
) -> Iterator[ScanResult]:
    """Analyses every path, in order; ``jobs`` worker processes when more than one."""
    if jobs <= 1 or len(paths) <= 1:
        _start_worker(extra_yara_dir)
        try:
            yield from map(_scan_path, paths)
        finally:
            gc.unfreeze()  # this process may go on (tests, callers): collect as before
        return
    context = get_context("forkserver")
    with context.Pool(jobs, initializer=_start_worker, initargs=(extra_yara_dir,)) as pool:
        yield from pool.imap(_scan_path, paths, chunksize=2)
