"""Fixtures of the triage UI tests: a live server, accounts, logged-in HTTP clients."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import httpx
import pytest

from threatfeed.accounts import AccountService

from ..conftest import LiveServer

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def login(url: str, name: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=10)
    token = csrf_of(client.get("/triage/login").text)
    response = client.post(
        "/triage/login", data={"csrf": token, "name": name, "password": password}
    )
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def server(
    live_server: Callable[..., AbstractContextManager[LiveServer]],
) -> Iterator[LiveServer]:
    with live_server() as running:
        yield running


@pytest.fixture
def accounts(server: LiveServer) -> AccountService:
    return AccountService(server.database, server.settings, cache_ttl=0)


@pytest.fixture
def make_account(accounts: AccountService) -> Callable[..., str]:
    """Creates an account with a password; returns its API key."""

    def make(name: str, role: str = "researcher", password: str | None = PASSWORD) -> str:
        _, key = accounts.add(name, role)
        if password is not None:
            accounts.set_password(name, password)
        return key

    return make
