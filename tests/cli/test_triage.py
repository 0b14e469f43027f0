"""``threatfeed triage`` through the real command group, on both database backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from threatfeed.cli.main import cli
from threatfeed.store import Database
from threatfeed.store.models import FeedEntry, Verdict

from ..triage.factory import Sample, add


@pytest.fixture(autouse=True)
def env(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREATFEED_DATABASE_URL", database.url)
    monkeypatch.setenv("THREATFEED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("THREATFEED_SECRET_KEY", "cli-test-secret")
    monkeypatch.delenv("THREATFEED_OPERATOR", raising=False)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["triage", *args])


def test_list_json_has_one_object_per_pending_version(database: Database) -> None:
    add(
        database,
        Sample("low", score=0.55),
        Sample("high", score=0.97),
        Sample("pypi-one", ecosystem="pypi", score=0.7),
        Sample("clean", flagged=False, score=0.1),
    )
    result = run("list", "--format", "json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [(i["ecosystem"], i["name"], i["version"], i["score"]) for i in items] == [
        ("npm", "high", "1.0.0", 0.97),
        ("pypi", "pypi-one", "1.0.0", 0.7),
        ("npm", "low", "1.0.0", 0.55),
    ]
    assert items[0]["indicators"]["npm_hooks_rule"] == ["node index.js"]

    only_pypi = json.loads(run("list", "--ecosystem", "pypi", "--format", "json").stdout)
    assert [i["name"] for i in only_pypi] == ["pypi-one"]


def test_list_text_reveals_control_and_bidi_characters(database: Database) -> None:
    add(database, Sample("evil\x1b[2J\u202egnp"))
    result = run("list")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    assert "\u202e" not in result.stdout
    assert "evil⟦U+001B⟧[2J⟦U+202E⟧gnp@1.0.0" in result.stdout


def test_show_prints_metadata_evidence_and_locations(database: Database) -> None:
    add(database, Sample("shown"))
    result = run("show", "npm", "shown", "1.0.0")
    assert result.exit_code == 0, result.output
    assert "npm/shown@1.0.0  [pending]" in result.stdout
    assert "shown-1.0.0.tgz" in result.stdout
    assert "npm_hooks_rule at package/package.json:6" in result.stdout
    assert "https://exfil.example.invalid/c" in result.stdout
    detail = json.loads(run("show", "npm", "shown", "1.0.0", "--format", "json").stdout)
    assert detail["state"] == "pending"
    assert detail["archives"][0]["files"][1] == ["package/index.js", 2345]


def test_confirm_dismiss_withdraw_with_an_operator(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(database, Sample("bad"), Sample("fine"))
    confirmed = run("confirm", "npm", "bad", "1.0.0", "--reason", "exfiltrates env", "--as", "ops")
    assert confirmed.exit_code == 0, confirmed.output
    assert "npm/bad@1.0.0: pending -> malicious (by cli:ops)" in confirmed.stdout
    monkeypatch.setenv("THREATFEED_OPERATOR", "night-shift")
    assert run("dismiss", "npm", "fine", "1.0.0", "--reason", "test helper").exit_code == 0
    assert run("withdraw", "npm", "bad", "1.0.0", "--reason", "a build tool").exit_code == 0
    with database.session() as session:
        verdicts = session.execute(
            select(Verdict.verdict, Verdict.author, Verdict.account_id).order_by(Verdict.id)
        ).all()
        entry = session.scalars(select(FeedEntry)).one()
    assert [tuple(v) for v in verdicts] == [
        ("malicious", "cli:ops", None),
        ("benign", "cli:night-shift", None),
        ("withdrawn", "cli:night-shift", None),
    ]
    assert entry.withdrawn_reason == "a build tool"
    assert json.loads(run("list", "--format", "json").stdout) == []


def test_unknown_versions_and_illegal_moves_exit_non_zero(database: Database) -> None:
    add(database, Sample("pending-one"))
    unknown = run("confirm", "npm", "nope", "1.0.0", "--reason", "x")
    assert unknown.exit_code == 1
    assert "threatfeed: error: unknown package version npm/nope@1.0.0" in unknown.stderr
    illegal = run("withdraw", "npm", "pending-one", "1.0.0", "--reason", "x")
    assert illegal.exit_code == 1
    assert "cannot withdraw npm/pending-one@1.0.0: it is not in the feed" in illegal.stderr
    empty = run("dismiss", "npm", "pending-one", "1.0.0", "--reason", "  ")
    assert empty.exit_code == 1
    assert "a verdict needs a reason" in empty.stderr
    assert run("show", "npm", "nope", "2").exit_code == 1
