"""The ``threatfeed`` command: wires the groups and turns our errors into messages."""

from __future__ import annotations

import sys
from typing import Any

import click

from threatfeed import __version__
from threatfeed.errors import ThreatfeedError


class _Group(click.Group):
    """Reports a ThreatfeedError as one line on stderr and exit status 1, never a traceback."""

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


def _register() -> None:
    from threatfeed.cli import accounts, auth, feed, scan, serve

    for module in (accounts, auth, feed, scan, serve):
        cli.add_command(module.command)


def main() -> None:
    _register()
    cli()
