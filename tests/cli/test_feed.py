"""``threatfeed feed import`` through the real command group, on both database backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.feed.conftest import item
from threatfeed.cli.main import cli
from threatfeed.store import Database


@pytest.fixture(autouse=True)
def env(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREATFEED_DATABASE_URL", database.url)
    monkeypatch.setenv("THREATFEED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("THREATFEED_SECRET_KEY", "cli-test-secret")


def test_import_skips_a_line_whose_text_no_database_takes_and_keeps_the_others(
    tmp_path: Path,
) -> None:
    good = json.dumps(item(1).as_json())
    # "\ud800" alone is valid JSON, and a str that SQLite and PostgreSQL both refuse
    bad = json.dumps(item(2).as_json()).replace("pkg-00002", "pkg\\ud800", 1)
    source = tmp_path / "items.jsonl"
    source.write_text(f"{good}\n{bad}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["feed", "import", str(source)])
    assert result.exit_code == 1, result.output
    assert "line 2" in result.output
    assert "lone surrogate" in result.output
    exported = CliRunner().invoke(cli, ["feed", "export"])
    assert exported.exit_code == 0, exported.output
    names = [json.loads(line)["name"] for line in exported.output.splitlines()]
    assert names == ["pkg-00001"]
