"""End-to-end pipeline throughput through the fake registries, against the engine alone.

The dev corpus's archives (a deterministic subset: every ``--every``-th malware
sample plus every benign package, duplicates by SHA256 dropped) are published on
the fake npm and PyPI, served from their own process so that the registry does
not compete with the pipeline for this process's interpreter. Then, for each
configuration, a fresh database, cursors set to the start of the change streams,
and the real commands:

- engine alone: ``Engine.analyze`` over the same archives, 1 process (the ceiling
  of one core) and 2 processes (the ceiling of this machine), before the first
  pipeline and after each one: the machine is shared and its load drifts, so each
  pipeline is compared with the engine runs on either side of it;
- embedded default: ``threatfeed serve`` on SQLite (API, watchers and one worker in
  one process, its engine in a child process), and the embedded queue per core:
  ``threatfeed serve --workers 0`` + ``threatfeed worker -p 2`` on the same SQLite
  database;
- procrastinate: ``threatfeed watch`` + ``threatfeed worker -p N`` on PostgreSQL,
  N = 1, 2, 4.

Throughput is archives analysed per second between the first and the last stored
analysis (``analyses.created_at``), so process start-up and rule compilation are
not counted, as they are not for the engine alone.

    .venv/bin/python -m bench.pipeline [--every 5] [--embedded 1,2] [--workers 1,2,4]
        [--write-docs]
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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path

from sqlalchemy import func, select
from tests.postgres import throwaway_schema

from bench._docs import ROOT, machine, write_section
from bench._proc import (
    CpuMeter,
    Snapshot,
    busiest_per_process,
    postgres_backends,
    spent,
    tree,
)
from bench.quality import Sample, samples
from threatfeed.analysis import Engine
from threatfeed.store import Database
from threatfeed.store.models import Analysis, Cursor, Job

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
    processes: int
    """Processes doing the analysis: the engine alone with as many is its fair ceiling."""
    cpu: Mapping[str, float] = field(default_factory=dict)
    """CPU microseconds per archive, by role (``engine`` for the engine alone; for a
    pipeline each process role, ``analysis threads`` and ``total``)."""

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
def fake_registry(chosen: list[Sample]) -> Iterator[tuple[dict[str, str], int]]:
    """The registry's environment variables and its process id."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    paths = [(sample.ecosystem, str(sample.path)) for sample in chosen]
    process = context.Process(target=_serve_registry, args=(paths, theirs), daemon=True)
    process.start()
    try:
        assert process.pid is not None
        yield ours.recv(), process.pid
    finally:
        ours.send("stop")
        process.join(10)


# -- the engine alone --------------------------------------------------------------------------

_ENGINE: Engine | None = None


def _analyze(path: str) -> float:
    """CPU seconds of one analysis (reading the file included, as the pipeline downloads it)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Engine()
    started = time.thread_time()
    _ENGINE.analyze(Path(path).read_bytes())
    return time.thread_time() - started


def engine_alone(chosen: list[Sample], processes: int) -> Result:
    paths = [str(sample.path) for sample in chosen]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        pool.map(_analyze, paths[: processes * 2])  # compile the rules in every process first
        started = time.perf_counter()
        cpu = sum(pool.map(_analyze, paths, chunksize=4))
        seconds = time.perf_counter() - started
    label = f"engine alone, {processes} process(es)"
    return Result(label, len(paths), seconds, processes, {"engine": 1e6 * cpu / len(paths)})


# -- the pipeline ------------------------------------------------------------------------------


@dataclass
class _Compile:
    """CPU seconds of compiling the engine's rules, measured once in this process."""

    measured: float | None = None

    @property
    def seconds(self) -> float:
        if self.measured is None:
            started = time.thread_time()
            Engine()
            self.measured = time.thread_time() - started
        return self.measured


COMPILE = _Compile()


def _analysed(database: Database) -> tuple[int, float]:
    """How many analyses, and the seconds between the first and the last."""
    with database.session() as session:
        count, first, last = session.execute(
            select(func.count(), func.min(Analysis.created_at), func.max(Analysis.created_at))
        ).one()
    return count, (last - first).total_seconds() if count else 0.0


