"""``threatfeed auth``: the credentials file, environment overrides, and ``token -b``
against a real uvicorn server serving the accounts routes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from starlette.applications import Starlette

from tests.conftest import serve_app
from threatfeed.accounts import AccountService
from threatfeed.accounts.views import routes
from threatfeed.cli.main import cli
from threatfeed.config import Settings
from threatfeed.store import Database

KEY = "tf_" + "k" * 43


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("THREATFEED_API_KEY", raising=False)
    monkeypatch.delenv("THREATFEED_SERVER", raising=False)
    return home


@pytest.fixture
def credentials_file(config_home: Path) -> Path:
    return config_home / "threatfeed" / "credentials.json"


@pytest.fixture
def zero_umask() -> Iterator[None]:
    """A permissive umask, so only the code's own mode choice can keep the file private."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["auth", *args], input=stdin)


def login(server: str = "http://127.0.0.1:8000/", key: str = KEY) -> Result:
    result = run("login", "--server", server, "--api-key", key)
    assert result.exit_code == 0, result.output
    return result


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("zero_umask")
def test_login_stores_the_credentials_readable_by_the_owner_only(credentials_file: Path) -> None:
    login()

    assert json.loads(credentials_file.read_text()) == {
        "server": "http://127.0.0.1:8000/",
        "api_key": KEY,
    }
    assert mode(credentials_file) == 0o600
    assert mode(credentials_file.parent) == 0o700
    assert [p.name for p in credentials_file.parent.iterdir()] == ["credentials.json"]


@pytest.mark.usefixtures("zero_umask")
def test_logging_in_again_replaces_a_too_open_file_with_a_private_one(
    credentials_file: Path,
) -> None:
    credentials_file.parent.mkdir(parents=True)
    credentials_file.write_text("{}")
    credentials_file.chmod(0o644)

    login(key="tf_" + "n" * 43)

    assert mode(credentials_file) == 0o600
    assert json.loads(credentials_file.read_text())["api_key"] == "tf_" + "n" * 43


def test_token_prints_the_stored_key_and_the_environment_overrides_it(
    credentials_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    login()
    assert run("token").stdout == KEY + "\n"

    monkeypatch.setenv("THREATFEED_API_KEY", "tf_from_the_environment")
    assert run("token").stdout == "tf_from_the_environment\n"
    monkeypatch.setenv("THREATFEED_SERVER", "https://feed.example")
    status = run("status")
    assert "https://feed.example  (from THREATFEED_SERVER)" in status.stdout
    assert "tf_from_the…  (from THREATFEED_API_KEY)" in status.stdout


def test_the_environment_alone_is_enough(
    config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREATFEED_API_KEY", KEY)
    assert run("token").stdout == KEY + "\n"


def test_without_credentials_token_and_status_fail_clearly(config_home: Path) -> None:
    token = run("token")
    assert token.exit_code == 1
    assert token.stdout == ""
    assert "no API key configured" in token.stderr
    assert run("status").exit_code == 1


def test_a_relative_xdg_config_home_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    monkeypatch.delenv("THREATFEED_API_KEY", raising=False)
    login()
    assert (tmp_path / "home" / ".config" / "threatfeed" / "credentials.json").exists()


@pytest.mark.parametrize(
    ("server", "key", "message"),
    [
        ("ftp://feed.example", KEY, "http:// or https://"),
        ("feed.example", KEY, "http:// or https://"),
        ("http://127.0.0.1:8000", "tfb.abc.def", "bearer token"),
        ("http://127.0.0.1:8000", "hunter2", "starts with 'tf_'"),
        ("http://127.0.0.1:8000", "tf_a\nb", "printable"),
    ],
)
def test_login_refuses_what_could_not_work(
    credentials_file: Path, server: str, key: str, message: str
) -> None:
    result = run("login", "--server", server, "--api-key", key)
    assert result.exit_code == 1
    assert message in result.stderr
    assert not credentials_file.exists()


def test_login_asks_for_the_key_without_echoing_it(credentials_file: Path) -> None:
    result = run("login", "--server", "http://127.0.0.1:8000/", stdin=KEY + "\n")
    assert result.exit_code == 0, result.output
    assert KEY not in result.output
    assert json.loads(credentials_file.read_text())["api_key"] == KEY


def test_login_warns_before_sending_a_key_over_plain_http(credentials_file: Path) -> None:
    assert "plain HTTP" in login("http://feed.example/").stderr
    assert "plain HTTP" not in login("https://feed.example/").stderr
    assert "plain HTTP" not in login("http://localhost:8000/").stderr


def test_status_shows_where_things_come_from_but_never_the_key(credentials_file: Path) -> None:
    login()
    result = run("status")
    assert result.exit_code == 0
    assert KEY not in result.output
    assert KEY[:11] + "…" in result.stdout
    assert "(mode 0600)" in result.stdout


def test_logout_removes_the_file(credentials_file: Path) -> None:
    login()
    assert run("logout").exit_code == 0
    assert not credentials_file.exists()
    again = run("logout")
    assert again.exit_code == 0
    assert "not logged in" in again.stderr


# -- token -b against a live server -------------------------------------------------------------


@pytest.fixture
def accounts(database: Database, tmp_path: Path) -> AccountService:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database.url,
        secret_key="auth-cli-test-secret",
        rate_limit_per_minute=600,
        rate_limit_burst=100,
        bearer_ttl_seconds=300,
    )
    return AccountService(database, settings, cache_ttl=0)


@pytest.fixture
def server(accounts: AccountService) -> Iterator[str]:
    with serve_app(Starlette(routes=routes(accounts))) as url:
        yield url + "/"


def test_token_b_prints_a_bearer_token_from_the_server(
    credentials_file: Path, server: str, accounts: AccountService
) -> None:
    principal, key = accounts.add("alice", "subscriber")
    login(server, key)

    result = run("token", "-b")

    assert result.exit_code == 0, result.output
    bearer = result.stdout.removesuffix("\n")
    assert bearer.startswith("tfb.")
    assert "\n" not in bearer
    assert accounts.authenticate(bearer) == principal
    assert run("token", "--bearer").exit_code == 0


def test_token_b_reports_a_refused_key(
    credentials_file: Path, server: str, accounts: AccountService
) -> None:
    _, key = accounts.add("alice", "subscriber")
    login(server, key)
    accounts.revoke_keys("alice")

    result = run("token", "-b")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert "the server refused the API key: API key revoked" in result.stderr


def test_token_b_reports_an_unreachable_server(credentials_file: Path) -> None:
    login("http://127.0.0.1:9/", KEY)  # the discard port: nothing listens there
    result = run("token", "-b")
    assert result.exit_code == 1
    assert "cannot reach http://127.0.0.1:9/auth/token" in result.stderr


def test_token_b_needs_a_server(config_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREATFEED_API_KEY", KEY)
    result = run("token", "-b")
    assert result.exit_code == 1
    assert "no server configured" in result.stderr


def test_the_console_script_gets_a_bearer_with_environment_credentials(
    config_home: Path, server: str, accounts: AccountService
) -> None:
    principal, key = accounts.add("alice", "subscriber")
    script = Path(sys.executable).with_name("threatfeed")
    completed = subprocess.run(
        [str(script), "auth", "token", "-b"],
        env={**os.environ, "THREATFEED_SERVER": server, "THREATFEED_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert accounts.authenticate(completed.stdout.removesuffix("\n")) == principal
