"""``threatfeed triage``: the review from the command line, on the server's own database.

For operators and scripts. A verdict given here has no account behind it: its
author is recorded as ``cli:NAME``, NAME being ``--as``, else ``$THREATFEED_OPERATOR``,
else the operating-system user running the command. Everything printed that came
from a registry or an archive goes through ``triage.display`` first, so package
names and evidence cannot move the cursor or reorder text in the terminal.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Any

import click
from sqlalchemy.orm import Session

from threatfeed.cli.common import open_database
from threatfeed.triage import display
from threatfeed.triage.details import PackageDetail, package_detail
from threatfeed.triage.errors import InvalidVerdict
from threatfeed.triage.queue import QueueFilter, all_rows, indicators_of
from threatfeed.triage.service import Author, PackageKey, decide, resolve
from threatfeed.triage.states import VERBS, State


@contextmanager
def _session() -> Iterator[Session]:
    _, database = open_database()
    try:
        with database.session() as session:
            yield session
    finally:
        database.dispose()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default))


@click.group("triage")
def command() -> None:
    """Review flagged package versions: list, show, confirm, dismiss, withdraw."""


@command.command("list")
@click.option("--ecosystem", help="Only this ecosystem (npm, pypi, ...).")
@click.option("--rule", help="Only versions on which this rule fired.")
@click.option(
    "--min-score", type=click.FloatRange(0, 1), help="Only versions scoring at least this."
)
@click.option(
    "--state",
    type=click.Choice([s.value for s in State]),
    default=State.PENDING.value,
    show_default=True,
    help="pending lists the versions awaiting a verdict.",
)
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text")
def list_(
    ecosystem: str | None, rule: str | None, min_score: float | None, state: str, output: str
) -> None:
    """List versions in the queue, highest score first."""
    chosen = QueueFilter(State(state), ecosystem, rule, min_score)
    with _session() as session:
        rows = all_rows(session, chosen)
        indicators = indicators_of(session, [row.package_id for row in rows])
    if output == "json":
        _dump(
            [
                {
                    "ecosystem": row.ecosystem,
                    "name": row.name,
                    "version": row.version,
                    "score": row.score,
                    "state": row.state,
                    "flagged_at": row.flagged_at,
                    "indicators": indicators.get(row.package_id, {}),
                }
                for row in rows
            ]
        )
        return
    for row in rows:
        name = display.clip(f"{row.name}@{row.version}", 120)
        rules = ", ".join(row.rules)
        click.echo(f"{row.score:5.2f}  {row.ecosystem:<9} {name}  {rules}")
    click.echo(f"{len(rows)} version(s) {state}", err=True)


@command.command()
@click.argument("ecosystem")
@click.argument("name")
@click.argument("version")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text")
def show(ecosystem: str, name: str, version: str, output: str) -> None:
    """Show one version: metadata, archives, evidence, verdicts, other versions, campaign."""
    with _session() as session:
        detail = package_detail(session, resolve(session, PackageKey(ecosystem, name, version)))
    if output == "json":
        _dump(asdict(detail))
        return
    for line in _describe(detail):
        click.echo(line)


def _describe(detail: PackageDetail) -> Iterator[str]:
    clip = display.clip
    yield f"{detail.ecosystem}/{clip(detail.name)}@{clip(detail.version)}  [{detail.state}]"
    yield f"  published {detail.published_at or 'unknown'}; score {detail.score}"
    if detail.added_at:
        yield f"  in the feed since {detail.added_at}"
    if detail.withdrawn_at:
        yield f"  withdrawn at {detail.withdrawn_at}"
    yield "archives:"
    for archive in detail.archives:
        yield f"  {clip(archive.filename)}  sha256 {archive.sha256}  {archive.size} bytes"
        yield f"    engine {archive.engine_version}, score {archive.score}"
        for location in archive.locations:
            where = f"{clip(str(location.get('file')))}:{location.get('line')}"
            yield f"    {location.get('rule')} at {where}"
            for line in display.excerpt(str(location.get("excerpt", ""))).splitlines():
                yield f"      | {line}"
        yield f"    {archive.file_count} file(s)"
        for path, size in archive.files:
            yield f"      {size:>10}  {clip(path)}"
    yield "indicators:"
    for line in display.evidence(detail.indicators).splitlines():
        yield f"  {line}"
    yield "verdicts:"
    for record in detail.verdicts:
        yield f"  {record.at} {record.kind} by {clip(record.author or '?')}: {clip(record.reason)}"
    if detail.versions:
        yield "other versions:"
        for other in detail.versions:
            yield f"  {clip(other.version)}  [{other.state}]"
    if detail.campaign:
        yield "shares files or payloads with:"
        for member in detail.campaign:
            yield (
                f"  {member.ecosystem}/{clip(member.name)}@{clip(member.version)}"
                f"  [{member.state or 'unflagged'}]  {member.shared} shared"
            )


def _operator(name: str | None) -> Author:
    chosen = name or os.environ.get("THREATFEED_OPERATOR") or getpass.getuser()
    if not chosen.strip():
        raise InvalidVerdict("name the operator with --as or THREATFEED_OPERATOR")
    return Author(f"cli:{chosen.strip()}")


def _verdict_command(verb: str) -> None:
    kind = VERBS[verb]

    @command.command(verb, help=f"{verb.capitalize()} one version (see the triage states).")
    @click.argument("ecosystem")
    @click.argument("name")
    @click.argument("version")
    @click.option("--reason", required=True, help="Why; stored with the verdict for the audit.")
    @click.option("--as", "operator", help="Operator name (default: $THREATFEED_OPERATOR or user).")
    def run(ecosystem: str, name: str, version: str, reason: str, operator: str | None) -> None:
        author = _operator(operator)
        with _session() as session:
            package_id = resolve(session, PackageKey(ecosystem, name, version))
            (decision,) = decide(session, [package_id], kind, reason, author)
        click.echo(f"{decision.key}: {decision.before} -> {kind.value} (by {author.name})")


for _verb in VERBS:
    _verdict_command(_verb)
