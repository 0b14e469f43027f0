"""CPU per release of each stage of the pipeline, one stage at a time, in this process.

``bench.pipeline`` measures whole runs, where the stages overlap on threads and the
watchers' idle polls cost more the longer a run takes on a loaded machine. Here the
same code runs one stage after the other on one thread (the fetch stage on its own
threads, as in a worker): the watchers read both change streams, then batches are
claimed, fetched, analysed and stored until none is left, against the fake registry
in a process of its own and SQLite, and each stage's process CPU time is divided by
the releases analysed. What is not the engine is what the pipeline adds to it.

    .venv/bin/python -m bench.pipeline_stages [--releases 300] [--batch 16] [--done-jobs 0]

``--done-jobs N`` starts from a table holding N done jobs and planner statistics
(``ANALYZE``), as a day of the default job retention does: a claim should cost the
same with or without them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict

from sqlalchemy import insert

from bench.pipeline import corpus, fake_registry
from threatfeed.config import Settings
from threatfeed.pipeline.embedded import EmbeddedQueue
from threatfeed.pipeline.process import Processor
from threatfeed.pipeline.watcher import Watcher
from threatfeed.registries import open_registries
from threatfeed.store import Database
from threatfeed.store.models import Cursor, Job, table, utcnow


def stages(releases: int, batch: int, done_jobs: int = 0) -> dict[str, float]:
    """CPU microseconds per analysed release of each stage, by stage and job kind."""
    chosen = corpus(5)
    chosen = chosen[:: max(1, len(chosen) // releases)][:releases]
    spent: defaultdict[str, float] = defaultdict(float)
    with fake_registry(chosen) as (env, _), tempfile.TemporaryDirectory() as folder:
        os.environ.update({**env, "THREATFEED_DATA_DIR": folder, "THREATFEED_SECRET_KEY": "x"})
        database = Database(f"sqlite:///{folder}/threatfeed.db")
        with database.session() as session:
            session.add_all([Cursor(source=s, position="0") for s in ("npm", "pypi")])
        if done_jobs:
            now = utcnow()
            done = {"kind": "archive", "payload": {}, "state": "done", "updated_at": now}
            with database.engine.begin() as connection:
                connection.execute(insert(table(Job)), [done] * done_jobs)
                connection.exec_driver_sql("ANALYZE")
        queue = EmbeddedQueue(database)
        registries = open_registries(Settings.from_env())
        processor = Processor(database, queue, registries)
        processor.engine  # noqa: B018 -- compiled before the clock starts

        started = time.process_time()
        for registry in registries.values():
            watcher = Watcher(database, queue, registry, poll_seconds=0)
            while not watcher.step().caught_up:
                pass
        spent["watch"] += time.process_time() - started
        analysed = 0
        while True:
            started = time.process_time()
            jobs = queue.claim_batch("bench", batch)
            spent["claim"] += time.process_time() - started
            if not jobs:
                break
            kind = jobs[0].kind
            started = time.process_time()
            fetched = processor.fetch(jobs)
            spent[f"fetch {kind}"] += time.process_time() - started
            started = time.process_time()
            outcomes = processor.analyse(fetched)
            spent[f"analyse {kind}"] += time.process_time() - started
            started = time.process_time()
            processor.store(outcomes)
            spent[f"store {kind}"] += time.process_time() - started
            analysed += sum(1 for outcome in outcomes if outcome.analysis is not None)
        processor.close()
        for registry in registries.values():
            registry.close()
        database.dispose()
    return {stage: 1e6 * seconds / max(1, analysed) for stage, seconds in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=300)
    parser.add_argument("--batch", type=int, default=16, help="jobs per claim")
    parser.add_argument("--done-jobs", type=int, default=0, help="done jobs in the table at start")
    args = parser.parse_args()
    cpu = stages(args.releases, args.batch, args.done_jobs)
    for stage, micros in cpu.items():
        print(f"{stage:16} {micros:9,.0f} µs/release")
    rest = sum(v for stage, v in cpu.items() if stage != "analyse archive")
    print(f"{'not the engine':16} {rest:9,.0f} µs/release (all but 'analyse archive')")


if __name__ == "__main__":
    main()
