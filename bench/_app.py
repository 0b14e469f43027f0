"""The server under benchmark: the product's app plus the ceiling endpoints.

Run by uvicorn in its own process (``uvicorn --factory bench._app:create_app``),
configured like ``threatfeed serve`` through the ``THREATFEED_*`` environment.
The extra routes exist only here, never in the product:

- ``/__constant`` (async) returns a snapshot of page 1's body, same bytes and
  headers, with no work at all: what this server, framework and HTTP stack can
  do at best for a response of that size, the ceiling of the benchmark.
- ``/__constant_sync`` is the same from a plain ``def`` endpoint, which
  Starlette runs in its thread pool: the difference to the ceiling is what that
  hand-off alone costs (the feed's endpoints are ``async`` and avoid it).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from threatfeed.app import create_app as create_product_app
from threatfeed.config import Settings
from threatfeed.feed.params import FeedParams
from threatfeed.feed.reader import FeedReader
from threatfeed.store import Database


def create_app() -> Starlette:
    settings = Settings.from_env()
    database = Database(settings.database_url)
    app = create_product_app(settings, database)
    page = FeedReader(database).page(FeedParams())
    body = page.body()
    headers = {
        "ETag": page.etag(),
        "Cache-Control": "no-cache",
        "Vary": "x-access-token, Authorization",
    }

    async def constant(request: Request) -> Response:
        return Response(body, 200, headers, media_type="application/json")

    def constant_sync(request: Request) -> Response:
        return Response(body, 200, headers, media_type="application/json")

    app.router.routes.extend(
        [
            Route("/__constant", constant, methods=["GET"]),
            Route("/__constant_sync", constant_sync, methods=["GET"]),
        ]
    )
    return app
