"""A worker's loop in a thread of this process, as ``threatfeed serve`` runs it."""

from __future__ import annotations

import gc
import sys
import threading

import pytest

from tests.fakeregistry import FakeRegistry
from tests.pipeline.conftest import Pipeline
from tests.pipeline.processes import wait_for
from tests.pipeline.samples import publish_npm
from threatfeed.pipeline.worker import work


def test_a_stopped_worker_frees_its_engine_in_its_own_thread(
    pipeline: Pipeline, fake_registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """YARA-X frees a scanner only in the thread that compiled it: one freed later by the
    collector, in another thread, is leaked with an unraisable ``RuntimeError``."""
    unraisable: list[sys.UnraisableHookArgs] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    published = publish_npm(fake_registry, "stealer", "1.0.0", evil=True)
    pipeline.watch()
    stop = threading.Event()
    worker = threading.Thread(
        target=work, args=(pipeline.queue, pipeline.processor, stop), kwargs={"idle_seconds": 0.05}
    )
    worker.start()
    try:
        wait_for(lambda: bool(pipeline.analyses()), 60, "the archive analysed")
    finally:
        stop.set()
        worker.join()
    pipeline.processor.close()
    gc.collect()
    assert pipeline.analyses() == {("npm", published.name, "1.0.0", published.filename): True}
    assert [hook.exc_value for hook in unraisable] == []
