"""A polite HTTP client: one per registry, shared by its watcher and its downloads.

Politeness and safety are the same code here. Every request has connect and read
timeouts and a total deadline (a server that trickles one byte per read timeout
cannot hold a worker forever); transient failures (timeouts, connection errors,
5xx, 408, 429, bodies shorter than their ``Content-Length``) are retried with
exponential backoff and full jitter; a ``Retry-After`` on 429/503 (seconds or an
HTTP date, capped) pauses *every* request of this client to that registry, not
just the one that was told; a semaphore bounds the requests in flight; bodies are
streamed with a size cap counted on the decoded bytes, so a compression bomb stops
at the cap too, and hashed once complete. Redirects are followed (at most
five, http and https only): PyPI redirects a JSON URL to the project's canonical
name, and the digest check, not the URL, is what vouches for the bytes.

Synchronous on purpose: the pipeline runs watchers and downloads in worker threads
and processes, and the semaphore and pause are shared by the threads of a process.
The clock is injectable so tests can check the waits without spending them.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.cookiejar
import json
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from functools import cache
from types import TracebackType
from typing import Any, Protocol

import httpx

from threatfeed import __version__
from threatfeed.registries.errors import (
    ArchiveTooLarge,
    ProtocolViolation,
    RegistryError,
    RegistryNotFound,
    RegistryUnavailable,
)
from threatfeed.utf8 import encodable

USER_AGENT = f"threatfeed/{__version__} (malicious package monitor)"
MAX_METADATA_BYTES = 256 * 1024 * 1024
"""npm's largest packuments are tens of megabytes; anything past this is hostile."""
#: A JSON escape of a surrogate (half of a pair, or alone: ``threatfeed.utf8``).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")

_RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock seconds since the epoch (``Retry-After`` dates are wall-clock)."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    backoff_base: float = 0.5
    """The first retry waits up to this long; each further one up to twice as long."""
    backoff_cap: float = 60.0
    retry_after_cap: float = 600.0
    """A registry asking for a longer pause gets this one; the job is retried later anyway."""


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 30.0
    """Between two reads of the socket."""
    total: float = 900.0
    """A whole response, however steadily it trickles in."""


@dataclass(frozen=True)
class Body:
    content: bytes
    digests: Mapping[str, str]
    """Hex digest of ``content`` for each algorithm asked for."""


