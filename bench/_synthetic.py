"""A synthetic feed that looks like the real one, generated deterministically.

Deterministic so that a cached database and a rebuilt one hold the same items,
and realistic where it changes the cost of serving: names and archive file
names of real lengths, npm items with one tarball and PyPI items with an sdist
and wheels, indicators shaped like the contract's example, added times spread
over two years with bursts of ties (the tie-break by id must do real work).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from threatfeed.feed.items import FeedItem

END = datetime(2026, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
VERSIONS_PER_NAME = 3
WITHDRAWN_SHARE = 0.001

_WORD_LIST = (
    "react ui lib core utils helper data json http client server api auth token crypto "
    "color log logger config env parse format string array object async stream file path "
    "request fetch axios express vue next node web socket cli tool build bundle plugin "
    "loader babel eslint jest mock test type types schema valid form input style theme icon "
    "chart table grid date time moment uuid hash cache store state redux hook hooks router "
    "link image media audio video pdf csv xml yaml markdown text email mail sms push notify "
    "queue job task worker cron event emitter bus pool proxy tunnel dns net ip geo map "
    "cloud aws azure gcp s3 db sql mongo redis kafka graph query orm model "
)
_WORDS = tuple(_WORD_LIST.split())
_SCOPES = ("@types", "@babel", "@vue", "@aws-sdk", "@azure", "@company", "@internal", "@dev")
_URLS = ("an OAST server", "a paste site", "a Discord webhook", "a raw IP address")


def _name(ecosystem: str, name_id: int) -> str:
    words = len(_WORDS)
    first, second = _WORDS[name_id % words], _WORDS[(name_id // words) % words]
    serial = name_id // (words * words)
    if ecosystem == "pypi":
        return f"{first}_{second}{serial}" if serial else f"{first}_{second}"
    base = f"{first}-{second}-{serial}" if serial else f"{first}-{second}"
    return f"{_SCOPES[name_id % len(_SCOPES)]}/{base}" if name_id % 5 == 0 else base


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _hashes(ecosystem: str, name: str, version: str) -> tuple[tuple[str, str], ...]:
    stem = name.rsplit("/", 1)[-1]
    if ecosystem == "npm":
        return ((f"{stem}-{version}.tgz", _digest(name, version, "tgz")),)
    files = [f"{stem}-{version}.tar.gz", f"{stem}-{version}-py3-none-any.whl"]
    if len(name) % 3 == 0:
        files.append(f"{stem}-{version}-cp311-cp311-manylinux_2_17_x86_64.whl")
    return tuple((file, _digest(name, version, file)) for file in files)


def _indicators(ecosystem: str, rng: random.Random) -> dict[str, Any]:
    url = {"file": "package/index.js", "urls": [rng.choice(_URLS)]}
    if ecosystem == "npm":
        indicators: dict[str, Any] = {"npm_hooks_rule": ["node index.js"]}
        if rng.random() < 0.6:
            indicators["suspicious_url_references_rule"] = [url]
        if rng.random() < 0.5:
            indicators["trivial_package_rule"] = True
        return indicators
    indicators = {"setup_py_execution_rule": ["setup.py: subprocess.Popen"]}
    if rng.random() < 0.5:
        indicators["obfuscated_code_rule"] = [{"file": "setup.py", "kind": "base64 + exec"}]
    if rng.random() < 0.4:
        indicators["suspicious_url_references_rule"] = [{**url, "file": "setup.py"}]
    return indicators


def items(count: int, seed: int = 2) -> Iterator[FeedItem]:
    """``count`` distinct items, oldest added first (so ids grow with time, as in production)."""
    rng = random.Random(seed)
    step = SPAN / count
    at = END - SPAN
    for index in range(count):
        if index and rng.random() >= 0.2:  # one in five shares the previous item's time
            at += step * rng.uniform(0.75, 1.75)
        name_id = index // VERSIONS_PER_NAME
        ecosystem = "pypi" if name_id % 5 < 2 else "npm"
        name = _name(ecosystem, name_id)
        version = f"{name_id % 7}.{index % VERSIONS_PER_NAME}.{name_id % 13}"
        added = at.replace(microsecond=0)
        withdrawn = rng.random() < WITHDRAWN_SHARE
        yield FeedItem(
            ecosystem=ecosystem,
            name=name,
            version=version,
            created=added - timedelta(minutes=rng.randint(3, 600)),
            hashes=_hashes(ecosystem, name, version),
            indicators=_indicators(ecosystem, rng),
            added=added,
            withdrawn=added + timedelta(days=2) if withdrawn else None,
            withdrawn_reason="false positive: legitimate install script" if withdrawn else None,
        )
