"""The polite client against a real loopback server: retries, pauses, timeouts, caps."""

from __future__ import annotations

import email.utils
import gzip
import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.fakeregistry import FakeRegistry
from tests.registries.conftest import TIMEOUTS, FakeClock, make_client
from threatfeed.registries import (
    ArchiveTooLarge,
    PoliteClient,
    ProtocolViolation,
    RegistryError,
    RegistryNotFound,
    RegistryUnavailable,
    RetryPolicy,
    Timeouts,
)


class StoppedClock(FakeClock):
    """Sleeping does not move time, so a pause set by one request is still due for the next."""

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def requests_to(fake: FakeRegistry, prefix: str) -> int:
    return sum(1 for _, path in fake.requests if path.startswith(prefix))


@pytest.fixture
def client(clock: FakeClock) -> PoliteClient:
    return make_client("test", clock)


def test_a_500_then_success_is_retried_after_exponential_backoff(
    fake_registry: FakeRegistry, client: PoliteClient, clock: FakeClock
) -> None:
    fake_registry.fail("/npm-replicate/", 500, times=2)
    info = client.get_json(fake_registry.npm_changes_url)
    assert info["db_name"] == "registry"
    assert clock.sleeps == [0.5, 1.0]
    assert requests_to(fake_registry, "/npm-replicate/") == 3


def test_backoff_has_full_jitter_and_a_cap(fake_registry: FakeRegistry, clock: FakeClock) -> None:
    draws = iter([0.25, 0.5, 1.0, 1.0, 1.0])
    client = PoliteClient(
        "test",
        concurrency=1,
        retry=RetryPolicy(attempts=6, backoff_base=0.5, backoff_cap=4.0),
        clock=clock,
        jitter=lambda: next(draws),
    )
    fake_registry.fail("/npm-replicate/", 503, times=None)
    with pytest.raises(RegistryUnavailable, match="failed 6 times; last: HTTP 503"):
        client.get_json(fake_registry.npm_changes_url)
    assert clock.sleeps == [0.25 * 0.5, 0.5 * 1.0, 2.0, 4.0, 4.0]


def test_429_retry_after_in_seconds_is_honoured(
    fake_registry: FakeRegistry, client: PoliteClient, clock: FakeClock
) -> None:
    fake_registry.rate_limit("/npm-replicate/", "7")
    client.get_json(fake_registry.npm_changes_url)
    assert clock.sleeps == [7.0]


def test_429_retry_after_as_an_http_date_is_honoured(
    fake_registry: FakeRegistry, client: PoliteClient, clock: FakeClock
) -> None:
    fake_registry.rate_limit("/npm-replicate/", email.utils.formatdate(clock.now + 12, usegmt=True))
    client.get_json(fake_registry.npm_changes_url)
    [wait] = clock.sleeps
    assert 11.0 <= wait <= 12.0  # the date has whole seconds


def test_a_503_retry_after_beyond_the_cap_is_capped(
    fake_registry: FakeRegistry, client: PoliteClient, clock: FakeClock
) -> None:
    fake_registry.fail("/npm-replicate/", 503, Retry_After="86400")
    client.get_json(fake_registry.npm_changes_url)
    assert clock.sleeps == [30.0]


def test_a_retry_after_of_zero_still_waits_our_backoff(
    fake_registry: FakeRegistry, client: PoliteClient, clock: FakeClock
) -> None:
    fake_registry.rate_limit("/npm-replicate/", "0", times=2)
    client.get_json(fake_registry.npm_changes_url)
    assert clock.sleeps == [0.5, 1.0]


def test_a_retry_after_on_the_last_attempt_still_delays_the_next_call(
    fake_registry: FakeRegistry, client: PoliteClient, clock: FakeClock
) -> None:
    fake_registry.rate_limit("/npm-replicate/", "9", times=3)
    with pytest.raises(RegistryUnavailable, match="last: HTTP 429"):
        client.get_json(fake_registry.npm_changes_url)
    client.get_json(fake_registry.npm_changes_url)
    assert clock.sleeps == [9.0, 9.0, 9.0]


def test_a_retry_after_pauses_every_request_to_that_registry(fake_registry: FakeRegistry) -> None:
    clock = StoppedClock()
    client = make_client("test", clock)
    fake_registry.rate_limit("/npm-replicate/", "5")
    client.get_json(fake_registry.npm_changes_url)
    client.get_json(f"{fake_registry.npm_changes_url}_changes")  # was not told, waits anyway
    assert clock.sleeps == [5.0, 5.0]
    assert requests_to(fake_registry, "/npm-replicate/") == 3


def test_a_timeout_is_retried_then_succeeds(
    fake_registry: FakeRegistry, client: PoliteClient
) -> None:
    fake_registry.stall("/npm-replicate/", seconds=1.5)
    assert client.get_json(fake_registry.npm_changes_url)["db_name"] == "registry"
    assert requests_to(fake_registry, "/npm-replicate/") == 2


def test_timeouts_on_every_attempt_fail_cleanly(
    fake_registry: FakeRegistry, client: PoliteClient
) -> None:
    fake_registry.stall("/npm-replicate/", seconds=1.5, times=None)
    with pytest.raises(RegistryUnavailable, match="failed 3 times; last: timed out"):
        client.get_json(fake_registry.npm_changes_url)
    assert requests_to(fake_registry, "/npm-replicate/") == 3


