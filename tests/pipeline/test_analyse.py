"""The analysis stage on its own: each new SHA256 analysed once, twins and repeats taken
from the analyses this thread remembers."""

from __future__ import annotations

import hashlib

from tests.fakeregistry.archives import npm_tarball
from threatfeed.pipeline.ingest import ArchiveRecord
from threatfeed.pipeline.jobs import ARCHIVE
from threatfeed.pipeline.process import RECENT, Fetched, Processor
from threatfeed.pipeline.queue import Job
from threatfeed.store import Database


def _fetched(index: int, name: str) -> Fetched:
    content = npm_tarball(name, "1.0.0", {"README.md": f"# {name}\n"})
    record = ArchiveRecord(
        "npm", name, "1.0.0", f"{name}-1.0.0.tgz", hashlib.sha256(content).hexdigest(), len(content)
    )
    job = Job(index, ARCHIVE, {}, 1, 3, "token")
    return Fetched(job, record=record, content=content)


def test_a_repeat_remembered_at_the_start_of_a_batch_survives_its_eviction(
    database: Database,
) -> None:
    processor = Processor(database, queue=None, registries={})  # type: ignore[arg-type]
    try:
        oldest = _fetched(0, "oldest")
        processor.analyse([oldest])
        processor.analyse([_fetched(i, f"filler-{i}") for i in range(1, RECENT)])
        # ``oldest`` is the first analysis to be forgotten, by the next new one
        outcomes = processor.analyse([_fetched(RECENT, "newcomer"), oldest])
        assert [o.fetched.record.name for o in outcomes if o.fetched.record] == [
            "newcomer",
            "oldest",
        ]
        assert outcomes[1].analysis is not None
        assert outcomes[1].analysis.sha256 == oldest.record.sha256  # type: ignore[union-attr]
    finally:
        processor.close()
