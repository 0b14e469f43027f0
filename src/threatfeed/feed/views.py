"""The feed's HTTP endpoints: ``GET /`` as the contract says, and ``GET /withdrawn``.

Authentication comes before parameter checks, so an anonymous caller learns
nothing about the API beyond "send a token".

The endpoints are ``async``: a plain ``def`` endpoint costs a hand-off to
Starlette's thread pool and back on every request, which alone took a third of
the server's throughput. Nothing here blocks the loop for long: a token found in
the authentication cache costs a hash, one that is not is looked up in a thread,
and the reader keeps its own slow reads off the loop (``FeedReader.serve``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from threatfeed.accounts.errors import AuthenticationError
from threatfeed.accounts.http import rate_limit_key, token_from_headers
from threatfeed.accounts.ratelimit import RateLimiter
from threatfeed.accounts.service import AccountService
from threatfeed.feed.params import ParameterError, parse_feed_params
from threatfeed.feed.reader import LIVE, WITHDRAWN, FeedReader, View
from threatfeed.httpjson import error_response, too_many_requests, unauthorized


def _query(request: Request) -> dict[str, str]:
    """The query string as ``request.query_params`` reads it (last value of a repeated name
    wins), without the multi-dict it builds and the feed has no use for."""
    raw: bytes = request.scope["query_string"]
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


class FeedEndpoints:
    def __init__(self, reader: FeedReader, accounts: AccountService, limiter: RateLimiter) -> None:
        self._reader = reader
        self._accounts = accounts
        self._limiter = limiter

    def routes(self) -> list[Route]:
        return [
            Route("/", self._endpoint(LIVE), methods=["GET"]),
            Route("/withdrawn", self._endpoint(WITHDRAWN), methods=["GET"]),
        ]

    def _endpoint(self, view: View) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await self._serve(request, view)

        return endpoint

    async def _serve(self, request: Request, view: View) -> Response:
        if (refusal := await self._refusal(request)) is not None:
            return refusal
        try:
            params = parse_feed_params(_query(request))
        except ParameterError as exc:
            return error_response(400, "invalid_parameter", str(exc), parameter=exc.parameter)
        page = await self._reader.serve(params, view)
        etag = page.etag()
        headers = {
            "ETag": etag,
            "Cache-Control": "no-cache",
            "Vary": "x-access-token, Authorization",
        }
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(page.body(), 200, headers, media_type="application/json")

    async def _refusal(self, request: Request) -> Response | None:
        token = token_from_headers(request.headers)
        if token is None:
            return unauthorized("send an API key or bearer token in x-access-token")
        try:
            principal = self._accounts.authenticate_cached(token)
            if principal is None:
                principal = await anyio.to_thread.run_sync(self._accounts.authenticate, token)
        except AuthenticationError as exc:
            return unauthorized(exc.reason)
        if not principal.can_read_feed:
            return error_response(403, "forbidden", "this account has no threat-feed subscription")
        if (wait := self._limiter.hit(rate_limit_key(principal))) is not None:
            return too_many_requests(wait)
        return None
