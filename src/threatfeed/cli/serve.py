"""``threatfeed serve``: the API on the configured database (SQLite by default)."""

from __future__ import annotations

import click
import uvicorn

from threatfeed.app import create_app
from threatfeed.cli.common import open_database


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--log-level", default="info", show_default=True)
def command(host: str, port: int, log_level: str) -> None:
    """Run the threat-feed API."""
    settings, database = open_database()
    url = f"http://{host}:{port}/"
    click.echo(
        f"threatfeed serving {url} (database: {database.engine.url.render_as_string()})\n"
        "Get a token:\n"
        "  threatfeed accounts add me --role subscriber   # prints a new API key\n"
        f"  threatfeed auth login --server {url} --api-key <that key>\n"
        f'  curl {url} -H "x-access-token: $(threatfeed auth token -b)"',
        err=True,
    )
    uvicorn.run(
        create_app(settings, database), host=host, port=port, log_level=log_level, access_log=False
    )
