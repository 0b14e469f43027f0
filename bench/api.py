"""Benchmark of the feed API: ``GET /?per_page=25`` at 1,000,000 entries.

For each backend (SQLite, PostgreSQL) it serves a cached synthetic feed with
uvicorn (one worker, loopback) and loads it with wrk, a fixed number of
connections, in rounds where every endpoint runs back to back:

- the ceiling: ``/__constant``, page 1's body as a constant from the same
  server (see ``bench/_app.py``);
- page 1, page 2,000 by ``page`` (offset 49,975) and the same depth by
  ``cursor`` (a real cursor, the ``next_cursor`` of page 1,999).

The target of issue 2 is page 1 and cursor at depth at >= 50% of the
ceiling's requests/s. It also reports the server's memory, the product's
import rate and the query plans, then rewrites the generated part of the
``## API`` section of ``docs/benchmarks.md``.

    python bench/api.py --entries 1000000
    python bench/api.py --entries 20000 --rounds 1 --seconds 3 --no-docs   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: ``python bench/api.py``
    sys.path.insert(0, str(ROOT))

from psycopg import sql as psycopg_sql  # noqa: E402
from sqlalchemy import make_url  # noqa: E402

from bench import _explain, _load, _wrk  # noqa: E402
from bench._docs import DOCS, write_block  # noqa: E402
from threatfeed.accounts.service import AccountService  # noqa: E402
from threatfeed.config import Settings  # noqa: E402
from threatfeed.feed.cursor import decode_cursor  # noqa: E402
from threatfeed.feed.params import FeedParams  # noqa: E402
from threatfeed.feed.queries import LIVE, SLOT, Queries, Shape  # noqa: E402
from threatfeed.feed.reader import FeedReader  # noqa: E402
from threatfeed.store import Database  # noqa: E402

BEGIN = "<!-- bench/api.py: generated from here -->"
END = "<!-- bench/api.py: generated up to here -->"
CEILING = "ceiling (constant body)"
TARGETS = ("page 1", "cursor at depth")


@dataclass(frozen=True)
class Endpoint:
    label: str
    path: str
    body_bytes: int = 0


@dataclass
class BackendRun:
    backend: str
    build: _load.Built
    import_rate: float | None
    body_bytes: dict[str, int] = field(default_factory=dict)
    results: dict[str, list[_wrk.Result]] = field(default_factory=dict)
    cpu_us: dict[str, list[float]] = field(default_factory=dict)
    """Server CPU time per answered request, in microseconds, per round."""
    memory: dict[str, int] = field(default_factory=dict)
    database_bytes: int = 0
    plans: dict[str, list[str]] = field(default_factory=dict)

    def rate(self, label: str) -> float:
        return statistics.median(result.rate for result in self.results[label])

    def ratio(self, label: str) -> float:
        return self.rate(label) / self.rate(CEILING)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--per-page", type=int, default=25)
    parser.add_argument("--depth-page", type=int, default=2000)
    # Many short rounds rather than a few long ones: on a shared machine the load of other
    # jobs moves within seconds, and interleaving the endpoints more often lets the ceiling
    # and the feed meet the same conditions (same total time per endpoint).
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--import-sample", type=int, default=20_000, help="0 to skip")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached databases")
    parser.add_argument("--postgres-admin-url", default=_load.POSTGRES_ADMIN_URL)
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    return parser.parse_args()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        # This checkout's sources, not whichever an editable install of the venv points to.
        "PYTHONPATH": os.pathsep.join((str(ROOT / "src"), str(ROOT))),
        "THREATFEED_DATABASE_URL": url,
        "THREATFEED_DATA_DIR": str(_load.CACHE / "data"),
        "THREATFEED_SECRET_KEY": "bench-secret-not-for-production",
        "THREATFEED_RATE_LIMIT_PER_MINUTE": "1e12",
        "THREATFEED_RATE_LIMIT_BURST": "1e12",
    }


@contextmanager
def _server(url: str, log: Path) -> Iterator[tuple[str, int]]:
    """uvicorn with one worker on a loopback port; yields (base URL, pid)."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "bench._app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, env=_server_env(url), cwd=ROOT, stdout=output, stderr=output
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start; see {log}") from None
                time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(30)


def _token(url: str) -> str:
    settings = Settings.from_env(_server_env(url))
    database = Database(url)
    _, key = AccountService(database, settings).add(f"bench-{uuid.uuid4().hex[:8]}", "subscriber")
    database.dispose()
    return key


def _get(url: str, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"x-access-token": token})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"GET {url}: {exc.code} {exc.read()[:300]!r}") from None


