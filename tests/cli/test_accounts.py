"""``threatfeed accounts`` through the real command group, on both database backends."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from threatfeed.accounts import AccountService, AuthenticationError, Role
from threatfeed.cli.main import cli
from threatfeed.config import Settings
from threatfeed.store import Database

KEY = re.compile(r"tf_[A-Za-z0-9_-]{43}")


@pytest.fixture
def env(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "THREATFEED_DATABASE_URL": database.url,
        "THREATFEED_DATA_DIR": str(tmp_path / "data"),
        "THREATFEED_SECRET_KEY": "cli-test-secret",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def service(env: dict[str, str], database: Database) -> AccountService:
    return AccountService(database, Settings.from_env(env), cache_ttl=0)


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["accounts", *args], input=stdin)


def add(name: str, *options: str) -> str:
    result = run("add", name, *options)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_add_prints_the_new_key_alone(service: AccountService) -> None:
    result = run("add", "alice", "--role", "researcher")

    assert result.exit_code == 0, result.output
    assert KEY.fullmatch(result.stdout.removesuffix("\n"))
    assert "researcher account 'alice'" in result.stderr
    principal = service.authenticate(result.stdout.strip())
    assert (principal.name, principal.role, principal.subscribed) == (
        "alice",
        Role.RESEARCHER,
        True,
    )


def test_the_role_defaults_to_subscriber_and_the_subscription_can_be_left_out(
    service: AccountService,
) -> None:
    plain = service.authenticate(add("alice"))
    unsubscribed = service.authenticate(add("bob", "--role", "admin", "--no-subscription"))

    assert (plain.role, plain.subscribed) == (Role.SUBSCRIBER, True)
    assert (unsubscribed.role, unsubscribed.subscribed) == (Role.ADMIN, False)


def test_a_duplicate_name_fails_with_a_message_and_no_key(service: AccountService) -> None:
    add("alice")
    result = run("add", "alice")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert "threatfeed: error: account 'alice' already exists" in result.stderr


def test_an_unknown_role_is_a_usage_error(env: dict[str, str]) -> None:
    result = run("add", "alice", "--role", "root")
    assert result.exit_code == 2
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["key", "ghost"],
        ["revoke", "ghost"],
        ["disable", "ghost"],
        ["subscription", "ghost", "on"],
        ["password", "ghost", "--password-stdin"],
    ],
)
def test_unknown_accounts_are_named_in_the_error(env: dict[str, str], args: list[str]) -> None:
    result = run(*args, stdin="a long enough password\n")
    assert result.exit_code == 1
    assert "threatfeed: error: no account named 'ghost'" in result.stderr


def test_key_adds_a_key_and_revoke_kills_them_all(service: AccountService) -> None:
    first = add("alice")
    result = run("key", "alice")
    second = result.stdout.strip()
    assert result.exit_code == 0
    assert KEY.fullmatch(second)
    assert service.authenticate(first).account_id == service.authenticate(second).account_id

    result = run("revoke", "alice")

    assert result.exit_code == 0
    assert "revoked 2 active key(s)" in result.stderr
    for key in (first, second):
        with pytest.raises(AuthenticationError, match="revoked"):
            service.authenticate(key)


def test_revoke_by_prefix_revokes_one_key(service: AccountService) -> None:
    first = add("alice")
    second = run("key", "alice").stdout.strip()

    result = run("revoke", "--prefix", first[:11])

    assert result.exit_code == 0, result.output
    with pytest.raises(AuthenticationError, match="revoked"):
        service.authenticate(first)
    assert service.authenticate(second).name == "alice"
    assert run("revoke", "--prefix", first[:11]).exit_code == 1


@pytest.mark.parametrize("args", [[], ["alice", "--prefix", "tf_abcdefgh"]])
def test_revoke_needs_exactly_one_target(env: dict[str, str], args: list[str]) -> None:
    result = run("revoke", *args)
    assert result.exit_code == 2
    assert "either NAME or --prefix" in result.output


def test_disable_and_subscription(service: AccountService) -> None:
    key = add("alice")

    assert run("subscription", "alice", "off").exit_code == 0
    assert not service.authenticate(key).can_read_feed
    assert run("subscription", "alice", "on").exit_code == 0
    assert service.authenticate(key).can_read_feed

    assert run("disable", "alice").exit_code == 0
    with pytest.raises(AuthenticationError, match="disabled"):
        service.authenticate(key)


def test_password_from_stdin_or_a_prompt(service: AccountService) -> None:
    add("alice", "--role", "researcher")

    result = run("password", "alice", "--password-stdin", stdin="first long password\n")
    assert result.exit_code == 0, result.output
    assert service.verify_password("alice", "first long password").name == "alice"

    prompted = run("password", "alice", stdin="second long password\nsecond long password\n")
    assert prompted.exit_code == 0, prompted.output
    assert "second long password" not in prompted.output
    assert service.verify_password("alice", "second long password").name == "alice"
    with pytest.raises(AuthenticationError):
        service.verify_password("alice", "first long password")


def test_a_short_password_is_refused(service: AccountService) -> None:
    add("alice")
    result = run("password", "alice", "--password-stdin", stdin="short\n")
    assert result.exit_code == 1
    assert "at least 12 characters" in result.stderr


def test_list_shows_accounts_and_prefixes_but_no_key(service: AccountService) -> None:
    alice = add("alice", "--role", "admin")
    bob = add("bob", "--no-subscription")
    run("disable", "bob")

    table = run("list")
    as_json = json.loads(run("list", "--format", "json").stdout)

    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "ROLE"]
    assert lines[1].split()[:5] == ["alice", "admin", "yes", "active", "-"]
    assert lines[2].split()[:4] == ["bob", "subscriber", "no", "disabled"]
    assert alice[:11] in table.stdout
    assert [(a["name"], a["role"], a["subscribed"]) for a in as_json] == [
        ("alice", "admin", True),
        ("bob", "subscriber", False),
    ]
    assert as_json[1]["disabled_at"] is not None
    assert as_json[0]["keys"][0]["prefix"] == alice[:11]
    for key in (alice, bob):
        assert key not in table.output
        assert key[11:] not in json.dumps(as_json)


def test_the_console_script_prints_only_the_key(
    env: dict[str, str], service: AccountService
) -> None:
    script = Path(sys.executable).with_name("threatfeed")
    completed = subprocess.run(
        [str(script), "accounts", "add", "carol", "--role", "researcher"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert KEY.fullmatch(completed.stdout.removesuffix("\n"))
    assert service.authenticate(completed.stdout.strip()).role is Role.RESEARCHER
