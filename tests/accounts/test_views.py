"""The token endpoint over a real uvicorn server, mounted in a minimal app of its own."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import serve_app
from threatfeed.accounts import AccountService, RateLimiter
from threatfeed.accounts.views import routes


@pytest.fixture
def server(service: AccountService) -> Iterator[str]:
    limiter = RateLimiter(per_minute=60, burst=3)
    with serve_app(Starlette(routes=routes(service, limiter))) as url:
        yield url


def test_an_api_key_buys_a_bearer_token_that_authenticates(
    server: str, service: AccountService
) -> None:
    principal, key = service.add("alice", "subscriber")

    response = httpx.post(server + "/auth/token", headers={"x-access-token": key})

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 60
    assert service.authenticate(body["access_token"]) == principal


def test_the_key_may_come_as_authorization_bearer(server: str, service: AccountService) -> None:
    _, key = service.add("alice", "subscriber")
    response = httpx.post(server + "/auth/token", headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "send an API key"),
        ({"x-access-token": "tf_" + "x" * 43}, "unknown API key"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, "send an API key"),
    ],
)
def test_without_a_valid_key_the_answer_is_401(
    server: str, headers: dict[str, str], message: str
) -> None:
    response = httpx.post(server + "/auth/token", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"] == "unauthorized"
    assert message in response.json()["message"]


def test_a_revoked_key_gets_no_token(server: str, service: AccountService) -> None:
    _, key = service.add("alice", "subscriber")
    service.revoke_keys("alice")

    response = httpx.post(server + "/auth/token", headers={"x-access-token": key})

    assert response.status_code == 401
    assert response.json()["message"] == "API key revoked"


def test_a_bearer_token_cannot_renew_itself(server: str, service: AccountService) -> None:
    _, key = service.add("alice", "subscriber")
    bearer = httpx.post(server + "/auth/token", headers={"x-access-token": key}).json()

    response = httpx.post(
        server + "/auth/token", headers={"x-access-token": bearer["access_token"]}
    )

    assert response.status_code == 401
    assert "cannot be exchanged" in response.json()["message"]


def test_token_requests_are_rate_limited_per_account(server: str, service: AccountService) -> None:
    _, key = service.add("alice", "subscriber")
    _, other = service.add("bob", "subscriber")
    statuses = [
        httpx.post(server + "/auth/token", headers={"x-access-token": key}).status_code
        for _ in range(4)
    ]

    assert statuses == [200, 200, 200, 429]
    limited = httpx.post(server + "/auth/token", headers={"x-access-token": key})
    assert 1 <= int(limited.headers["retry-after"]) <= 2
    assert httpx.post(server + "/auth/token", headers={"x-access-token": other}).status_code == 200


def test_only_post_is_allowed(server: str) -> None:
    assert httpx.get(server + "/auth/token").status_code == 405
