"""Schemathesis drives the API from its own OpenAPI description: no input gives a 5xx."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import LiveServer
from tests.feed.conftest import item, seed
from threatfeed.accounts.service import AccountService
from threatfeed.feed.openapi import openapi_document

schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture
def fuzz_target(
    live_server: Callable[..., AbstractContextManager[LiveServer]],
) -> Iterator[tuple[str, str]]:
    with live_server(rate_limit_burst=100_000) as server:
        seed(server.database, [item(n, ecosystem=("npm", "pypi")[n % 2]) for n in range(40)])
        _, key = AccountService(server.database, server.settings).add("fuzzer", "subscriber")
        yield server.url, key


@schema.parametrize()
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_gives_a_server_error(
    case: schemathesis.Case[Any], fuzz_target: tuple[str, str]
) -> None:
    url, key = fuzz_target
    response = case.call(base_url=url, headers={"x-access-token": key})
    assert response.status_code < 500, response.text
    expected = {200, 400} if case.method == "GET" else {405}
    assert response.status_code in expected, response.text
    if response.status_code == 200:
        case.validate_response(response)
