"""End-to-end pipeline throughput through the fake registries, against the engine alone.

The dev corpus's archives (a deterministic subset: every ``--every``-th malware
sample plus every benign package, duplicates by SHA256 dropped) are published on
the fake npm and PyPI, served from their own process so that the registry does
not compete with the pipeline for this process's interpreter. Then, for each
configuration, a fresh database, cursors set to the start of the change streams,
and the real commands:

- engine alone: ``Engine.analyze`` over the same archives in memory, 1 process
  (the ceiling of one core) and 2 processes (the ceiling of this machine);
- embedded default: ``threatfeed serve`` on SQLite (watchers + 1 worker thread);
- procrastinate: ``threatfeed watch`` + ``threatfeed worker -p N`` on PostgreSQL,
  N = 1, 2, 4.

Throughput is archives analysed per second between the first and the last stored
analysis (``analyses.created_at``), so process start-up and rule compilation are
not counted, as they are not for the engine alone.

    .venv/bin/python -m bench.pipeline [--every 5] [--write-docs]
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from bench._docs import ROOT, machine, write_section
from bench.quality import Sample, samples
from threatfeed.analysis import Engine
from threatfeed.store import Database
from threatfeed.store.models import Analysis, Cursor

COMMAND = ".venv/bin/python -m bench.pipeline --write-docs"
THREATFEED = str(ROOT / ".venv" / "bin" / "threatfeed")
POSTGRES = os.environ.get(
    "THREATFEED_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
VERSIONS_PER_DAY = 35_000


@dataclass(frozen=True)
class Result:
    label: str
    archives: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.archives / self.seconds if self.seconds else 0.0


def corpus(every: int) -> list[Sample]:
    """Every ``every``-th malware sample and every benign package, each SHA256 once."""
    chosen, seen = [], set()
    malware = 0
    for sample in samples():
        if sample.label == "malicious":
            malware += 1
            if malware % every:
                continue
        digest = hashlib.sha256(sample.path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            chosen.append(sample)
    return chosen


# -- the fake registry, in a process of its own ------------------------------------------------


def _serve_registry(paths: list[tuple[str, str]], pipe: Connection) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.fakeregistry import FakeRegistry

    with FakeRegistry() as fake:
        for index, (ecosystem, path) in enumerate(paths):
            content = Path(path).read_bytes()
            name = f"bench-{index}"
            if ecosystem == "npm":
                fake.publish_npm(name, "1.0.0", tarball=content)
            else:
                fake.publish_pypi(name, "1.0", sdist=False, wheel=False)
                fake.add_pypi_file(name, "1.0", "sdist", content=content)
        pipe.send(fake.env())
        pipe.recv()  # until told to stop


@contextmanager
def fake_registry(chosen: list[Sample]) -> Iterator[dict[str, str]]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    paths = [(sample.ecosystem, str(sample.path)) for sample in chosen]
    process = context.Process(target=_serve_registry, args=(paths, theirs), daemon=True)
    process.start()
    try:
        yield ours.recv()
    finally:
        ours.send("stop")
        process.join(10)


# -- the engine alone --------------------------------------------------------------------------

_ENGINE: Engine | None = None


def _analyze(path: str) -> None:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Engine()
    _ENGINE.analyze(Path(path).read_bytes())


def engine_alone(chosen: list[Sample], processes: int) -> Result:
    paths = [str(sample.path) for sample in chosen]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        pool.map(_analyze, paths[: processes * 2])  # compile the rules in every process first
        started = time.perf_counter()
        pool.map(_analyze, paths, chunksize=4)
        seconds = time.perf_counter() - started
    return Result(f"engine alone, {processes} process(es)", len(paths), seconds)


# -- the pipeline ------------------------------------------------------------------------------


@contextmanager
def postgres_database() -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _analysed(database: Database) -> tuple[int, float]:
    """How many analyses, and the seconds between the first and the last."""
    with database.session() as session:
        count, first, last = session.execute(
            select(func.count(), func.min(Analysis.created_at), func.max(Analysis.created_at))
        ).one()
    return count, (last - first).total_seconds() if count else 0.0


def run_pipeline(
    label: str, url: str, registry_env: dict[str, str], commands: list[list[str]], total: int
) -> Result:
    database = Database(url)
    with database.session() as session:  # start at the beginning of both change streams
        session.add_all([Cursor(source="npm", position="0"), Cursor(source="pypi", position="0")])
    data_dir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    env = {
        **os.environ,
        **registry_env,
        "THREATFEED_DATABASE_URL": url,
        "THREATFEED_DATA_DIR": str(data_dir),
        "THREATFEED_SECRET_KEY": "bench",
        "THREATFEED_POLL_SECONDS": "0.2",
        "THREATFEED_QUEUE": "procrastinate" if url.startswith("postgresql") else "embedded",
    }
    processes = [
        subprocess.Popen(
            [THREATFEED, *command, "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(data_dir / f"{index}.log").open("wb"),
        )
        for index, command in enumerate(commands)
    ]
    try:
        deadline = time.monotonic() + 60 + total
        while (done := _analysed(database))[0] < total:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{label}: only {done[0]} of {total} analysed; logs in {data_dir}"
                )
            time.sleep(0.5)
        count, seconds = _analysed(database)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)
        database.dispose()
    shutil.rmtree(data_dir, ignore_errors=True)
    # n analyses span n - 1 intervals between the first and the last
    result = Result(label, count - 1, seconds)
    print(f"  {label}: {result.rate:.1f} archives/s", file=sys.stderr)
    return result


def embedded(registry_env: dict[str, str], total: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as folder:
        url = f"sqlite:///{folder}/threatfeed.db"
        port = str(_free_port())
        return run_pipeline(
            "embedded default: threatfeed serve, SQLite, 1 worker thread",
            url,
            registry_env,
            [["serve", "--port", port]],
            total,
        )


def procrastinate(registry_env: dict[str, str], total: int, workers: int) -> Result:
    with postgres_database() as url:
        return run_pipeline(
            f"procrastinate on PostgreSQL, {workers} worker process(es)",
            url,
            registry_env,
            [["watch"], ["worker", "--processes", str(workers)]],
            total,
        )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- report ------------------------------------------------------------------------------------


def report(chosen: list[Sample], results: list[Result], started: str, every: int) -> str:
    ceiling = results[0].rate
    npm = sum(1 for sample in chosen if sample.ecosystem == "npm")
    size = sum(sample.path.stat().st_size for sample in chosen) / 2**20
    lines = [
        f"Measured {started} on {machine()}. Command: `{COMMAND}`.",
        "",
        f"{len(chosen)} archives ({npm} npm, {len(chosen) - npm} PyPI, {size:.0f} MiB): every "
        f"{every}th malware sample of the dev corpus and every benign package, each SHA256 once, "
        "published on the fake registries (tests/fakeregistry, in its own process on "
        "loopback). Each pipeline run starts from an empty database with its cursors at the "
        "start of both change streams and goes through the real protocol: change feed, "
        "packument or JSON metadata, download verified against the published digest, "
        "analysis, storage, one `change` and one `archive` job per release. Rate = analyses "
        "per second between the first and the last one stored (start-up excluded, as for the "
        "engine alone).",
        "",
        "| configuration | archives/s | vs engine, 1 process | archives/day |",
        "|---|---:|---:|---:|",
    ]
    for result in results:
        lines.append(
            f"| {result.label} | {result.rate:.1f} | {100 * result.rate / ceiling:.0f}% "
            f"| {result.rate * 86400:,.0f} |"
        )
    embedded_rate = next(r.rate for r in results if r.label.startswith("embedded"))
    lines += [
        "",
        f"**The target is not met**: the embedded default runs at "
        f"{100 * embedded_rate / ceiling:.0f}% of the engine's own throughput, not 70%. "
        "Where the time goes (cProfile of the same pipeline in one process over 250 of these "
        "archives): the engine is about a sixth of it; the rest is the store, about 10 SQL "
        "statements in 4 short transactions per job (claim, checks, results with completion, "
        "the triage index kept in the results' transaction) at roughly 0.7 ms a statement "
        "through the SQLAlchemy ORM, and the HTTP fetches of metadata and archive. The dev "
        "corpus is mostly small malware archives that the engine reads in a few milliseconds, "
        "so the fixed cost per job dominates; on larger archives the ratio rises. Reaching 70% "
        "needs batching (several jobs claimed and completed per transaction), not tuning. "
        "PostgreSQL runs commit with `synchronous_commit = off` (see "
        "src/threatfeed/pipeline/sessions.py for why that loses nothing): a commit that waits "
        "for the WAL flush took 20 to 90 ms on this shared machine, most of a job. The "
        "procrastinate path pays procrastinate's own fetch per job on top (about 20 ms here, "
        "measured with an empty task) and the outbox relay.",
    ]
    lines += [
        "",
        f"This machine has {os.cpu_count()} cores, shared with other work while measuring: "
        "beyond 2 worker processes there is no core left to scale onto (4 processes "
        "measure the queue's overhead under oversubscription, not scaling). Scaling should be "
        "read against the engine alone with 2 processes, the machine's own ceiling.",
        "",
        f"Headroom: npm and PyPI publish about {VERSIONS_PER_DAY:,} versions a day "
        f"({VERSIONS_PER_DAY / 86400:.2f}/s on average); the embedded default alone handles "
        f"{embedded_rate * 86400 / VERSIONS_PER_DAY:,.0f}x that, on one worker thread (bursts "
        "of tens of thousands of packages in two days are within it too). Real registries add "
        "network latency per download that the loopback registry does not have: that is "
        "what more worker threads or processes absorb.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=5, help="take every N-th malware sample")
    parser.add_argument("--workers", default="1,2,4", help="procrastinate worker counts")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    chosen = corpus(args.every)
    print(f"{len(chosen)} archives", file=sys.stderr)
    results = [engine_alone(chosen, 1), engine_alone(chosen, 2)]
    for result in results:
        print(f"  {result.label}: {result.rate:.1f} archives/s", file=sys.stderr)
    with fake_registry(chosen) as registry_env:
        results.append(embedded(registry_env, len(chosen)))
        for workers in (int(n) for n in args.workers.split(",")):
            results.append(procrastinate(registry_env, len(chosen), workers))
    body = report(chosen, results, started, args.every)
    print(body)
    if args.write_docs:
        write_section("## Pipeline", body)


if __name__ == "__main__":
    main()
