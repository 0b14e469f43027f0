"""The application's lifespan, run by uvicorn as ``threatfeed serve`` runs it."""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx

from tests.conftest import LiveServer


def test_the_heap_alive_at_start_is_frozen_while_serving_and_released_after(
    live_server: Callable[..., AbstractContextManager[LiveServer]],
) -> None:
    assert gc.get_freeze_count() == 0
    with live_server(lifespan="on") as server:
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
