"""``threatfeed accounts``: operators manage accounts and API keys on the server's database.

Commands that create a key print it alone on stdout (scripts capture it with
``$(...)``); everything meant for a human goes to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click

from threatfeed.accounts import AccountInfo, AccountService, InvalidInput, Role
from threatfeed.cli.common import open_database


@contextmanager
def _service() -> Iterator[AccountService]:
    settings, database = open_database()
    try:
        yield AccountService(database, settings, cache_ttl=0)
    finally:
        database.dispose()


@click.group("accounts")
def command() -> None:
    """Manage accounts, their roles, API keys, passwords and subscriptions."""


@command.command()
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    default=Role.SUBSCRIBER.value,
    show_default=True,
    help="subscriber reads the feed; researcher also triages; admin also manages accounts.",
)
@click.option(
    "--subscription/--no-subscription",
    default=True,
    show_default=True,
    help="Whether the account may read the threat feed.",
)
def add(name: str, role: str, subscription: bool) -> None:
    """Create account NAME and print its API key (shown only this once)."""
    with _service() as service:
        _, key = service.add(name, role, subscribed=subscription)
    click.echo(key)
    feed = "with" if subscription else "without"
    click.echo(f"created {role} account {name!r} {feed} the feed subscription", err=True)


def _time(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _as_json(account: AccountInfo) -> dict[str, object]:
    return {
        "name": account.name,
        "role": account.role.value,
        "subscribed": account.subscribed,
        "has_password": account.has_password,
        "created_at": _time(account.created_at),
        "disabled_at": _time(account.disabled_at),
        "keys": [
            {
                "prefix": key.prefix,
                "created_at": _time(key.created_at),
                "revoked_at": _time(key.revoked_at),
            }
            for key in account.keys
        ],
    }


@command.command("list")
@click.option("--format", "format_", type=click.Choice(["table", "json"]), default="table")
def list_(format_: str) -> None:
    """List accounts with their active key prefixes (keys themselves are never stored)."""
    with _service() as service:
        accounts = service.list()
    if format_ == "json":
        click.echo(json.dumps([_as_json(account) for account in accounts], indent=2))
        return
    rows = [("NAME", "ROLE", "FEED", "STATUS", "PASSWORD", "ACTIVE KEYS")]
    rows += [
        (
            account.name,
            account.role.value,
            "yes" if account.subscribed else "no",
            "disabled" if account.disabled_at else "active",
            "set" if account.has_password else "-",
            " ".join(key.prefix + "…" for key in account.active_keys) or "-",
        )
        for account in accounts
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]))


@command.command()
@click.argument("name")
def key(name: str) -> None:
    """Print a new API key for NAME; the account's other keys stay valid."""
    with _service() as service:
        new_key = service.new_key(name)
    click.echo(new_key)


@command.command()
@click.argument("name", required=False)
@click.option("--prefix", help="Revoke only the key shown with this prefix in `accounts list`.")
def revoke(name: str | None, prefix: str | None) -> None:
    """Revoke every API key of NAME, or one key by --prefix; bearer tokens from them die too."""
    if (name is None) == (prefix is None):
        raise click.UsageError("give either NAME or --prefix")
    with _service() as service:
        if prefix is not None:
            owner = service.revoke_key(prefix)
            click.echo(f"revoked key {prefix} of {owner!r}", err=True)
        else:
            assert name is not None
            count = service.revoke_keys(name)
            click.echo(f"revoked {count} active key(s) of {name!r}", err=True)


@command.command()
@click.argument("name")
def disable(name: str) -> None:
    """Stop NAME from authenticating anywhere (keys, bearer tokens, password)."""
    with _service() as service:
        service.disable(name)
    click.echo(f"disabled {name!r}", err=True)


@command.command()
@click.argument("name")
@click.argument("state", type=click.Choice(["on", "off"]))
def subscription(name: str, state: str) -> None:
    """Turn NAME's threat-feed subscription on or off (off: the feed answers 403)."""
    with _service() as service:
        service.set_subscription(name, state == "on")
    click.echo(f"feed subscription of {name!r}: {state}", err=True)


def _password_from_stdin() -> str:
    line = sys.stdin.readline()
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise InvalidInput("no password on stdin")
    return password


@command.command()
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin's first line.")
def password(name: str, password_stdin: bool) -> None:
    """Set NAME's password for the triage UI (hashed with argon2id)."""
    if password_stdin:
        secret = _password_from_stdin()
    else:
        secret = click.prompt("New password", hide_input=True, confirmation_prompt=True, err=True)
    with _service() as service:
        service.set_password(name, secret)
    click.echo(f"password of {name!r} set", err=True)
