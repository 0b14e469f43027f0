"""`threatfeed serve` runs API, watchers and workers in one process; status and metrics tell."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.fakeregistry import FakeRegistry
from tests.pipeline.processes import THREATFEED, pipeline_env, processes, wait_for
from tests.pipeline.samples import publish_npm, publish_pypi
from threatfeed.store import Database
from threatfeed.store.models import Cursor, TriageItem


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cursors(database: Database) -> int:
    with database.session() as session:
        return len(session.scalars(select(Cursor)).all())


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def metric(text: str, name: str) -> float:
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name)]
    return sum(values)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_watches_analyses_and_reports(
    database: Database, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    port = free_port()
    env = pipeline_env(fake_registry, database.url, tmp_path)
    base = f"http://127.0.0.1:{port}"
    with processes(env, tmp_path / "logs") as group:
        group.start("serve", "serve", "--port", str(port), "--log-level", "warning")
        wait_for(lambda: answers(base + "/healthz") and cursors(database) == 2, 60, "serve")
        key = subprocess.run(
            [THREATFEED, "accounts", "add", "prometheus", "--role", "admin"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        staff = {"x-access-token": key}
        publish_npm(fake_registry, "evil-hook", "1.0.0", evil=True)
        publish_pypi(fake_registry, "fine", "1.0", evil=False)
        wait_for(
            lambda: (
                metric(
                    httpx.get(base + "/metrics", headers=staff).text,
                    "threatfeed_archives_analysed_total",
                )
                == 3
            ),
            60,
            "three archives analysed\n" + group.log_text(),
        )
        text = httpx.get(base + "/metrics", headers=staff).text
        status = subprocess.run(
            [THREATFEED, "status", "--json"], env=env, capture_output=True, text=True, check=True
        )
    assert metric(text, "threatfeed_archives_flagged_total") == 1
    assert metric(text, "threatfeed_download_bytes_total") > 0
    assert metric(text, "threatfeed_analysis_seconds_count") == 3
    assert metric(text, 'threatfeed_jobs{state="done"}') >= 4
    report = json.loads(status.stdout)
    assert sorted(cursor["source"] for cursor in report["cursors"]) == ["npm", "pypi"]
    assert report["queue"]["by_state"]["done"] >= 4
    assert report["open_gaps"] == []
    with database.session() as session:
        assert session.scalars(select(TriageItem.name)).all() == ["evil-hook"]


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_keeps_serving_without_a_route_to_the_registries(
    database: Database, tmp_path: Path
) -> None:
    port, nowhere = free_port(), f"http://127.0.0.1:{free_port()}"
    with FakeRegistry() as fake:
        env = pipeline_env(fake, database.url, tmp_path)
    env.update(
        THREATFEED_NPM_CHANGES_URL=nowhere,
        THREATFEED_NPM_REGISTRY_URL=nowhere,
        THREATFEED_PYPI_URL=nowhere,
    )
    base = f"http://127.0.0.1:{port}"
    with processes(env, tmp_path / "logs") as group:
        group.start("serve", "serve", "--port", str(port), "--log-level", "warning")
        wait_for(lambda: "retrying in" in group.log_text(), 60, "a logged retry")
        assert answers(base + "/healthz")
        assert group.running["serve"].poll() is None


def test_serve_without_watchers_polls_nothing(
    database: Database, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    port = free_port()
    env = pipeline_env(fake_registry, database.url, tmp_path, THREATFEED_WATCH="0")
    with processes(env, tmp_path / "logs") as group:
        group.start("serve", "serve", "--port", str(port), "--log-level", "warning")
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/healthz"), 60, "serve")
    assert cursors(database) == 0
    assert fake_registry.requests == []
