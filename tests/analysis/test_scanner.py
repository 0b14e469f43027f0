from __future__ import annotations

import gc
from pathlib import Path

from tests.analysis.builders import npm_tarball
from threatfeed.scanner import scan


def test_in_process_scan_freezes_the_startup_heap_only_while_it_runs(tmp_path: Path) -> None:
    paths = []
    for n in range(2):
        path = tmp_path / f"p{n}.tgz"
        path.write_bytes(npm_tarball(name=f"left-padder-{n}"))
        paths.append(path)
    results = scan(paths, jobs=1)
    first = next(results)
    assert gc.get_freeze_count() > 0  # the engine and modules are out of the collector's way
    rest = list(results)
    assert [r.analysis.name for r in (first, *rest)] == ["left-padder-0", "left-padder-1"]
    assert gc.get_freeze_count() == 0  # and the caller's process collects as before
