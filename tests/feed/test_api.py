"""The feed API over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.feed.conftest import T0, item, seed
from threatfeed.accounts.service import AccountService
from threatfeed.feed.cursor import Position, encode_cursor
from threatfeed.feed.writer import import_items, withdraw

ITEM_KEYS = {"created", "ecosystem", "hashes", "indicators", "name", "version"}

StartServer = Callable[..., AbstractContextManager[LiveServer]]


@pytest.fixture
def server(live_server: StartServer) -> Iterator[LiveServer]:
    with live_server() as running:
        yield running


def key_for(server: LiveServer, role: str = "subscriber", **kwargs: Any) -> str:
    _, key = AccountService(server.database, server.settings).add(
        f"{role}-{threading.get_ident()}-{datetime.now().timestamp()}", role, **kwargs
    )
    return key


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.url, headers={"x-access-token": key_for(server)}, timeout=10
    ) as client:
        yield client


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [p["name"] for p in response.json()["packages"]]


def test_first_page_has_the_documented_shape(server: LiveServer, client: httpx.Client) -> None:
    seed(server.database, [item(n) for n in range(30)])
    body = client.get("/").json()
    assert body["has_next"] is True
    assert body["has_previous"] is False
    assert len(body["packages"]) == 25
    first = body["packages"][0]
    assert set(first) == ITEM_KEYS
    assert first["name"] == "pkg-00029"  # newest added first
    assert first["created"] == "Mon, 17 Jul 2023 23:59:31 GMT"
    assert parsedate_to_datetime(first["created"]) == T0 - timedelta(days=1, seconds=29)
    assert first["hashes"] == [
        {"archive": "pkg-00029-1.0.29.tgz", "hash": f"{29:064x}", "type": "SHA256"}
    ]
    assert first["indicators"] == {
        "npm_hooks_rule": ["node index.js"],
        "trivial_package_rule": True,
    }


def test_pages_end_to_end(server: LiveServer, client: httpx.Client) -> None:
    seed(server.database, [item(n) for n in range(7)])
    first = client.get("/", params={"per_page": 3}).json()
    last = client.get("/", params={"per_page": 3, "page": 3}).json()
    beyond = client.get("/", params={"per_page": 3, "page": 4}).json()
    assert (first["has_previous"], first["has_next"]) == (False, True)
    assert (last["has_previous"], last["has_next"], len(last["packages"])) == (True, False, 1)
    assert (beyond["has_previous"], beyond["has_next"], beyond["packages"]) == (True, False, [])


def test_empty_feed(client: httpx.Client) -> None:
    for page in ("1", "2"):
        body = client.get("/", params={"page": page}).json()
        assert body == {
            "has_next": False,
            "has_previous": False,
            "next_cursor": None,
            "packages": [],
        }


def test_ties_are_broken_deterministically_across_pages(
    server: LiveServer, client: httpx.Client
) -> None:
    same_moment = T0 + timedelta(hours=1)
    seed(server.database, [item(n, added=same_moment) for n in range(23)])
    walked = [
        name
        for page in range(1, 6)
        for name in names(client.get("/", params={"per_page": 5, "page": page}))
    ]
    assert sorted(walked) == sorted(f"pkg-{n:05d}" for n in range(23))
    assert len(set(walked)) == 23
    again = [
        name
        for page in range(1, 6)
        for name in names(client.get("/", params={"per_page": 5, "page": page}))
    ]
    assert again == walked


def test_since_is_inclusive_from_the_utc_day(server: LiveServer, client: httpx.Client) -> None:
    edges = {
        "before": datetime(2023, 7, 18, 23, 59, 59, 999999, tzinfo=UTC),
        "midnight": datetime(2023, 7, 19, 0, 0, 0, tzinfo=UTC),
        "after": datetime(2023, 7, 19, 23, 59, 59, tzinfo=UTC),
        "next-day": datetime(2023, 7, 20, 0, 0, 0, tzinfo=UTC),
    }
    seed(
        server.database,
        [item(n, added=at, name=label) for n, (label, at) in enumerate(edges.items())],
    )
    assert names(client.get("/", params={"since": "2023-07-19"})) == [
        "next-day",
        "after",
        "midnight",
    ]
    assert names(client.get("/", params={"since": "2023-07-20"})) == ["next-day"]
    assert names(client.get("/", params={"since": "2023-07-19T02:00:01+02:00"})) == [
        "next-day",
        "after",
    ]
    assert names(client.get("/", params={"since": "2023-07-18T23:59:59.999999Z"})) == [
        "next-day",
        "after",
        "midnight",
        "before",
    ]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"per_page": "101"}, "per_page"),
        ({"per_page": "0"}, "per_page"),
        ({"since": "2023-13-01"}, "since"),
        ({"since": "July 19"}, "since"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"cursor": encode_cursor(Position(T0, 2**40))}, "cursor"),
        ({"ecosystem": "pip"}, "ecosystem"),
        ({"name": "a\x00b"}, "name"),
    ],
)
def test_bad_parameters_get_400_naming_them(
    client: httpx.Client, params: dict[str, str], parameter: str
) -> None:
    response = client.get("/", params=params)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_parameter"
    assert response.json()["parameter"] == parameter


def test_per_page_bounds(server: LiveServer, client: httpx.Client) -> None:
    seed(server.database, [item(n) for n in range(120)])
    assert len(names(client.get("/", params={"per_page": 100}))) == 100
    assert len(names(client.get("/", params={"per_page": 1}))) == 1


def test_filters(server: LiveServer, client: httpx.Client) -> None:
    seed(
        server.database,
        [item(0, ecosystem="pypi", name="requestz"), item(1, name="left-padd"), item(2)],
    )
    assert names(client.get("/", params={"ecosystem": "pypi"})) == ["requestz"]
    assert names(client.get("/", params={"name": "left-padd"})) == ["left-padd"]
    assert names(client.get("/", params={"ecosystem": "pypi", "name": "left-padd"})) == []


def test_cursor_walk_is_stable_while_the_feed_grows(
    server: LiveServer, client: httpx.Client
) -> None:
    seed(server.database, [item(n, added=T0 + timedelta(seconds=n // 3)) for n in range(40)])
    seen: list[str] = []
    body = client.get("/", params={"per_page": 6}).json()
    extra = 1000
    while True:
        seen += [p["name"] for p in body["packages"]]
        import_items(server.database, [item(extra, added=datetime.now(UTC))])
        extra += 1
        if not body["has_next"]:
            break
        body = client.get("/", params={"per_page": 6, "cursor": body["next_cursor"]}).json()
        assert body["has_previous"] is True
    assert seen == [f"pkg-{n:05d}" for n in reversed(range(40))]


def test_cursor_pages_know_whether_anything_comes_before_them(
    server: LiveServer, client: httpx.Client
) -> None:
    seed(server.database, [item(n) for n in range(6)])
    first = client.get("/", params={"per_page": 2}).json()
    second = client.get("/", params={"per_page": 2, "cursor": first["next_cursor"]}).json()
    assert second["has_previous"] is True
    with server.database.session() as session:  # everything before the cursor leaves the feed
        for n in (5, 4):
            withdraw(session, "npm", f"pkg-{n:05d}", f"1.0.{n}", "false positive")
    again = client.get("/", params={"per_page": 2, "cursor": first["next_cursor"]}).json()
    assert [p["name"] for p in again["packages"]] == ["pkg-00003", "pkg-00002"]
    assert (again["has_previous"], again["has_next"]) == (False, True)
    with server.database.session() as session:  # and everything after it too
        for n in (1, 0):
            withdraw(session, "npm", f"pkg-{n:05d}", f"1.0.{n}", "false positive")
    end = client.get("/", params={"per_page": 2, "cursor": again["next_cursor"]}).json()
    assert end == {"has_next": False, "has_previous": True, "next_cursor": None, "packages": []}


def test_a_deep_page_is_the_same_by_page_and_by_cursor_and_with_filters(
    server: LiveServer, client: httpx.Client
) -> None:
    seed(server.database, [item(n, ecosystem=("npm", "pypi")[n % 2]) for n in range(30)])
    for filters in ({}, {"ecosystem": "pypi"}, {"since": "2023-07-19"}):
        before = client.get("/", params={**filters, "per_page": 4, "page": 2}).json()
        by_page = client.get("/", params={**filters, "per_page": 4, "page": 3}).json()
        by_cursor = client.get(
            "/", params={**filters, "per_page": 4, "cursor": before["next_cursor"]}
        ).json()
        assert by_page["packages"] == by_cursor["packages"] != []
        assert by_page["has_previous"] is by_cursor["has_previous"] is True
        assert by_page["has_next"] is by_cursor["has_next"]


def test_withdrawn_entries_leave_the_feed_and_reach_incremental_consumers(
    server: LiveServer, client: httpx.Client
) -> None:
    seed(server.database, [item(n) for n in range(3)])
    with server.database.session() as session:
        withdraw(session, "npm", "pkg-00001", "1.0.1", "false positive: a build script")
    assert names(client.get("/")) == ["pkg-00002", "pkg-00000"]
    today = datetime.now(UTC).date().isoformat()
    withdrawn = client.get("/withdrawn", params={"since": today}).json()
    assert [p["name"] for p in withdrawn["packages"]] == ["pkg-00001"]
    entry = withdrawn["packages"][0]
    assert entry["withdrawn_reason"] == "false positive: a build script"
    assert parsedate_to_datetime(entry["withdrawn"]).date().isoformat() == today
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert client.get("/withdrawn", params={"since": tomorrow}).json()["packages"] == []


def test_etag_and_if_none_match(server: LiveServer, client: httpx.Client) -> None:
    seed(server.database, [item(n) for n in range(3)])
    first = client.get("/")
    etag = first.headers["etag"]
    cached = client.get("/", headers={"if-none-match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    seed(server.database, [item(9)])
    assert client.get("/", headers={"if-none-match": etag}).status_code == 200


def test_missing_and_unknown_tokens_get_401(server: LiveServer) -> None:
    anonymous = httpx.get(server.url + "/")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthorized"
    unknown = httpx.get(server.url + "/", headers={"x-access-token": "tf_" + "a" * 43})
    assert unknown.status_code == 401
    garbage = httpx.get(server.url + "/", headers={b"authorization": b"Bearer \xff\xfetf_"})
    assert garbage.status_code == 401


def test_valid_token_without_subscription_gets_403(server: LiveServer) -> None:
    key = key_for(server, subscribed=False)
    response = httpx.get(server.url + "/", headers={"x-access-token": key})
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_authorization_bearer_header_and_bearer_tokens(server: LiveServer) -> None:
    key = key_for(server)
    assert (
        httpx.get(server.url + "/", headers={"authorization": f"Bearer {key}"}).status_code == 200
    )
    issued = httpx.post(server.url + "/auth/token", headers={"x-access-token": key})
    assert issued.status_code == 200
    bearer = issued.json()["access_token"]
    assert httpx.get(server.url + "/", headers={"x-access-token": bearer}).status_code == 200
    assert (
        httpx.get(server.url + "/", headers={"authorization": f"Bearer {bearer}"}).status_code
        == 200
    )


def test_expired_bearer_token_gets_401(live_server: StartServer) -> None:
    with live_server(bearer_ttl_seconds=3) as server:
        key = key_for(server)
        bearer = httpx.post(server.url + "/auth/token", headers={"x-access-token": key}).json()[
            "access_token"
        ]
        assert httpx.get(server.url + "/", headers={"x-access-token": bearer}).status_code == 200
        time.sleep(3.2)
        assert httpx.get(server.url + "/", headers={"x-access-token": bearer}).status_code == 401


def test_revoked_key_and_its_bearer_tokens_get_401(live_server: StartServer) -> None:
    with live_server(auth_cache_seconds=0) as server:
        accounts = AccountService(server.database, server.settings)
        _, key = accounts.add("revokee", "subscriber")
        bearer = httpx.post(server.url + "/auth/token", headers={"x-access-token": key}).json()[
            "access_token"
        ]
        assert httpx.get(server.url + "/", headers={"x-access-token": bearer}).status_code == 200
        accounts.revoke_keys("revokee")
        assert httpx.get(server.url + "/", headers={"x-access-token": key}).status_code == 401
        assert httpx.get(server.url + "/", headers={"x-access-token": bearer}).status_code == 401


def test_rate_limit_gives_429_with_retry_after(live_server: StartServer) -> None:
    with live_server(rate_limit_per_minute=6, rate_limit_burst=3) as server:
        headers = {"x-access-token": key_for(server)}
        statuses = [httpx.get(server.url + "/", headers=headers).status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200]
        limited = httpx.get(server.url + "/", headers=headers)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 10
        assert limited.json()["error"] == "rate_limited"
        other = {"x-access-token": key_for(server)}
        assert httpx.get(server.url + "/", headers=other).status_code == 200


def test_unknown_routes_and_methods_answer_json(server: LiveServer, client: httpx.Client) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/nope").json()["error"] == "not_found"
    assert client.post("/").status_code == 405
    spec = httpx.get(server.url + "/openapi.json").json()
    assert set(spec["paths"]) >= {"/", "/withdrawn"}
