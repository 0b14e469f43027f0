"""``threatfeed feed``: import and export feed items as JSON lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

import click

from threatfeed.cli.common import open_database
from threatfeed.errors import ThreatfeedError
from threatfeed.feed.items import FeedItem, ItemError, parse_item
from threatfeed.feed.writer import export_items, import_items


@click.group("feed")
def command() -> None:
    """Move feed items in and out (the API's item shape, one JSON object per line)."""


def _read_items(source: IO[str], problems: list[str]) -> Iterator[FeedItem]:
    for number, line in enumerate(source, 1):
        if not line.strip():
            continue
        try:
            yield parse_item(json.loads(line))
        except (ValueError, ItemError) as exc:
            problems.append(f"line {number}: {exc}")


@command.command("import")
@click.argument("source", type=click.File("r", encoding="utf-8"))
def import_(source: IO[str]) -> None:
    """Add the items of SOURCE (a .jsonl file, or - for stdin) that are not yet in the feed.

    Lines that cannot be imported are reported and skipped; the others are kept,
    and the exit status is 1 if any line was skipped.
    """
    _, database = open_database()
    problems: list[str] = []
    report = import_items(database, _read_items(source, problems))
    for problem in problems:
        click.echo(f"threatfeed: skipped {problem}", err=True)
    click.echo(
        f"added {report.added}, already present {report.unchanged}, skipped {len(problems)}",
        err=True,
    )
    if problems:
        raise ThreatfeedError(f"{len(problems)} line(s) could not be imported")


@command.command("export")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-")
@click.option(
    "--include-withdrawn", is_flag=True, help="Also withdrawn entries, with their reason."
)
def export(output: IO[str], include_withdrawn: bool) -> None:
    """Write every feed item, oldest first, in the shape `feed import` reads."""
    _, database = open_database()
    for item in export_items(database, include_withdrawn=include_withdrawn):
        output.write(json.dumps(item.as_json(), ensure_ascii=False, separators=(",", ":")) + "\n")
    output.flush()
