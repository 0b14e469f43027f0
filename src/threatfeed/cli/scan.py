"""``threatfeed scan``: analyse archives on disk and report, optionally into the database."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from threatfeed.cli.common import open_database
from threatfeed.pipeline.ingest import ArchiveRecord, record_analysis
from threatfeed.sarif import to_sarif
from threatfeed.scanner import ScanResult, find_archives, scan
from threatfeed.store import Database

PROGRESS_FROM = 20
"""Runs of at least this many archives show a progress bar on a terminal."""


def _dumps(data: object, indent: int | None = None) -> str:
    return json.dumps(data, ensure_ascii=False, indent=indent)


def _with_progress(results: Iterator[ScanResult], total: int) -> Iterator[ScanResult]:
    if total < PROGRESS_FROM or not sys.stderr.isatty():
        yield from results
        return
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=Console(stderr=True)) as progress:
        task = progress.add_task("scanning", total=total)
        for result in results:
            progress.advance(task)
            yield result


def _table(results: list[ScanResult], out: IO[str]) -> None:
    table = Table(title=f"{len(results)} archive(s)", expand=False)
    for column in ("archive", "package", "score", "flagged", "indicators"):
        table.add_column(column, overflow="fold")
    for result in results:
        a = result.analysis
        package = f"{a.ecosystem or '?'}:{a.name or '?'}@{a.version or '?'}"
        notes = ", ".join(a.indicators) or ("; ".join(a.errors)[:120] if a.errors else "")
        table.add_row(
            Text(Path(result.path).name),
            Text(package),
            f"{a.score:.2f}",
            Text("FLAGGED", style="bold red") if a.flagged else Text("no"),
            Text(notes),
        )
    Console(file=out).print(table)


def _ingest(database: Database, result: ScanResult) -> str | None:
    a = result.analysis
    if not (a.ecosystem and a.name and a.version and a.sha256):
        return f"{result.path}: not ingested, its package name and version are unknown"
    record = ArchiveRecord(
        ecosystem=a.ecosystem,
        name=a.name,
        version=a.version,
        filename=Path(result.path).name,
        sha256=a.sha256,
        size=result.size,
    )
    with database.session() as session:
        record_analysis(session, record, a, result.elapsed_ms)
    return None


@click.command("scan")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "jsonl", "json", "sarif"]),
    default="table",
    show_default=True,
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=lambda: os.cpu_count() or 1,
    help="Worker processes (default: one per core).",
)
@click.option(
    "--rules",
    "extra_rules",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder of extra YARA rules (*.yar) to run alongside the built-in ones.",
)
@click.option(
    "--ingest", is_flag=True, help="Store the results in the database and queue flagged versions."
)
def command(
    paths: tuple[Path, ...],
    output_format: str,
    jobs: int,
    extra_rules: Path | None,
    ingest: bool,
) -> None:
    """Analyse package archives (or folders searched for archives) without running them.

    Exit status: 0 when nothing is flagged, 1 when something is, 2 on usage errors.
    """
    targets = list(find_archives(paths))
    database = open_database()[1] if ingest else None
    out = sys.stdout
    collected: list[ScanResult] = []
    flagged = False
    for result in _with_progress(
        scan(targets, jobs=jobs, extra_yara_dir=extra_rules), len(targets)
    ):
        flagged |= result.analysis.flagged
        if database is not None and (problem := _ingest(database, result)):
            click.echo(f"threatfeed: {problem}", err=True)
        if output_format == "jsonl":
            out.write(_dumps(result.as_json()) + "\n")
            out.flush()
        else:
            collected.append(result)
    if output_format == "json":
        out.write(_dumps([r.as_json() for r in collected], indent=2) + "\n")
    elif output_format == "sarif":
        out.write(_dumps(to_sarif(collected), indent=2) + "\n")
    elif output_format == "table":
        _table(collected, out)
    sys.exit(1 if flagged else 0)