def test_a_truncated_body_is_detected_and_fetched_again(
    fake_registry: FakeRegistry, client: PoliteClient
) -> None:
    published = fake_registry.publish_npm("left-pad", "1.0.0")
    fake_registry.truncate("/npm/left-pad/-/")
    body = client.fetch("GET", published.url, algorithms=("sha256",))
    assert body.content == published.content
    assert body.digests["sha256"] == published.sha256
    assert requests_to(fake_registry, "/npm/left-pad/-/") == 2


def test_a_body_truncated_every_time_is_an_error_not_data(
    fake_registry: FakeRegistry, client: PoliteClient
) -> None:
    published = fake_registry.publish_npm("left-pad", "1.0.0")
    fake_registry.truncate("/npm/left-pad/-/", times=None)
    with pytest.raises(RegistryUnavailable, match=r"RemoteProtocolError|truncated"):
        client.fetch("GET", published.url)


def test_a_body_that_trickles_in_past_the_total_deadline_is_given_up(
    fake_registry: FakeRegistry, clock: FakeClock
) -> None:
    client = PoliteClient(
        "test",
        concurrency=1,
        retry=RetryPolicy(attempts=2),
        timeouts=Timeouts(read=1.0, total=0.3),
        clock=clock,
    )
    published = fake_registry.publish_npm("slow", "1.0.0")
    fake_registry.trickle("/npm/slow/-/", seconds=0.1, times=None)
    with pytest.raises(RegistryUnavailable, match=r"no complete answer in 0\.3 s"):
        client.fetch("GET", published.url)
    assert requests_to(fake_registry, "/npm/slow/-/") == 2


def test_json_that_is_not_json_or_nests_without_end_is_refused(
    fake_registry: FakeRegistry, client: PoliteClient
) -> None:
    fake_registry.respond("/npm-replicate/", b"<html>", "text/html")
    with pytest.raises(ProtocolViolation):
        client.get_json(fake_registry.npm_changes_url)
    fake_registry.respond("/npm-replicate/", b"[" * 200_000, "application/json")
    with pytest.raises(ProtocolViolation):
        client.get_json(fake_registry.npm_changes_url)


def test_json_escapes_of_lone_surrogates_come_back_as_text_every_writer_takes(
    fake_registry: FakeRegistry, client: PoliteClient
) -> None:
    body = b'{"id": "evil\\ud800", "pair": "\\ud83d\\ude00", "list": ["\\uDFFF"]}'
    fake_registry.respond("/npm-replicate/", body, "application/json")
    data = client.get_json(fake_registry.npm_changes_url)
    assert data == {"id": "evil\\ud800", "pair": "\U0001f600", "list": ["\\udfff"]}
    json.dumps(data, ensure_ascii=False).encode("utf-8")


def test_a_body_over_the_cap_is_refused_at_once(
    fake_registry: FakeRegistry, client: PoliteClient
) -> None:
    noise = random.Random(1).randbytes(20_000)  # incompressible
    published = fake_registry.publish_npm("big", "1.0.0", {"blob.bin": noise})
    with pytest.raises(ArchiveTooLarge) as caught:
        client.fetch("GET", published.url, max_bytes=1000)
    assert caught.value.size == len(published.content)
    assert caught.value.limit == 1000
    assert requests_to(fake_registry, "/npm/big/-/") == 1


def test_a_compression_bomb_stops_at_the_cap_on_decoded_bytes(
    fake_registry: FakeRegistry, client: PoliteClient
) -> None:
    bomb = gzip.compress(bytes(10_000_000))
    fake_registry.respond("/bomb", bomb, "application/json", Content_Encoding="gzip")
    with pytest.raises(ArchiveTooLarge) as caught:
        client.fetch("GET", f"{fake_registry.url}/bomb", max_bytes=100_000)
    assert len(bomb) < 100_000 < caught.value.size


def test_404_is_not_found_and_not_retried(
    fake_registry: FakeRegistry, client: PoliteClient
) -> None:
    with pytest.raises(RegistryNotFound):
        client.get_json(f"{fake_registry.npm_registry_url}no-such-package")
    assert requests_to(fake_registry, "/npm/no-such-package") == 1


def test_a_client_error_is_not_retried(fake_registry: FakeRegistry, client: PoliteClient) -> None:
    fake_registry.fail("/npm-replicate/", 403)
    with pytest.raises(RegistryError, match="unexpected HTTP 403") as caught:
        client.get_json(fake_registry.npm_changes_url)
    assert not isinstance(caught.value, RegistryUnavailable)
    assert requests_to(fake_registry, "/npm-replicate/") == 1


def test_requests_in_flight_never_exceed_the_concurrency_limit(
    fake_registry: FakeRegistry, clock: FakeClock
) -> None:
    client = PoliteClient(
        "test", concurrency=2, timeouts=Timeouts(read=5.0), clock=clock, jitter=lambda: 1.0
    )
    fake_registry.stall("/npm-replicate/", seconds=0.15, times=None)
    threads = [
        threading.Thread(target=client.get_json, args=(fake_registry.npm_changes_url,))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert requests_to(fake_registry, "/npm-replicate/") == 6
    assert fake_registry.max_in_flight == 2
    assert TIMEOUTS.read < 1.0  # the stalls above would time the shared test client out


def test_cookies_a_server_sets_are_never_sent_back(client: PoliteClient) -> None:
    """A registry needs no session, and a hostile one must not carry state from one request
    to the next (or to another registry's requests through a shared jar)."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.append(self.headers.get("Cookie"))
            self.send_response(200)
            self.send_header("Set-Cookie", "session=abc; Path=/")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/x"
        assert client.get_json(url) == {}
        assert client.get_json(url) == {}
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [None, None]