def _job_done(database: Database) -> bool:
    """Whether a worker has completed a job: the first change resolved, engines compiled
    (except the embedded default's, compiled at its first archive: see ``COMPILE``)."""
    with database.session() as session:
        return session.scalar(select(Job.id).where(Job.state == "done").limit(1)) is not None


def run_pipeline(
    label: str,
    url: str,
    registry: tuple[dict[str, str], int],
    commands: list[list[str]],
    total: int,
    processes: int,
) -> Result:
    """Runs the commands until every archive is analysed; the rate, and the CPU each process
    (and the PostgreSQL backends serving them, and the registry) spent per archive from the
    first completed job (change jobs resolve releases before their archives are analysed)
    to the last analysis, less the compilation of the rules by a process that compiles them
    at its first archive."""
    registry_env, registry_pid = registry
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
    running = [
        subprocess.Popen(
            [THREATFEED, *command, "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(data_dir / f"{index}.log").open("wb"),
        )
        for index, command in enumerate(commands)
    ]
    roles: dict[str, Callable[[], list[int]]] = {
        f"{index}:{command[0]}": partial(tree, process.pid)
        for index, (command, process) in enumerate(zip(commands, running, strict=True))
    }

    def backends() -> list[int]:
        return postgres_backends([pid for role in list(roles.values()) for pid in role()])

    meter = CpuMeter({**roles, "postgres": backends, "registry": partial(tree, registry_pid)})
    first: tuple[int, Snapshot] | None = None
    try:
        deadline = time.monotonic() + 60 + total
        while (done := _analysed(database))[0] < total:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{label}: only {done[0]} of {total} analysed; logs in {data_dir}"
                )
            if first is None and _job_done(database):
                first = (done[0], meter.snapshot())
            meter.look()
            time.sleep(0.5)
        count, seconds = _analysed(database)
        last = meter.snapshot()
        engines = {role: _leaves(pids()) for role, pids in roles.items()}
    finally:
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            process.wait(30)
        database.dispose()
    shutil.rmtree(data_dir, ignore_errors=True)
    analysing = {role for role, command in zip(roles, commands, strict=True) if _analyses(command)}
    lazy = {role for role, command in zip(roles, commands, strict=True) if command[0] == "serve"}
    engines = {role: pids for role, pids in engines.items() if role in analysing}
    cpu = _per_archive(first or (0, {}), (count, last), engines, lazy & analysing)
    # n analyses span n - 1 intervals between the first and the last
    result = Result(label, count - 1, seconds, processes, cpu)
    print(f"  {label}: {result.rate:.1f} archives/s", file=sys.stderr)
    print(f"    CPU µs/archive: {_cpu_line(cpu)}", file=sys.stderr)
    return result


def _analyses(command: list[str]) -> bool:
    """Whether a command analyses: ``worker``, and ``serve`` unless ``--workers 0``."""
    return command[0] == "worker" or (command[0] == "serve" and "--workers" not in command)


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def _leaves(pids: list[int]) -> set[int]:
    """The processes of a tree without children of their own: the ones that analyse (the
    children of ``threatfeed worker -p N``, the engine process of ``threatfeed serve``, a
    single-process command itself), plus multiprocessing's resource tracker, idle."""
    parents = {parent for pid in pids if (parent := _parent(pid)) is not None}
    return {pid for pid in pids if pid not in parents}


