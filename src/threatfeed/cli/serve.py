"""``threatfeed serve``: the API on the configured database (SQLite by default).

On the embedded default it also runs the pipeline beside the API: the registry
watchers (unless ``--no-watch`` or ``THREATFEED_WATCH=0``) and worker threads
(``--workers``/``THREATFEED_WORKERS``). A registry that cannot be reached is
retried in the background; the API keeps serving.
"""

from __future__ import annotations

import click
import uvicorn

from threatfeed.app import create_app
from threatfeed.cli.common import configure_logging, open_database
from threatfeed.pipeline.runtime import Runtime


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--log-level", default="info", show_default=True)
@click.option(
    "--watch/--no-watch",
    default=None,
    help="Run the registry watchers [default: THREATFEED_WATCH, on].",
)
@click.option(
    "--workers",
    type=click.IntRange(0),
    default=None,
    help="Pipeline worker threads on the embedded queue [default: THREATFEED_WORKERS, 1].",
)
def command(host: str, port: int, log_level: str, watch: bool | None, workers: int | None) -> None:
    """Run the threat-feed API, and the pipeline beside it."""
    settings, database = open_database()
    configure_logging(log_level)
    runtime = Runtime.from_settings(
        settings,
        database,
        watch=settings.watch if watch is None else watch,
        workers=settings.workers if workers is None else workers,
    )
    url = f"http://{host}:{port}/"
    click.echo(
        f"threatfeed serving {url} (database: {database.engine.url.render_as_string()})\n"
        "Get a token:\n"
        "  threatfeed accounts add me --role subscriber   # prints a new API key\n"
        f"  threatfeed auth login --server {url} --api-key <that key>\n"
        f'  curl {url} -H "x-access-token: $(threatfeed auth token -b)"\n'
        f"Triage UI: {url}triage/ (a researcher or admin account: threatfeed accounts add NAME"
        " --role researcher, then threatfeed accounts password NAME)",
        err=True,
    )
    runtime.start()
    try:
        uvicorn.run(
            create_app(settings, database),
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
        )
    finally:
        runtime.stop()
