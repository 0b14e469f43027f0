"""``POST /auth/token``: exchanges an API key for a short-lived bearer token.

Only an API key can be exchanged: accepting a bearer token here would let a
leaked short-lived token renew itself until its key is revoked.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from threatfeed.accounts.bearer import is_bearer
from threatfeed.accounts.errors import AuthenticationError
from threatfeed.accounts.http import rate_limit_key, token_from_headers
from threatfeed.accounts.ratelimit import RateLimiter
from threatfeed.accounts.service import AccountService
from threatfeed.httpjson import json_response, too_many_requests, unauthorized


def routes(accounts: AccountService, limiter: RateLimiter | None = None) -> list[Route]:
    """The accounts routes; ``limiter`` (shared with the feed) bounds token requests too."""

    def issue_token(request: Request) -> Response:
        token = token_from_headers(request.headers)
        if token is None:
            return unauthorized("send an API key in x-access-token or Authorization: Bearer")
        if is_bearer(token):
            return unauthorized("a bearer token cannot be exchanged; send the API key")
        try:
            principal = accounts.authenticate(token)
        except AuthenticationError as exc:
            return unauthorized(exc.reason)
        if limiter is not None and (wait := limiter.hit(rate_limit_key(principal))) is not None:
            return too_many_requests(wait)
        access_token, _ = accounts.issue_bearer(principal)
        return json_response(
            {
                "access_token": access_token,
                "token_type": "bearer",
                "expires_in": accounts.bearer_ttl,
            },
            headers={"Cache-Control": "no-store"},
        )

    return [Route("/auth/token", issue_token, methods=["POST"])]