def _per_archive(
    first: tuple[int, Snapshot],
    last: tuple[int, Snapshot],
    engines: Mapping[str, set[int]],
    compiling: set[str],
) -> dict[str, float]:
    """CPU microseconds per archive analysed between two snapshots: per role, the busiest
    thread of each of its analysing processes (``engines``: its analysis thread), and the
    total; the roles in ``compiling`` compiled the rules in their analysis thread in
    between."""
    archives = max(1, last[0] - first[0])
    threads = spent(first[1], last[1])
    analysis = {
        role: {key: value for key, value in threads[role].items() if key[0] in pids}
        for role, pids in engines.items()
    }
    for role in compiling:
        analysis_thread = max(analysis[role], key=analysis[role].__getitem__)
        threads[role][analysis_thread] -= COMPILE.seconds
        analysis[role][analysis_thread] -= COMPILE.seconds
    cpu = {role: 1e6 * sum(values.values()) / archives for role, values in threads.items()}
    busiest = sum(busiest_per_process(values) for values in analysis.values())
    cpu["analysis threads"] = 1e6 * busiest / archives
    cpu["total"] = sum(v for role, v in cpu.items() if role in threads)
    return cpu


def _cpu_line(cpu: Mapping[str, float]) -> str:
    return ", ".join(f"{role} {value:,.0f}" for role, value in cpu.items())


def embedded(registry: tuple[dict[str, str], int], total: int, processes: int) -> Result:
    """``threatfeed serve`` alone (its one in-process worker), or with ``processes`` > 1
    serving only the API and the watchers beside ``threatfeed worker -p N`` on the same
    SQLite database (the embedded queue, one worker process per core)."""
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as folder:
        url = f"sqlite:///{folder}/threatfeed.db"
        serve = ["serve", "--port", str(_free_port())]
        if processes == 1:
            label = "embedded default: threatfeed serve, SQLite (1 engine process)"
            commands = [serve]
        else:
            label = (
                f"embedded queue: threatfeed serve + threatfeed worker -p {processes}, SQLite"
                f" ({processes} worker processes)"
            )
            commands = [[*serve, "--workers", "0"], ["worker", "--processes", str(processes)]]
        return run_pipeline(label, url, registry, commands, total, processes)


def procrastinate(registry: tuple[dict[str, str], int], total: int, workers: int) -> Result:
    with throwaway_schema(POSTGRES, "bench") as url:
        return run_pipeline(
            f"procrastinate on PostgreSQL, {workers} worker process(es)",
            url,
            registry,
            [["watch"], ["worker", "--processes", str(workers)]],
            total,
            workers,
        )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- report ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """A pipeline's rate and the engine alone's, measured just before and just after it."""

    pipeline: Result
    beside: dict[int, float]
    """Engine-alone rate per process count: the mean of the runs on either side."""

    def share(self, processes: int) -> float:
        return self.pipeline.rate / self.beside[min(processes, max(self.beside))]


def engine_round(chosen: list[Sample]) -> list[Result]:
    results = [engine_alone(chosen, 1), engine_alone(chosen, 2)]
    for result in results:
        print(
            f"  {result.label}: {result.rate:.1f} archives/s, CPU µs/archive: "
            f"{_cpu_line(result.cpu)}",
            file=sys.stderr,
        )
    return results


def beside(before: list[Result], after: list[Result]) -> dict[int, float]:
    rates: dict[int, list[float]] = {}
    for result in [*before, *after]:
        rates.setdefault(result.processes, []).append(result.rate)
    return {processes: sum(r) / len(r) for processes, r in rates.items()}