def _endpoints(base: str, token: str, per_page: int, depth: int) -> list[Endpoint]:
    """The measured endpoints, after checking that each answers 200 with the expected page."""
    feed = f"/?per_page={per_page}"
    _, before = _get(f"{base}{feed}&page={depth - 1}", token)
    cursor = json.loads(before)["next_cursor"]
    if cursor is None:
        raise RuntimeError(f"the feed has no page {depth}: raise --entries or lower --depth-page")
    endpoints = [
        Endpoint(CEILING, "/__constant"),
        Endpoint("page 1", feed),
        Endpoint(f"page {depth:,} by page", f"{feed}&page={depth}"),
        Endpoint("cursor at depth", f"{feed}&cursor={cursor}"),
        Endpoint("constant, sync endpoint (diagnostic)", "/__constant_sync"),
    ]
    bodies = {endpoint.label: _get(base + endpoint.path, token)[1] for endpoint in endpoints}
    by_page = json.loads(bodies[endpoints[2].label])["packages"]
    by_cursor = json.loads(bodies["cursor at depth"])["packages"]
    assert by_page == by_cursor, "the cursor of page N-1 must lead to page N"
    assert bodies[CEILING] == bodies["page 1"], "the ceiling must serve page 1's bytes"
    return [replace(endpoint, body_bytes=len(bodies[endpoint.label])) for endpoint in endpoints]


def _memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of the server, in kB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {
        key: int(value.split()[0])
        for key, value in (line.split(":", 1) for line in status.splitlines())
        if key in ("VmRSS", "VmHWM")
    }


