"""The token client against servers that answer badly, as a hostile or broken one might."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import serve_app
from threatfeed.accounts import AuthenticationError
from threatfeed.accounts.client import fetch_bearer, token_url
from threatfeed.errors import ThreatfeedError

ANSWERS: dict[str, Response] = {
    "ok": JSONResponse({"access_token": "tfb.good.token"}),
    "refused": JSONResponse({"message": "nope\x1b[2J\x07"}, status_code=401),
    "broken": Response("<html>\x1b]0;pwned\x07</html>", status_code=502),
    "not-json": Response("access_token=x", status_code=200),
    "multiline": JSONResponse({"access_token": "tfb.a\nrm -rf ~"}),
    "number": JSONResponse({"access_token": 42}),
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    def answer(request: Request) -> Response:
        return ANSWERS[request.path_params["case"]]

    with serve_app(
        Starlette(routes=[Route("/{case}/auth/token", answer, methods=["POST"])])
    ) as url:
        yield url


def test_a_token_is_fetched(server: str) -> None:
    assert fetch_bearer(f"{server}/ok/", "tf_key") == "tfb.good.token"


def test_a_refusal_is_an_authentication_error_without_terminal_escapes(server: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        fetch_bearer(f"{server}/refused", "tf_key")
    assert caught.value.reason == "the server refused the API key: nope?[2J?"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("broken", "answered 502"),
        ("not-json", "did not answer with an access token"),
        ("multiline", "unusable access token"),
        ("number", "unusable access token"),
    ],
)
def test_bad_answers_are_errors(server: str, case: str, message: str) -> None:
    with pytest.raises(ThreatfeedError, match=message) as caught:
        fetch_bearer(f"{server}/{case}", "tf_key")
    assert "\x1b" not in str(caught.value)


def test_the_token_url_joins_with_or_without_a_slash() -> None:
    assert token_url("http://h:1") == token_url("http://h:1/") == "http://h:1/auth/token"
    assert token_url("https://h/feed/") == "https://h/feed/auth/token"