def report(
    chosen: list[Sample],
    rounds: list[list[Result]],
    measured: list[Measured],
    started: str,
    every: int,
) -> str:
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
        "The machine is shared with other work, whose load drifts within minutes, so the "
        "engine alone (`Engine.analyze` over the same archives, read from disk, with 1 and "
        "with 2 processes) ran before the first pipeline and again after each one, and every "
        "pipeline is compared with the mean of the engine runs just before and just after it: "
        "with 1 process, and with as many processes as the pipeline analyses on (4 worker "
        "processes against 2, the cores there are).",
        "",
        "| configuration | archives/s | engine alone beside it, 1 / 2 processes "
        "| vs engine, 1 process | vs engine, same processes | archives/day |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for item in measured:
        result = item.pipeline
        lines.append(
            f"| {result.label} | {result.rate:.1f} | {item.beside[1]:.1f} / {item.beside[2]:.1f} "
            f"| {100 * item.share(1):.0f}% | {100 * item.share(result.processes):.0f}% "
            f"| {result.rate * 86400:,.0f} |"
        )
    engine = {n: [r.rate for round_ in rounds for r in round_ if r.processes == n] for n in (1, 2)}
    lines += [
        "",
        "The engine alone over the run: "
        + "; ".join(
            f"{n} process{'es' if n > 1 else ''} {min(rates):.1f} to {max(rates):.1f} archives/s"
            f" ({len(rates)} runs)"
            for n, rates in engine.items()
        )
        + ".",
        "",
        *_cpu_table(rounds, measured),
    ]
    default = next(m for m in measured if m.pipeline.label.startswith("embedded default"))
    verdict = "**The target is met**" if default.share(1) >= 0.7 else "**The target is not met**"
    lines += [
        "",
        f"{verdict}: the embedded default (`threatfeed serve`: API, watchers and one worker "
        "in one process, the worker's engine in a child process of its own) runs at "
        f"{100 * default.share(1):.0f}% of the engine's own throughput with one analysing "
        "process (target 70%). How: a worker claims up to 32 jobs in one statement and runs "
        "three stages on three threads, each on its own batch: a fetcher resolves and "
        "downloads a batch on 8 threads (bounded again by each registry's concurrency "
        "limit), the worker thread has the batch before analysed (in `threatfeed serve`, by "
        "its engine process: one round trip per batch, so the API, the watchers and the "
        "fetch and store threads do not share the engine's interpreter), and a storer "
        "completes every job of the batch before that still leased, together with its "
        "results, in one transaction; the checks for archives already analysed and for "
        "earlier analyses of the same bytes are one query per batch, and packages, archives "
        "and analyses are inserted with one statement each per batch. Procrastinate workers "
        "run the same stages (the engine in the worker process itself), one procrastinate "
        "task per 32 jobs, three tasks at a time. Where the time goes (py-spy of "
        "`threatfeed serve` during this benchmark): its engine process spent about 95% of "
        "its time analysing and the rest receiving batches, the worker thread about 85% "
        "waiting for the engine process, the fetcher mostly waiting for the engine to take "
        "its next batch; the fake registry and the database server run in processes of "
        "their own, as the internet and a database would, on the same 2 cores.",
        "",
        *_scaling(measured),
        "",
        f"Headroom: npm and PyPI publish about {VERSIONS_PER_DAY:,} versions a day "
        f"({VERSIONS_PER_DAY / 86400:.2f}/s on average); the embedded default alone handles "
        f"{default.pipeline.rate * 86400 / VERSIONS_PER_DAY:,.0f}x that with one engine process "
        "(bursts of tens of thousands of packages in two days are within it too). Real registries "
        "add network latency per download that the loopback registry does not have: the "
        "fetch stage's threads absorb it, up to each registry's concurrency limit.",
    ]
    return "\n".join(lines)


