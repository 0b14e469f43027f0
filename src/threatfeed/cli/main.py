"""The ``threatfeed`` command: wires the groups and turns our errors into messages.

Command modules are imported only when their command runs, so a quick
``threatfeed auth token`` does not pay for compiling the analysis engine.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from threatfeed import __version__
from threatfeed.errors import ThreatfeedError

COMMANDS = {
    "accounts": "threatfeed.cli.accounts",
    "auth": "threatfeed.cli.auth",
    "feed": "threatfeed.cli.feed",
    "scan": "threatfeed.cli.scan",
    "serve": "threatfeed.cli.serve",
    "status": "threatfeed.cli.status",
    "triage": "threatfeed.cli.triage",
    "watch": "threatfeed.cli.watch",
    "worker": "threatfeed.cli.worker",
}


class _Group(click.Group):
    """Loads commands on demand and reports a ThreatfeedError as one line, exit status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = importlib.import_module(module).command
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ThreatfeedError as exc:
            click.echo(f"threatfeed: error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="threatfeed")
def cli() -> None:
    """A threat feed of malicious open-source packages."""


def main() -> None:
    cli()
