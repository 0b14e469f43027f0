"""``threatfeed status``: is the pipeline keeping up? Cursors, lag, queue, failures, gaps."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

import click

from threatfeed.cli.common import open_database
from threatfeed.pipeline.status import Status, collect
from threatfeed.registries import open_registries


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.isoformat(timespec="seconds")


def _text(status: Status) -> str:
    lines = ["Cursors:"]
    if not status.cursors:
        lines.append("  (none: no watcher has run)")
    for cursor in status.cursors:
        behind = "" if cursor.behind is None else f", {cursor.behind} behind the registry"
        head = "" if cursor.head is None or cursor.behind is not None else f" ({cursor.head})"
        lines.append(
            f"  {cursor.source:<6} at {cursor.seq}, last poll {_ago(cursor.polled_at)}"
            f" (lag {cursor.lag_seconds:.0f} s{behind}){head}"
        )
    queue = status.queue
    states = ", ".join(f"{state} {count}" for state, count in sorted(queue.by_state.items()))
    lines += [
        "Queue:",
        f"  depth {queue.ready} due now; jobs per state: {states or 'none'}",
        f"  oldest queued job since {_ago(status.oldest_queued)}",
        "Archives not analysable as published:",
        "  " + (", ".join(f"{k} {v}" for k, v in sorted(status.problems.items())) or "none"),
        "Recent job failures:",
    ]
    if not status.failures:
        lines.append("  none")
    for failure in status.failures:
        final = "gave up" if failure.final else "will retry"
        lines.append(
            f"  job {failure.job_id} ({failure.kind}, attempt {failure.attempts}, {final},"
            f" {_ago(failure.at)}): {failure.error[:200]}"
        )
    lines.append(f"Gaps: {len(status.open_gaps)} open, {status.closed_gaps} backfilled")
    for gap in status.open_gaps:
        lines.append(
            f"  {gap.source} {gap.after}..{gap.until}: {gap.reason}"
            f" ({gap.attempts} backfill attempts)"
        )
    return "\n".join(lines)


def _json(status: Status) -> dict[str, Any]:
    data = asdict(status)
    data["queue"]["depth"] = status.queue.ready
    for cursor, row in zip(status.cursors, data["cursors"], strict=True):
        row["lag_seconds"] = round(cursor.lag_seconds, 3)
        row["behind"] = cursor.behind
    return data


@click.command("status")
@click.option("--registries", is_flag=True, help="Also ask each registry for its present.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def command(registries: bool, as_json: bool) -> None:
    """Show cursor positions and lag, the queue, recent failures and gaps."""
    settings, database = open_database()
    opened = open_registries(settings) if registries else None
    try:
        status = collect(database, opened)
    finally:
        for registry in (opened or {}).values():
            registry.close()
        database.dispose()
    if as_json:
        click.echo(json.dumps(_json(status), default=str, indent=2))
    else:
        click.echo(_text(status))
