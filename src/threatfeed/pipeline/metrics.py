"""Prometheus metrics of the pipeline.

Counters of work done (releases seen, analysed, flagged, failed; bytes
downloaded; analysis time) are counted where the work happens, so with worker
processes on other machines each process exposes its own, as Prometheus
expects. The queue depth and per-state job counts are read from the database at
scrape time: they are facts about the shared queue, not about one process.

``/metrics`` answers only staff: an API key (or bearer token) of a ``researcher``
or ``admin`` account, sent like any other credential (``x-access-token`` or
``Authorization: Bearer``, which Prometheus' ``authorization`` scrape setting
sends). Subscribers read the feed, not the service's insides; without a
credential the answer is 401, as on the feed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import anyio.to_thread
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from threatfeed.accounts.errors import AuthenticationError
from threatfeed.accounts.http import token_from_headers
from threatfeed.accounts.principal import Role
from threatfeed.accounts.service import AccountService
from threatfeed.httpjson import error_response, unauthorized
from threatfeed.pipeline.queue import JobState, Queue

STAFF = frozenset({Role.RESEARCHER, Role.ADMIN})

REGISTRY = CollectorRegistry(auto_describe=True)

RELEASES_SEEN = Counter(
    "threatfeed_releases_seen",
    "Change events read from the registries' change streams",
    ["ecosystem"],
    registry=REGISTRY,
)
ANALYSED = Counter(
    "threatfeed_archives_analysed",
    "Archives analysed (or matched to an earlier analysis of the same bytes)",
    ["ecosystem"],
    registry=REGISTRY,
)
FLAGGED = Counter(
    "threatfeed_archives_flagged",
    "Analysed archives the engine flagged for triage",
    ["ecosystem"],
    registry=REGISTRY,
)
FAILED = Counter(
    "threatfeed_archives_failed",
    "Archives that could not be analysed as published, by reason",
    ["ecosystem", "reason"],
    registry=REGISTRY,
)
JOB_ERRORS = Counter(
    "threatfeed_job_errors",
    "Job attempts that ended in an error (retried later unless out of attempts)",
    ["kind"],
    registry=REGISTRY,
)
DOWNLOAD_BYTES = Counter(
    "threatfeed_download_bytes",
    "Verified archive bytes downloaded",
    ["ecosystem"],
    registry=REGISTRY,
)
ANALYSIS_SECONDS = Histogram(
    "threatfeed_analysis_seconds",
    "Time the engine took on one archive",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)


class QueueCollector(Collector):
    """Job counts per state and the queue depth, read at scrape time."""

    def __init__(self, queue: Queue) -> None:
        self._queue = queue

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self._queue.stats()
        jobs = GaugeMetricFamily("threatfeed_jobs", "Jobs per state", labels=["state"])
        for state in JobState:
            jobs.add_metric([state.value], stats.by_state.get(state.value, 0))
        yield jobs
        yield GaugeMetricFamily(
            "threatfeed_queue_depth", "Jobs queued and due now", value=stats.ready
        )


def render(queue: Queue) -> bytes:
    """The exposition text: this process's counters, then the shared queue's gauges."""
    shared = CollectorRegistry(auto_describe=True)
    shared.register(QueueCollector(queue))
    return generate_latest(REGISTRY) + generate_latest(shared)


def endpoint(queue: Queue, accounts: AccountService) -> Callable[[Request], Awaitable[Response]]:
    """The ``/metrics`` route: the exposition text, for researcher and admin accounts only."""

    async def prometheus(request: Request) -> Response:
        token = token_from_headers(request.headers)
        if token is None:
            return unauthorized("send the API key of a researcher or admin account")
        try:
            principal = accounts.authenticate_cached(token)
            if principal is None:
                principal = await anyio.to_thread.run_sync(accounts.authenticate, token)
        except AuthenticationError as exc:
            return unauthorized(exc.reason)
        if principal.role not in STAFF:
            return error_response(403, "forbidden", "metrics are for researcher and admin accounts")
        body = await anyio.to_thread.run_sync(render, queue)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return prometheus