class _Transient(Exception):
    """A failure worth another attempt; ``retry_after`` is the server's wish, if it said one."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PoliteClient:
    """HTTP to one registry, with its own concurrency limit and its own pause."""

    def __init__(
        self,
        name: str,
        *,
        concurrency: int,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        clock: Clock | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.name = name
        self._retry = retry or RetryPolicy()
        self._timeouts = timeouts or Timeouts()
        self._clock = clock or SystemClock()
        self._jitter = jitter
        self._slots = threading.BoundedSemaphore(concurrency)
        self._pause_lock = threading.Lock()
        self._resume_at = 0.0
        self._http = httpx.Client(
            timeout=httpx.Timeout(self._timeouts.read, connect=self._timeouts.connect),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            headers={"User-Agent": USER_AGENT},
            verify=_tls_context(),
            cookies=_NoCookies(),
            follow_redirects=True,
            max_redirects=5,
        )

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get_json(self, url: str) -> Any:
        body = self.fetch("GET", url, headers={"Accept": "application/json"})
        try:
            data = json.loads(body.content)
        except (ValueError, RecursionError) as exc:  # nesting deep enough to blow the stack
            raise ProtocolViolation(f"{url} did not return JSON: {exc!r:.200}") from None
        # a lone surrogate comes only from an escape: the costly walk only where one is
        return encodable(data) if _SURROGATE_ESCAPE.search(body.content) else data

    def fetch(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = MAX_METADATA_BYTES,
        algorithms: Sequence[str] = (),
    ) -> Body:
        """The complete body of a 200 answer, retried on transient failures.

        Raises :class:`RegistryNotFound` on 404/410, :class:`ArchiveTooLarge` past
        ``max_bytes`` (never retried: the size will not shrink), and
        :class:`RegistryUnavailable` once every attempt failed.
        """
        last = "no attempt made"
        for attempt in range(1, self._retry.attempts + 1):
            self._wait_for_pause()
            try:
                with self._slots:
                    return self._attempt(method, url, content, headers, max_bytes, algorithms)
            except _Transient as failure:
                last = failure.reason
                if failure.retry_after is not None:
                    # Never sooner than our backoff; kept when giving up, so the next call waits.
                    self._pause(max(failure.retry_after, self._backoff(attempt)))
                elif attempt < self._retry.attempts:
                    self._clock.sleep(self._backoff(attempt))
        raise RegistryUnavailable(
            f"{self.name}: {method} {url} failed {self._retry.attempts} times; last: {last}"
        )

    def _attempt(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        max_bytes: int,
        algorithms: Sequence[str],
    ) -> Body:
        deadline = time.monotonic() + self._timeouts.total
        try:
            with self._http.stream(method, url, content=content, headers=headers) as response:
                self._check_status(response, method, url)
                declared = _content_length(response)
                # Compressed bytes are fewer than decoded ones, so this holds either way.
                if declared is not None and declared > max_bytes:
                    raise ArchiveTooLarge(url, declared, max_bytes)
                chunks: list[bytes] = []
                received = 0
                for chunk in response.iter_bytes():
                    received += len(chunk)
                    if received > max_bytes:
                        raise ArchiveTooLarge(url, received, max_bytes)
                    if time.monotonic() > deadline:
                        raise _Transient(f"no complete answer in {self._timeouts.total} s")
                    chunks.append(chunk)
                if declared is not None and response.num_bytes_downloaded != declared:
                    raise _Transient(
                        f"truncated body: {response.num_bytes_downloaded} of {declared} bytes"
                    )
        except httpx.TimeoutException as exc:
            raise _Transient(f"timed out ({type(exc).__name__})") from None
        except (httpx.UnsupportedProtocol, httpx.TooManyRedirects) as exc:
            raise RegistryError(f"{url}: {exc}") from None
        except httpx.RequestError as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from None
        except httpx.InvalidURL as exc:
            raise RegistryError(f"{url}: {exc}") from None
        content = b"".join(chunks)
        # Each algorithm once (PyPI's digest is the SHA256 we keep), in one pass over the
        # whole body: hashlib lets go of the GIL only for buffers over 2 KiB.
        digests = {
            name: hashlib.new(name, content).hexdigest() for name in dict.fromkeys(algorithms)
        }
        return Body(content, digests)

    def _check_status(self, response: httpx.Response, method: str, url: str) -> None:
        status = response.status_code
        if status == 200:
            return
        if status in _RETRIED_STATUSES:
            wait = self._retry_after(response) if status in (429, 503) else None
            raise _Transient(f"HTTP {status}", retry_after=wait)
        if status in (404, 410):
            raise RegistryNotFound(f"{method} {url}: HTTP {status}")
        raise RegistryError(f"{method} {url}: unexpected HTTP {status}")

    def _retry_after(self, response: httpx.Response) -> float | None:
        raw = response.headers.get("Retry-After", "").strip()
        if not raw:
            return None
        if raw.isdigit():
            seconds = float(raw)
        else:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = when.timestamp() - self._clock.time()
        return min(max(seconds, 0.0), self._retry.retry_after_cap)

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, base * 2^(attempt-1)], capped."""
        ceiling = min(self._retry.backoff_cap, self._retry.backoff_base * 2.0 ** (attempt - 1))
        return self._jitter() * ceiling

    def _pause(self, seconds: float) -> None:
        with self._pause_lock:
            self._resume_at = max(self._resume_at, self._clock.time() + seconds)

    def _wait_for_pause(self) -> None:
        with self._pause_lock:
            wait = self._resume_at - self._clock.time()
        if wait > 0:
            self._clock.sleep(wait)


class _NoCookies(http.cookiejar.CookieJar):
    """A registry needs no cookies, and a hostile one must not leave state for the next
    request: nothing is stored, so none is sent, and reading ``Set-Cookie`` headers (the
    standard library's cookie parsing, on every response) is skipped."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


@cache
def _tls_context() -> ssl.SSLContext:
    """Loading the CA bundle is the slow part of making a client; every client shares one."""
    return httpx.create_ssl_context()


def _content_length(response: httpx.Response) -> int | None:
    raw = response.headers.get("Content-Length")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ProtocolViolation(f"{response.url}: bad Content-Length {raw!r}") from None
    if value < 0:
        raise ProtocolViolation(f"{response.url}: bad Content-Length {raw!r}")
    return value
