"""``threatfeed auth``: the client's credentials and the tokens made from them."""

from __future__ import annotations

import os
import stat
from urllib.parse import urlsplit

import click

from threatfeed.accounts import credentials
from threatfeed.accounts.client import fetch_bearer
from threatfeed.accounts.keys import display_prefix
from threatfeed.errors import ThreatfeedError

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@click.group("auth")
def command() -> None:
    """Log in to a threat-feed server and print tokens for `x-access-token`."""


@command.command()
@click.option("--server", required=True, help="Base URL of the feed, e.g. http://127.0.0.1:8000/")
@click.option(
    "--api-key",
    help="The key `threatfeed accounts add` printed; asked for (hidden) when omitted.",
)
def login(server: str, api_key: str | None) -> None:
    """Store SERVER and API key in the user's config folder (file mode 0600)."""
    if api_key is None:
        api_key = click.prompt("API key", hide_input=True, err=True)
    credentials.check_server(server)
    credentials.check_api_key(api_key)
    parts = urlsplit(server)
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        click.echo(
            f"threatfeed: warning: {server} is plain HTTP; the key crosses the network in clear",
            err=True,
        )
    path = credentials.credentials_path(os.environ)
    credentials.save(path, server, api_key)
    click.echo(f"credentials for {server} stored in {path}", err=True)


def _required(value: str | None, what: str, variable: str) -> str:
    if value is None:
        raise ThreatfeedError(
            f"no {what} configured: run `threatfeed auth login` or set {variable}"
        )
    return value


@command.command()
@click.option(
    "-b", "--bearer", is_flag=True, help="Print a short-lived bearer token from the server."
)
def token(bearer: bool) -> None:
    """Print the API key, or with -b a short-lived signed bearer token derived from it."""
    stored = credentials.load(os.environ)
    api_key = _required(stored.api_key, "API key", credentials.API_KEY_ENV)
    if not bearer:
        click.echo(api_key)
        return
    server = _required(stored.server, "server", credentials.SERVER_ENV)
    click.echo(fetch_bearer(server, api_key))


@command.command()
def logout() -> None:
    """Remove the stored credentials (environment variables are left alone)."""
    path = credentials.credentials_path(os.environ)
    try:
        path.unlink()
    except FileNotFoundError:
        click.echo(f"not logged in (no {path})", err=True)
        return
    click.echo(f"removed {path}", err=True)


@command.command()
def status() -> None:
    """Show which server and key are in use and where they come from (never the key)."""
    stored = credentials.load(os.environ)
    path = credentials.credentials_path(os.environ)
    server = stored.server or "-"
    key = display_prefix(stored.api_key) + "…" if stored.api_key else "-"
    click.echo(f"server:  {server}" + (f"  (from {stored.server_source})" if stored.server else ""))
    click.echo(f"api key: {key}" + (f"  (from {stored.api_key_source})" if stored.api_key else ""))
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        warning = "" if mode & 0o077 == 0 else "  WARNING: readable by others; chmod 600 it"
        click.echo(f"file:    {path} (mode {mode:04o}){warning}")
    else:
        click.echo(f"file:    {path} (absent)")
    if stored.api_key is None:
        raise ThreatfeedError("not logged in")
