"""The client side of ``POST /auth/token``, used by ``threatfeed auth token -b``.

The answer comes from whatever server the user configured, so its text is
cleaned before it reaches a terminal and the token is checked to be one
printable word before it is pasted into a header by ``$(...)``.
"""

from __future__ import annotations

from typing import Any

import httpx

from threatfeed.accounts.errors import AuthenticationError
from threatfeed.errors import ThreatfeedError

TIMEOUT_SECONDS = 10.0


def _printable(text: str, limit: int = 300) -> str:
    return "".join(char if char.isprintable() else "?" for char in text[:limit])


def _message(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return _printable(response.text)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return _printable(body["message"])
    return _printable(response.text)


def token_url(server: str) -> str:
    return server.rstrip("/") + "/auth/token"


def fetch_bearer(server: str, api_key: str) -> str:
    """A fresh bearer token for ``api_key`` from ``server``."""
    url = token_url(server)
    try:
        response = httpx.post(url, headers={"x-access-token": api_key}, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise ThreatfeedError(f"cannot reach {url}: {_printable(str(exc))}") from None
    if response.status_code == 401:
        raise AuthenticationError(f"the server refused the API key: {_message(response)}")
    if response.status_code != 200:
        raise ThreatfeedError(f"{url} answered {response.status_code}: {_message(response)}")
    try:
        token = response.json()["access_token"]
    except (ValueError, KeyError, TypeError):
        raise ThreatfeedError(f"{url} did not answer with an access token") from None
    if not isinstance(token, str) or not token.isascii() or not token.isprintable() or " " in token:
        raise ThreatfeedError(f"{url} answered with an unusable access token")
    return token
