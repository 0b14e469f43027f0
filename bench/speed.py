"""Speed of the analysis engine against the floor of merely reading the archives.

Both passes run in this one process over the same archives, already in memory,
alternating round by round so that the machine's noise hits both alike:

- floor: ``read_archive`` of every archive (decompress every member, no analysis);
- engine: ``Engine.analyze`` of every archive (what ``threatfeed scan -j 1`` does per file).

Then ``threatfeed scan -j 1 --format jsonl`` itself runs once over the corpus folders,
timed end to end with its peak RSS. Besides wall time, each pass records the process's
CPU time: on a machine shared with other work, the CPU ratio is the steadier one.

    .venv/bin/python -m bench.speed [--rounds 3] [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench._docs import ROOT, machine, write_section
from bench.quality import CORPUS, samples
from threatfeed.analysis import ENGINE_VERSION, Engine
from threatfeed.archives import read_archive

COMMAND = ".venv/bin/python -m bench.speed --write-docs"


@dataclass(frozen=True)
class Pass:
    seconds: float
    cpu_seconds: float
    per_archive: list[float]


def _time_each(label: str, archives: list[bytes], work: Callable[[bytes], object]) -> Pass:
    times = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for data in archives:
        t0 = time.perf_counter()
        work(data)
        times.append(time.perf_counter() - t0)
    total, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"  {label}: {total:.2f} s ({cpu:.2f} s CPU)", file=sys.stderr)
    return Pass(total, cpu, times)


def _scan_cli(folders: list[Path]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB and archive count of the real command, one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [
            str(ROOT / ".venv/bin/threatfeed"),
            "scan",
            "-j",
            "1",
            "--format",
            "jsonl",
            *map(str, folders),
        ],
        capture_output=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"threatfeed scan failed: {done.stderr.decode()[-2000:]}")
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return seconds, peak, done.stdout.count(b"\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)

    started_at = datetime.now(UTC)
    context = machine()
    paths = [s.path for s in samples()]
    archives = [p.read_bytes() for p in paths]
    compressed = sum(map(len, archives))
    unpacked = sum(read_archive(data).uncompressed_bytes for data in archives)
    engine = Engine()
    floors: list[Pass] = []
    engines: list[Pass] = []
    for round_ in range(args.rounds):
        print(f"round {round_ + 1}/{args.rounds}", file=sys.stderr)
        order: list[tuple[str, Callable[[bytes], object], list[Pass]]] = [
            ("floor", read_archive, floors),
            ("engine", engine.analyze, engines),
        ]
        for label, work, passes in order if round_ % 2 == 0 else reversed(order):
            passes.append(_time_each(label, archives, work))
    floor = statistics.median(p.seconds for p in floors)
    analysed = statistics.median(p.seconds for p in engines)
    cpu_ratio = statistics.median(p.cpu_seconds for p in engines) / statistics.median(
        p.cpu_seconds for p in floors
    )
    folders = [ROOT / ".cache/corpus/malicious-dev", CORPUS / "benign-dev"]
    cli_seconds, cli_rss, cli_count = _scan_cli(folders)

    n = len(archives)
    slowest = sorted(
        zip(
            paths,
            (statistics.median(t) for t in zip(*(p.per_archive for p in engines), strict=True)),
            strict=True,
        ),
        key=lambda pair: -pair[1],
    )[:10]
    mib = 2**20

    def row(label: str, seconds: float, count: int) -> str:
        return (
            f"| {label} | {seconds:.1f} | {count / seconds:.0f} | {unpacked / mib / seconds:.0f} |"
        )

    lines = [
        f"Measured {started_at:%Y-%m-%d %H:%M} UTC on {context}; engine {ENGINE_VERSION}; "
        f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end (wall "
        "times grow with other work on the machine, CPU times much less).",
        f"Command: `{COMMAND}` ({args.rounds} rounds, floor and engine alternating; medians).",
        "",
        f"Corpus: {n} archives (malicious-dev and benign-dev), "
        f"{compressed / mib:.0f} MiB compressed, {unpacked / mib:.0f} MiB uncompressed; "
        "archives are read into memory first.",
        "",
        "| pass (one process) | seconds | archives/s | uncompressed MB/s |",
        "| --- | ---: | ---: | ---: |",
        row("floor: `read_archive` only", floor, n),
        row("engine: `Engine.analyze`", analysed, n),
        row(
            "`threatfeed scan -j 1 --format jsonl` (end to end, from disk)", cli_seconds, cli_count
        ),
        "",
        f"Engine / floor: **{analysed / floor:.2f}x** (target: at most 3x; "
        f"{cpu_ratio:.2f}x in CPU time); `threatfeed scan` end to end / floor: "
        f"**{cli_seconds / floor:.2f}x**. "
        f"`threatfeed scan`: **{cli_count / cli_seconds:.0f} archives/s** with one process "
        f"(target: at least 50), peak RSS {cli_rss:.0f} MiB.",
        "",
        "Slowest archives in the engine pass (median of rounds):",
        "",
        "| archive | ms |",
        "| --- | ---: |",
        *(f"| `{p.relative_to(p.parents[1])}` | {s * 1000:.0f} |" for p, s in slowest),
    ]
    body = "\n".join(lines)
    print(body)
    if args.write_docs:
        write_section("## Speed", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
