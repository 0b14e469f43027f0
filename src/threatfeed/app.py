"""Builds the web application from the feed, accounts and (later) triage features."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from threatfeed.accounts import views as account_views
from threatfeed.accounts.ratelimit import RateLimiter
from threatfeed.accounts.service import AccountService
from threatfeed.config import Settings
from threatfeed.errors import Unavailable
from threatfeed.feed.openapi import openapi_document
from threatfeed.feed.reader import FeedReader
from threatfeed.feed.views import FeedEndpoints
from threatfeed.httpjson import dumps, error_response, json_response
from threatfeed.pipeline import metrics
from threatfeed.pipeline.embedded import EmbeddedQueue
from threatfeed.store import Database
from threatfeed.triage import web as triage_web

log = logging.getLogger(__name__)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _unavailable(request: Request, exc: Exception) -> Response:
    """A database that is down or restarting is the operator's to fix and the client's to
    retry, not a server fault: 503 with ``Retry-After``, logged once per failed request."""
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    return error_response(
        503,
        "unavailable",
        "the database is unavailable; retry shortly",
        headers={"Retry-After": "1"},
    )


async def _operational_error(request: Request, exc: Exception) -> Response:
    """PostgreSQL gone or going away under SQLAlchemy (an authentication looked up in the
    database, say) is ``Unavailable`` too; any other operational error stays a 500."""
    assert isinstance(exc, OperationalError)
    if isinstance(exc.orig, psycopg.OperationalError):
        return await _unavailable(request, exc)
    raise exc


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(500, "internal_error", "the server failed; the error was logged")


def create_app(settings: Settings, database: Database) -> Starlette:
    accounts = AccountService(database, settings, cache_ttl=settings.auth_cache_seconds)
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    reader = FeedReader(database)
    feed = FeedEndpoints(reader, accounts, limiter)
    openapi = dumps(openapi_document())

    def openapi_json(request: Request) -> Response:
        return Response(openapi, media_type="application/json")

    def health(request: Request) -> Response:
        return json_response({"status": "ok"})

    jobs = EmbeddedQueue(database)  # the jobs table, shared by both queues: read-only here

    routes = [
        *feed.routes(),
        *account_views.routes(accounts, limiter),
        *triage_web.routes(settings, database, accounts),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/metrics", metrics.endpoint(jobs, accounts), methods=["GET"]),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # What is alive once the server has started (modules, routes, compiled queries)
        # lives as long as it. Frozen, full collections stop walking it: they took about
        # 50 ms each with the event loop stopped, the p99 of PostgreSQL pages, whose
        # requests wait on shared statements and outlive the young collections.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            await reader.aclose()  # its PostgreSQL pool lives on the server's event loop

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPException: _http_error,
            Unavailable: _unavailable,
            OperationalError: _operational_error,
            Exception: _server_error,
        },
    )