def _cpu_table(rounds: list[list[Result]], measured: list[Measured]) -> list[str]:
    """CPU per archive by process, which the machine's load moves much less than rates."""
    engine = [r.cpu["engine"] for round_ in rounds for r in round_ if r.processes == 1]
    lines = [
        "CPU time per archive analysed (µs, from /proc; from the first completed job to the "
        "last analysis), against the engine alone's "
        f"{min(engine):,.0f} to {max(engine):,.0f} µs (1 process): each worker's analysis "
        "thread (the engine and the stage around it), the rest of the threatfeed processes "
        "(fetch, store, claims, watchers, relay, API), the PostgreSQL backends serving them, "
        "and the fake registry.",
        "",
        "| configuration | analysis threads | rest of threatfeed | PostgreSQL | registry | total |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for item in measured:
        cpu = item.pipeline.cpu
        ours = sum(v for role, v in cpu.items() if role.split(":")[0].isdigit())
        lines.append(
            f"| {item.pipeline.label} | {cpu['analysis threads']:,.0f} "
            f"| {ours - cpu['analysis threads']:,.0f} | {cpu.get('postgres', 0):,.0f} "
            f"| {cpu.get('registry', 0):,.0f} | {cpu['total']:,.0f} |"
        )
    return lines


def _scaling(measured: list[Measured]) -> list[str]:
    """What the 2-process runs say about scaling, read against the engine's own scaling."""
    workers = {
        m.pipeline.processes: m for m in measured if m.pipeline.label.startswith("procrastinate")
    }
    text = (
        f"Scaling, on this machine's {os.cpu_count()} cores: beyond 2 worker processes there is "
        "no core left to scale onto (4 processes measure the queue's overhead under "
        "oversubscription, not scaling), and the other work on the machine takes part of the "
        "second core, so scaling is read against the engine alone with 2 processes in the "
        "same minutes, the machine's own ceiling."
    )
    if 1 in workers and 2 in workers:
        one, two = workers[1], workers[2]
        growth = two.pipeline.cpu["total"] / one.pipeline.cpu["total"] - 1
        cores = os.cpu_count() or 1
        bound = cores * 1e6 / two.pipeline.cpu["total"]
        text += (
            f" Procrastinate workers went from {one.pipeline.rate:.1f} to "
            f"{two.pipeline.rate:.1f} archives/s ({two.pipeline.rate / one.pipeline.rate:.2f}x) "
            f"while the engine alone beside them went from {one.beside[1]:.1f} (1 process) to "
            f"{two.beside[2]:.1f} (2 processes, {two.beside[2] / one.beside[1]:.2f}x): "
            f"{100 * one.share(1):.0f}% of the engine with 1 process, "
            f"{100 * two.share(2):.0f}% with 2. What every archive costs in CPU, all processes "
            f"together (the table above), went from {one.pipeline.cpu['total']:,.0f} µs with 1 "
            f"worker to {two.pipeline.cpu['total']:,.0f} µs with 2 ({growth:+.0%}), so the "
            "rate is bounded by the cores that the workers, the database and the registry "
            f"share here: at most {cores} / {two.pipeline.cpu['total'] / 1e6:.4f} s = "
            f"{bound:,.0f} archives/s with 2 workers on this machine, of which they reached "
            f"{two.pipeline.rate / bound:.0%}."
        )
    for m in measured:
        if m.pipeline.label.startswith("embedded queue"):
            text += (
                f" The embedded queue with {m.pipeline.processes} worker processes on SQLite ran "
                f"at {100 * m.share(m.pipeline.processes):.0f}% of the engine alone with as many."
            )
    return [text]


def _counts(text: str) -> list[int]:
    """``"1,2,4"`` -> [1, 2, 4]; ``""`` -> none (that family of configurations skipped)."""
    return [int(n) for n in text.split(",") if n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=5, help="take every N-th malware sample")
    parser.add_argument(
        "--workers", default="1,2,4", help="procrastinate worker counts ('' for none)"
    )
    parser.add_argument(
        "--embedded", default="1,2", help="embedded worker process counts ('' for none)"
    )
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    chosen = corpus(args.every)
    print(f"{len(chosen)} archives", file=sys.stderr)
    configurations: list[Callable[[tuple[dict[str, str], int]], Result]] = [
        *(partial(embedded, total=len(chosen), processes=n) for n in _counts(args.embedded)),
        *(partial(procrastinate, total=len(chosen), workers=n) for n in _counts(args.workers)),
    ]
    rounds = [engine_round(chosen)]
    measured = []
    with fake_registry(chosen) as registry:
        for configuration in configurations:
            result = configuration(registry)
            rounds.append(engine_round(chosen))
            measured.append(Measured(result, beside(rounds[-2], rounds[-1])))
    if not any(m.pipeline.label.startswith("embedded default") for m in measured):
        return  # a subset (CPU per archive above): the report is about the embedded default
    body = report(chosen, rounds, measured, started, args.every)
    print(body)
    if args.write_docs:
        write_section("## Pipeline", body)


if __name__ == "__main__":
    main()