def _cpu_ticks(pid: int) -> int:
    """User plus system CPU time of a process, in clock ticks (fields 14 and 15 of stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _settle(pid: int, timeout: float = 120.0) -> None:
    """Waits until the server has finished what the last load left in flight.

    wrk stops sending when its time is up, but the server still answers the
    requests already accepted (for the deep page, 32 of them take seconds), and
    that work would be counted against whichever endpoint runs next. Idle means
    the server used at most one clock tick of CPU in a quarter of a second.
    """
    deadline = time.monotonic() + timeout
    before = _cpu_ticks(pid)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = _cpu_ticks(pid)
        if now - before <= 1:
            return
        before = now


def _database_bytes(url: str) -> int:
    database = Database(url, migrate=False)
    try:
        if database.dialect == "sqlite":
            return Path(database.engine.url.database or "").stat().st_size
        with database.engine.connect() as connection:
            size = connection.exec_driver_sql("SELECT pg_database_size(current_database())")
            return int(size.scalar_one())
    finally:
        database.dispose()


def _plan_cases(database: Database, per_page: int, depth: int) -> dict[str, FeedParams]:
    reader = FeedReader(database)
    before = reader.page(FeedParams(page=depth - 1, per_page=per_page))
    assert before.next_cursor is not None
    first = json.loads(reader.page(FeedParams(per_page=per_page)).body())["packages"][0]
    newest = datetime.strptime(first["created"], "%a, %d %b %Y %H:%M:%S GMT")
    since = newest.replace(day=1, hour=0, minute=0, second=0, tzinfo=UTC)
    return {
        "page 1": FeedParams(per_page=per_page),
        f"page {depth:,} by page": FeedParams(page=depth, per_page=per_page),
        "cursor at depth": FeedParams(per_page=per_page, cursor=decode_cursor(before.next_cursor)),
        f"since={since:%Y-%m-%d}, page 1": FeedParams(per_page=per_page, since=since),
        "ecosystem=pypi, page 1": FeedParams(per_page=per_page, ecosystem="pypi"),
        f"name={first['name']}": FeedParams(per_page=per_page, name=first["name"]),
    }


BATCH_PLAN = 4
"""Requests in the batch whose plan is shown: about what one statement reads under the load."""


def _batch_plan(database: Database, params: FeedParams, requests: int) -> list[str]:
    """The plan of the statement the API's PostgreSQL reader sends for ``requests`` requests
    like ``params`` waiting at once (``Queries.batch``), as the reader runs it: prepared,
    with a generic plan."""
    statement = Queries(make_url("postgresql+asyncpg://").get_dialect()()).batch(
        Shape.of(params, LIVE)
    )
    values = Queries(database.engine.dialect).for_request(params, LIVE).values
    arguments = [
        list(range(requests)) if name == SLOT else [values[name]] * requests
        for name in statement.names
    ]
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE bench_batch AS {statement.sql}")
        literals = psycopg_sql.SQL(", ").join(map(psycopg_sql.Literal, arguments))
        cursor.execute(
            psycopg_sql.SQL("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE bench_batch({})").format(
                literals
            )
        )
        rows = cursor.fetchall()
        cursor.execute("DEALLOCATE bench_batch")  # it would outlive the transaction
    finally:
        raw.close()
    return [row[0] for row in rows]


def _measure(args: argparse.Namespace, backend: str) -> BackendRun:
    print(f"[{backend}] database with {args.entries:,} entries", flush=True)
    build = _load.ensure_database(
        backend, args.entries, rebuild=args.rebuild, admin_url=args.postgres_admin_url
    )
    print(f"[{backend}]   {'reused' if build.reused else f'built in {build.seconds:.0f} s'}")
    import_rate = None
    if args.import_sample:
        import_rate = _load.measure_import(backend, args.import_sample, args.postgres_admin_url)
        print(f"[{backend}]   import_items: {import_rate:,.0f} items/s")
    token = _token(build.url)
    log = _load.CACHE / f"server-{backend}.log"
    with _server(build.url, log) as (base, pid):
        idle = _memory(pid)
        endpoints = _endpoints(base, token, args.per_page, args.depth_page)
        run = BackendRun(backend, build, import_rate)
        for endpoint in endpoints:
            run.body_bytes[endpoint.label] = endpoint.body_bytes
            run.results[endpoint.label] = []
            run.cpu_us[endpoint.label] = []
        load = _wrk.Load(args.threads, args.connections, args.seconds)
        warmup = _wrk.Load(args.threads, args.connections, 2)
        for endpoint in endpoints:
            _wrk.run(base + endpoint.path, token, warmup)
            _settle(pid)
        for round_number in range(args.rounds):
            shift = round_number % len(endpoints)
            for endpoint in endpoints[shift:] + endpoints[:shift]:
                ticks = _cpu_ticks(pid)
                result = _wrk.run(base + endpoint.path, token, load)
                _settle(pid)
                cpu_seconds = (_cpu_ticks(pid) - ticks) / os.sysconf("SC_CLK_TCK")
                run.cpu_us[endpoint.label].append(cpu_seconds / max(result.requests, 1) * 1e6)
                if result.status_errors or result.socket_errors:
                    raise RuntimeError(f"{endpoint.label}: errors during the load: {result}")
                run.results[endpoint.label].append(result)
                print(
                    f"[{backend}]   round {round_number + 1} {endpoint.label:>38}: "
                    f"{result.rate:8.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
                    f"p99 {result.p99_ms:6.2f} ms",
                    flush=True,
                )
        after = _memory(pid)
    run.memory = {"idle": idle["VmRSS"], "after": after["VmRSS"], "peak": after["VmHWM"]}
    run.database_bytes = _database_bytes(build.url)
    database = Database(build.url, migrate=False)
    cases = _plan_cases(database, args.per_page, args.depth_page)
    run.plans = _explain.plans(database, cases)
    if backend == "postgresql":
        label = f"cursor at depth, {BATCH_PLAN} requests waiting at once (the API's batch)"
        run.plans[label] = _batch_plan(database, cases["cursor at depth"], BATCH_PLAN)
    database.dispose()
    return run


def _machine() -> str:
    memory = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), {int(memory) / 2**20:.0f} GiB RAM, "
        f"Linux {platform.release()}, Python {platform.python_version()}; "
        f"load average {load} (1, 5, 15 min) when the run started (the machine is shared, "
        "and wrk runs on the same cores as the server)"
    )


def _versions() -> str:
    names = ("uvicorn", "starlette", "sqlalchemy", "psycopg", "asyncpg")
    parts = [f"{name} {version(name)}" for name in names]
    missing = [name for name in ("uvloop", "httptools") if not _installed(name)]
    if missing:
        parts.append(f"without {' and '.join(missing)} (asyncio loop, h11 parser)")
    return ", ".join(parts)


def _installed(name: str) -> bool:
    return find_spec(name) is not None


def _commit() -> str:
    completed = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return completed.stdout.strip() or "unknown"


def _render(
    args: argparse.Namespace, runs: list[BackendRun], started: datetime, machine: str
) -> str:
    load = _wrk.Load(args.threads, args.connections, args.seconds)
    lines = [
        BEGIN,
        "",
        f"Command: `python bench/api.py --entries {args.entries} --backends {args.backends}`"
        f" (rounds {args.rounds}), run {started:%Y-%m-%d %H:%M} UTC at commit `{_commit()}`.",
        "",
        f"- Machine: {machine}.",
        f"- Server: uvicorn, one worker, 127.0.0.1; {_versions()}.",
        f"- Load: `{load.describe()}` per endpoint with header `x-access-token` (an API key;"
        " one wrk thread needs well under a core at these rates and leaves the other to the"
        " server),"
        f" after a 2 s warm-up of each; {args.rounds} rounds, the endpoints back to back in"
        " an order rotated each round. Numbers are medians over the rounds; no request"
        " failed or was refused (the rate limit is lifted for the run).",
        f"- Feed: {args.entries:,} entries (npm and PyPI, 1 to 3 archives, added over 2 years"
        f" with ties, 0.1% withdrawn), `per_page={args.per_page}`; page {args.depth_page:,} is"
        f" offset {(args.depth_page - 1) * args.per_page:,}; the cursor is the `next_cursor` of"
        f" page {args.depth_page - 1:,}. The ceiling serves page 1's exact bytes and"
        " headers from an `async` endpoint doing no work, like the feed's endpoints, which are"
        " `async` too; the diagnostic row serves the same from a plain `def` endpoint, which"
        " Starlette runs in its thread pool, to show what that hand-off alone costs."
        ' "Server CPU" is the server process\'s CPU time (all threads) during the run and'
        " until it finished the requests in flight, divided by the requests answered; between"
        ' endpoints the bench waits for the server to go idle. "vs ceiling" is the ratio of'
        " the median req/s.",
        "",
        "| backend | endpoint | body bytes | req/s | p50 ms | p99 ms | server CPU µs/req"
        " | vs ceiling |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        for label, results in run.results.items():
            lines.append(
                f"| {run.backend} | {label} | {run.body_bytes[label]:,} "
                f"| {run.rate(label):,.0f} "
                f"| {statistics.median(r.p50_ms for r in results):.1f} "
                f"| {statistics.median(r.p99_ms for r in results):.1f} "
                f"| {statistics.median(run.cpu_us[label]):,.0f} "
                f"| {run.ratio(label):.0%} |"
            )
    lines += ["", "Target (page 1 and cursor at depth at >= 50% of the ceiling's req/s):", ""]
    for run in runs:
        verdicts = [
            f"{label} {run.ratio(label):.0%} {'met' if run.ratio(label) >= 0.5 else 'MISSED'}"
            for label in TARGETS
        ]
        rounds = "; ".join(
            f"{label}: " + ", ".join(f"{r.rate:,.0f}" for r in run.results[label])
            for label in (CEILING, *TARGETS)
        )
        lines.append(f"- {run.backend}: {', '.join(verdicts)} (req/s per round, {rounds}).")
    lines += [
        "",
        "The same ratio by the server's CPU time per request (ceiling's / endpoint's, medians),"
        " which depends less on what else the machine runs (not the target's measure):",
        "",
    ]
    for run in runs:
        ceiling_cpu = statistics.median(run.cpu_us[CEILING])
        ratios = ", ".join(
            f"{label} {ceiling_cpu / statistics.median(run.cpu_us[label]):.0%}" for label in TARGETS
        )
        lines.append(f"- {run.backend}: {ratios}.")
    lines += ["", "Memory and data:", ""]
    for run in runs:
        memory = run.memory
        build = "reused from cache" if run.build.reused else f"built in {run.build.seconds:.0f} s"
        rate = (
            f"; the product's `import_items` runs at {run.import_rate:,.0f} items/s"
            f" on this backend (sample of {args.import_sample:,} into an empty database),"
            f" i.e. {args.entries / run.import_rate / 60:.0f} min for {args.entries:,}"
            if run.import_rate
            else ""
        )
        lines.append(
            f"- {run.backend}: server RSS {memory['idle'] / 1024:.0f} MiB after start,"
            f" {memory['after'] / 1024:.0f} MiB after the load (peak"
            f" {memory['peak'] / 1024:.0f} MiB) with a database of"
            f" {run.database_bytes / 2**20:,.0f} MiB; the database was {build} by the"
            f" bench's bulk path{rate}."
        )
    lines.append(
        "- The server's memory stays a small fraction of the database: a page reads"
        " `per_page + 1` rows through an index and nothing of the feed is held in memory."
    )
    lines += ["", "Query plans of the reader's statements (`bench/_explain.py`):", ""]
    for run in runs:
        kind = "EXPLAIN (ANALYZE, BUFFERS)" if run.backend == "postgresql" else "EXPLAIN QUERY PLAN"
        lines += [f"<details><summary>{run.backend}: {kind}</summary>", ""]
        for label, plan in run.plans.items():
            lines += [f"{label}:", "", "```", *plan, "```", ""]
        lines += ["</details>", ""]
    lines.append(END)
    return "\n".join(lines)


def _place(text: str, generated: str) -> str:
    """The first generated block goes at the top of ``## API``, made if missing."""
    if "\n## API\n" in text:
        head, rest = text.split("\n## API\n", 1)
        return f"{head}\n## API\n\n{generated}\n{rest}"
    return text.rstrip("\n") + f"\n\n## API\n\n{generated}\n"


def main() -> int:
    args = _arguments()
    try:
        _wrk.require_wrk()
    except _wrk.WrkMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started, machine = datetime.now(UTC), _machine()
    runs = [_measure(args, backend) for backend in args.backends.split(",")]
    generated = _render(args, runs, started, machine)
    print(generated)
    if not args.no_docs:
        write_block(BEGIN, END, generated, _place)
        print(f"written to {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
