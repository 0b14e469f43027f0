"""``threatfeed watch``: the registry watchers alone, feeding the configured queue."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from threatfeed.cli.common import configure_logging, open_database
from threatfeed.pipeline.runtime import Runtime


@click.command("watch")
@click.option(
    "--start",
    default=None,
    help="Where a registry without a cursor starts (a sequence or serial, e.g. 0) "
    "[default: its present].",
)
@click.option("--log-level", default="info", show_default=True)
def command(start: str | None, log_level: str) -> None:
    """Watch npm and PyPI and queue every new release (workers do the rest)."""
    configure_logging(log_level)
    settings, database = open_database()
    runtime = Runtime.from_settings(settings, database, watch=True, workers=0, start=start)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"threatfeed watch: {', '.join(runtime.registries)} -> {settings.queue}", err=True)
    with runtime:
        stop.wait()
