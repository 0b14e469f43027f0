"""A fake npm + PyPI on 127.0.0.1, speaking the real protocols with the real field names.

One ``ThreadingHTTPServer`` in a daemon thread serves:

* npm replication (``/npm-replicate/``): the database info with ``update_seq`` and
  ``/_changes?since=&limit=`` with CouchDB semantics (a document is listed once,
  at its latest sequence; ``"deleted": true`` for deleted ones);
* the npm registry (``/npm/``): packuments (``/@scope%2Fname`` for scoped names) and
  tarballs;
* PyPI (``/pypi-org``): XML-RPC at ``/pypi`` (``changelog_since_serial``,
  ``changelog_last_serial``), JSON at ``/pypi/<name>/<version>/json``, and files
  under ``/files/``.

Tests publish, unpublish, yank and remove through the Python API, which builds
real archives (see :mod:`tests.fakeregistry.archives`), and inject faults with
the methods at the end of :class:`FakeRegistry`.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import random
import sys
import threading
import time
import xmlrpc.client
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote

from tests.fakeregistry import archives
from tests.fakeregistry.faults import Fault, FaultPlan

NPM_CHANGES = "/npm-replicate"
NPM_REGISTRY = "/npm"
PYPI = "/pypi-org"
FILES = "/files"
T = TypeVar("T")


@dataclass(frozen=True)
class Published:
    """A file the fake serves, with the digests its metadata announces."""

    name: str
    version: str
    filename: str
    url: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def sha512(self) -> str:
        return hashlib.sha512(self.content).hexdigest()


def _iso(moment: float) -> str:
    return (
        datetime.fromtimestamp(moment, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@dataclass
class _PypiRelease:
    files: list[dict[str, Any]] = field(default_factory=list)
    yanked: bool = False


class FakeRegistry:
    """The registries' state, the HTTP server that serves it, and the faults it injects."""

    def __init__(self) -> None:
        self.faults = FaultPlan()
        self.requests: list[tuple[str, str]] = []
        """Every request as ``(method, path with query)``, in arrival order."""
        self.max_in_flight = 0
        """The most requests ever answered at once (to check a client's concurrency limit)."""
        self._in_flight = 0
        self._lock = threading.RLock()
        self._files: dict[str, bytes] = {}
        self._npm_docs: dict[str, dict[str, Any]] = {}
        self._npm_changes: list[tuple[int, str, bool]] = []
        """Append-only; a row is live while it is its document's latest (CouchDB semantics)."""
        self._npm_seqs: list[int] = []
        self._npm_latest: dict[str, int] = {}
        self._npm_seq = 0
        self._npm_shuffles = 0
        self._pypi: dict[str, dict[str, _PypiRelease]] = {}
        self._journal: list[tuple[str, str | None, int, str, int]] = []
        self._serials: list[int] = []
        self._pypi_shuffles = 0
        self.changelog_limit = 50_000
        """PyPI answers at most this many changelog entries per call."""
        self._serial = 0
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._server.registry = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    # -- where it is -----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def npm_changes_url(self) -> str:
        return f"{self.url}{NPM_CHANGES}/"

    @property
    def npm_registry_url(self) -> str:
        return f"{self.url}{NPM_REGISTRY}/"

    @property
    def pypi_url(self) -> str:
        return f"{self.url}{PYPI}"

    def env(self) -> dict[str, str]:
        """The ``THREATFEED_*`` variables that point a threatfeed process here."""
        return {
            "THREATFEED_NPM_CHANGES_URL": self.npm_changes_url,
            "THREATFEED_NPM_REGISTRY_URL": self.npm_registry_url,
            "THREATFEED_PYPI_URL": self.pypi_url,
        }

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeRegistry:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- npm ---------------------------------------------------------------------------

    def publish_npm(
        self,
        name: str,
        version: str,
        files: archives.Files | None = None,
        *,
        tarball: bytes | None = None,
        published_at: float | None = None,
    ) -> Published:
        """Publish a version (building its tarball unless one is given) and list the change."""
        content = archives.npm_tarball(name, version, files) if tarball is None else tarball
        basename = name.rsplit("/", 1)[-1]
        path = f"{NPM_REGISTRY}/{name}/-/{basename}-{version}.tgz"
        published = Published(name, version, f"{basename}-{version}.tgz", self.url + path, content)
        moment = time.time() if published_at is None else published_at
        integrity = base64.b64encode(hashlib.sha512(content).digest()).decode()
        with self._lock:
            self._files[path] = content
            doc = self._npm_docs.setdefault(
                name,
                {"_id": name, "name": name, "dist-tags": {}, "versions": {}, "time": {}},
            )
            doc["time"].pop("unpublished", None)
            doc["time"].setdefault("created", _iso(moment))
            doc["time"].update({version: _iso(moment), "modified": _iso(moment)})
            doc["dist-tags"]["latest"] = version
            doc["versions"][version] = {
                "name": name,
                "version": version,
                "dist": {
                    "tarball": published.url,
                    "integrity": f"sha512-{integrity}",
                    "shasum": hashlib.sha1(content).hexdigest(),
                },
            }
            self._npm_changed(name)
        return published

    def unpublish_npm(self, name: str, version: str | None = None) -> None:
        """Unpublish one version (kept in ``time``) or all of them (``time.unpublished``)."""
        with self._lock:
            doc = self._npm_docs[name]
            now = _iso(time.time())
            if version is not None:
                del doc["versions"][version]
                doc["time"]["modified"] = now
            else:
                gone = list(doc["versions"])
                doc["versions"] = {}
                doc["dist-tags"] = {}
                doc["time"] = {
                    "created": doc["time"]["created"],
                    "modified": now,
                    "unpublished": {"time": now, "versions": gone},
                }
            self._npm_changed(name)

    def placeholder_npm(self, name: str) -> Published:
        """What npm does to malware: every version gone, ``0.0.1-security`` in their place."""
        with self._lock:
            self._npm_docs[name]["versions"] = {}
        return self.publish_npm(name, "0.0.1-security", {"README.md": "security holding package"})

    def delete_npm(self, name: str) -> None:
        """The document is deleted: 404 for the packument, ``"deleted": true`` in the feed."""
        with self._lock:
            del self._npm_docs[name]
            self._npm_changed(name, deleted=True)

    def jump_npm(self, count: int) -> None:
        """Skip ``count`` sequence numbers, as a feed that lost changes would."""
        with self._lock:
            self._npm_seq += count

    def _npm_changed(self, name: str, *, deleted: bool = False) -> None:
        self._npm_seq += 1
        self._npm_changes.append((self._npm_seq, name, deleted))
        self._npm_seqs.append(self._npm_seq)
        self._npm_latest[name] = self._npm_seq

    # -- PyPI --------------------------------------------------------------------------

    def publish_pypi(
        self,
        name: str,
        version: str,
        files: archives.Files | None = None,
        *,
        sdist: bool = True,
        wheel: bool = True,
    ) -> list[Published]:
        """A ``new release`` entry, then one ``add ... file`` entry per file uploaded."""
        with self._lock:
            self._pypi.setdefault(name, {})
            if not self._pypi[name]:
                self._journal_entry(name, None, "create")
            self._pypi[name][version] = _PypiRelease()
            self._journal_entry(name, version, "new release")
            uploaded = []
            if sdist:
                uploaded.append(self.add_pypi_file(name, version, "sdist", files))
            if wheel:
                uploaded.append(self.add_pypi_file(name, version, "bdist_wheel", files))
        return uploaded

    def add_pypi_file(
        self,
        name: str,
        version: str,
        packagetype: str,
        files: archives.Files | None = None,
        *,
        content: bytes | None = None,
        filename: str | None = None,
    ) -> Published:
        """Upload one file to an existing release (wheels often come after the sdist)."""
        if packagetype == "sdist":
            filename = filename or archives.sdist_filename(name, version)
            content = archives.sdist(name, version, files) if content is None else content
            action = f"add source file {filename}"
        else:
            filename = filename or archives.wheel_filename(name, version)
            content = archives.wheel(name, version, files) if content is None else content
            action = f"add py3 file {filename}"
        sha256 = hashlib.sha256(content).hexdigest()
        path = f"{FILES}/{sha256[:2]}/{sha256[2:]}/{filename}"
        published = Published(name, version, filename, self.url + path, content)
        moment = _iso(time.time())
        with self._lock:
            self._files[path] = content
            self._pypi[name][version].files.append(
                {
                    "comment_text": "",
                    "digests": {
                        "blake2b_256": hashlib.blake2b(content, digest_size=32).hexdigest(),
                        "md5": hashlib.md5(content).hexdigest(),
                        "sha256": sha256,
                    },
                    "filename": filename,
                    "has_sig": False,
                    "md5_digest": hashlib.md5(content).hexdigest(),
                    "packagetype": packagetype,
                    "python_version": "source" if packagetype == "sdist" else "py3",
                    "requires_python": None,
                    "size": len(content),
                    "upload_time": moment[:19],
                    "upload_time_iso_8601": moment,
                    "url": published.url,
                    "yanked": False,
                    "yanked_reason": None,
                }
            )
            self._journal_entry(name, version, action)
        return published

    def yank_pypi(self, name: str, version: str) -> None:
        with self._lock:
            release = self._pypi[name][version]
            release.yanked = True
            for file in release.files:
                file["yanked"] = True
            self._journal_entry(name, version, "yank release")

    def remove_pypi_release(self, name: str, version: str) -> None:
        with self._lock:
            del self._pypi[name][version]
            self._journal_entry(name, version, "remove release")

    def remove_pypi_file(self, name: str, version: str, filename: str) -> None:
        with self._lock:
            release = self._pypi[name][version]
            release.files = [file for file in release.files if file["filename"] != filename]
            self._journal_entry(name, version, f"remove file {filename}")

    def remove_pypi_project(self, name: str) -> None:
        with self._lock:
            del self._pypi[name]
            self._journal_entry(name, None, "remove project")

    def pypi_noise(self, name: str) -> None:
        """A journal entry that touches no release (PyPI has many: roles, owners...)."""
        with self._lock:
            self._journal_entry(name, None, "add Owner alice")

    def jump_pypi(self, count: int) -> None:
        """Skip ``count`` serials, as a changelog with a hole would."""
        with self._lock:
            self._serial += count

    @property
    def last_serial(self) -> int:
        return self._serial

    def _journal_entry(self, name: str, version: str | None, action: str) -> None:
        self._serial += 1
        self._journal.append((name, version, int(time.time()), action, self._serial))
        self._serials.append(self._serial)

    # -- faults ------------------------------------------------------------------------

    def fail(
        self, prefix: str, status: int = 500, *, times: int | None = 1, **headers: str
    ) -> Fault:
        """Answer ``status`` (with ``headers``, e.g. ``Retry_After="2"``) instead of the truth."""
        clean = {key.replace("_", "-"): value for key, value in headers.items()}
        return self.faults.add(Fault(prefix, "status", times, status=status, headers=clean))

    def rate_limit(self, prefix: str, retry_after: str, *, times: int | None = 1) -> Fault:
        return self.fail(prefix, 429, times=times, Retry_After=retry_after)

    def stall(self, prefix: str, seconds: float, *, times: int | None = 1) -> Fault:
        """Wait ``seconds`` before answering (a client with a shorter timeout gives up)."""
        return self.faults.add(Fault(prefix, "stall", times, seconds=seconds))

    def trickle(self, prefix: str, seconds: float, *, times: int | None = 1) -> Fault:
        """Send the body in ten pieces, ``seconds`` apart (each read is quick, the whole is not)."""
        return self.faults.add(Fault(prefix, "trickle", times, seconds=seconds))

    def truncate(self, prefix: str, *, times: int | None = 1) -> Fault:
        """Announce the full ``Content-Length``, send half the body, close the connection."""
        return self.faults.add(Fault(prefix, "truncate", times))

    def respond(
        self, prefix: str, body: bytes, content_type: str, *, times: int | None = 1, **headers: str
    ) -> Fault:
        """Answer 200 with exactly ``body`` (a hostile XML-RPC answer, a bogus packument...)."""
        clean = {key.replace("_", "-"): value for key, value in headers.items()}
        fault = Fault(prefix, "raw", times, body=body, content_type=content_type, headers=clean)
        return self.faults.add(fault)

    def corrupt(self, url: str) -> None:
        """Serve other bytes at ``url`` from now on, while the metadata keeps the old digest."""
        path = url.removeprefix(self.url)
        with self._lock:
            self._files[path] = self._files[path][:-1] + bytes([self._files[path][-1] ^ 1])

    def shuffle_npm_changes(self, times: int = 1) -> None:
        """The next ``_changes`` answers list their rows out of order, some twice."""
        with self._lock:
            self._npm_shuffles += times

    def shuffle_pypi_changelog(self, times: int = 1) -> None:
        """The next changelog answers list their entries out of order, some twice."""
        with self._lock:
            self._pypi_shuffles += times

    # -- answers -----------------------------------------------------------------------

    def _entered(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _left(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _answer(self, method: str, path: str, query: str, body: bytes) -> tuple[int, str, bytes]:
        with self._lock:
            if method == "POST" and path == f"{PYPI}/pypi":
                return 200, "text/xml", self._xmlrpc(body)
            if method != "GET":
                return 405, "text/plain", b"method not allowed"
            if path in self._files:
                return 200, "application/octet-stream", self._files[path]
            if path in (f"{NPM_CHANGES}/", NPM_CHANGES, "/"):  # npm also answers at its root
                return self._json({"db_name": "registry", "update_seq": self._npm_seq})
            if path == f"{NPM_CHANGES}/_changes":
                return self._json(self._changes(parse_qs(query)))
            if path.startswith(f"{NPM_REGISTRY}/"):
                doc = self._npm_docs.get(unquote(path.removeprefix(f"{NPM_REGISTRY}/")))
                return self._json(doc) if doc is not None else self._not_found()
            if path.startswith(f"{PYPI}/pypi/") and path.endswith("/json"):
                parts = path.removeprefix(f"{PYPI}/pypi/").removesuffix("/json").split("/")
                if len(parts) == 2:
                    return self._pypi_json(unquote(parts[0]), unquote(parts[1]))
            return self._not_found()

    def _json(self, data: Any) -> tuple[int, str, bytes]:
        return 200, "application/json", json.dumps(data).encode()

    def _not_found(self) -> tuple[int, str, bytes]:
        return 404, "application/json", b'{"error": "not_found"}'

    def _changes(self, query: dict[str, list[str]]) -> dict[str, Any]:
        since = int(query.get("since", ["0"])[0])
        limit = int(query.get("limit", ["1000"])[0])
        page: list[tuple[int, str, bool]] = []
        for seq, name, deleted in self._npm_changes[bisect.bisect_right(self._npm_seqs, since) :]:
            if len(page) == limit:
                break
            if self._npm_latest[name] == seq:
                page.append((seq, name, deleted))
        rows: list[dict[str, Any]] = [
            {"seq": seq, "id": name, "changes": [{"rev": f"{seq}-fake"}]}
            | ({"deleted": True} if deleted else {})
            for seq, name, deleted in page
        ]
        last_seq = page[-1][0] if page else since
        if self._npm_shuffles and rows:
            self._npm_shuffles -= 1
            rows = _shuffled(rows)
        return {"results": rows, "last_seq": last_seq}

    def _pypi_json(self, name: str, version: str) -> tuple[int, str, bytes]:
        release = self._pypi.get(name, {}).get(version)
        if release is None:
            return self._not_found()
        info = {
            "name": name,
            "version": version,
            "summary": "test",
            "yanked": release.yanked,
            "yanked_reason": None,
        }
        urls = [dict(file) for file in release.files]
        return self._json(
            {"info": info, "last_serial": self._serial, "urls": urls, "vulnerabilities": []}
        )

    def _xmlrpc(self, body: bytes) -> bytes:
        params, method = xmlrpc.client.loads(body)
        if method == "changelog_last_serial":
            result: Any = self._serial
        elif method == "changelog_since_serial":
            since = int(str(params[0]))
            start = bisect.bisect_right(self._serials, since)
            end = start + self.changelog_limit
            result = [list(entry) for entry in self._journal[start:end]]
            if self._pypi_shuffles and result:
                self._pypi_shuffles -= 1
                result = _shuffled(result)
        else:
            fault = xmlrpc.client.Fault(-32601, f"method {method!r} not found")
            return xmlrpc.client.dumps(fault, methodresponse=True).encode()
        return xmlrpc.client.dumps((result,), methodresponse=True, allow_none=True).encode()


def _shuffled(rows: list[T]) -> list[T]:
    """Rows out of order, half of them twice, reproducibly."""
    rows = rows + rows[: max(1, len(rows) // 2)]
    random.Random(len(rows)).shuffle(rows)
    return rows


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that give up (timeouts, truncation tests) are expected, not news."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self, method: str) -> None:
        registry: FakeRegistry = self.server.registry  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        registry.requests.append((method, self.path))
        path, _, query = self.path.partition("?")
        fault = registry.faults.take(path)
        registry._entered()
        try:
            if fault is not None and fault.kind == "status":
                self._send(fault.status, "text/plain", b"injected failure", fault.headers)
                return
            if fault is not None and fault.kind == "raw":
                self._send(200, fault.content_type, fault.body, fault.headers)
                return
            if fault is not None and fault.kind == "stall":
                time.sleep(fault.seconds)
            status, content_type, content = registry._answer(method, path, query, body)
            if fault is not None and fault.kind == "truncate":
                self._send(status, content_type, content, cut=True)
                return
            if fault is not None and fault.kind == "trickle":
                self._send(status, content_type, content, pause=fault.seconds)
                return
            self._send(status, content_type, content)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            registry._left()

    def _send(
        self,
        status: int,
        content_type: str,
        content: bytes,
        headers: dict[str, str] | None = None,
        *,
        cut: bool = False,
        pause: float = 0.0,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if pause:
            step = max(1, len(content) // 10)
            for start in range(0, len(content), step):
                self.wfile.write(content[start : start + step])
                self.wfile.flush()
                time.sleep(pause)
            return
        self.wfile.write(content[: len(content) // 2] if cut else content)
        if cut:
            self.wfile.flush()
            self.close_connection = True
