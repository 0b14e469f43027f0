"""``/metrics`` answers researcher and admin accounts only, with the pipeline's counters."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx

from tests.conftest import LiveServer
from threatfeed.accounts.service import AccountService


def test_metrics_need_a_staff_credential(
    live_server: Callable[..., AbstractContextManager[LiveServer]],
) -> None:
    with live_server() as server:
        accounts = AccountService(server.database, server.settings)
        _, subscriber = accounts.add("customer", "subscriber")
        _, researcher = accounts.add("analyst", "researcher")
        _, admin = accounts.add("prometheus", "admin")
        url = server.url + "/metrics"
        anonymous = httpx.get(url)
        assert anonymous.status_code == 401
        assert anonymous.json()["error"] == "unauthorized"
        assert httpx.get(url, headers={"x-access-token": "tf_nonsense"}).status_code == 401
        assert httpx.get(url, headers={"x-access-token": subscriber}).status_code == 403
        for key in (researcher, admin):
            answer = httpx.get(url, headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/plain")
            assert 'threatfeed_jobs{state="queued"} 0.0' in answer.text
