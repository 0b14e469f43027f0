"""Benign flag rate on a wider, reproducible sample of popular packages.

The dev corpus's benign side (``benign-dev``) is about 400 packages, and the rules are tuned
while looking at it; this guard measures the engine on popular packages it has not seen.
From the download ranks the typosquatting data was built from (the tool library's
``packages/pypi.tsv`` and ``packages/npm.tsv``, ranked into
``threatfeed/analysis/data/popular-*.txt``), it picks N packages per ecosystem, one from
each of N equal bands of ranks, skipping those in ``benign-dev/lock.tsv``, once per seed
(three fixed seeds by default: three packages per band, fewer where two seeds agree).
It downloads each one's latest release (PyPI: the sdist, else a wheel; npm: the
``latest`` tarball), verifies the registry's digest, and keeps it in a git-ignored cache
with a lock file (name, version, url, sha256), so later runs reuse the same archives
offline. Archives are bytes to the engine: nothing downloaded is extracted to disk,
installed or executed.

    .venv/bin/python -m bench.benign_wide [--pypi 300] [--npm 300] [--seed 1 2 3]
        [--offline] [--jobs 1] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import hashlib
import json
import multiprocessing
import random
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bench._docs import write_block
from bench.quality import CORPUS, REPO, Outcome, Sample, _analyze, _indicator_names, _pct
from threatfeed.analysis import ENGINE_VERSION, FLAG_THRESHOLD
from threatfeed.analysis.popular import popular_names

CACHE = REPO / ".cache" / "benign-wide"
LOCK = CACHE / "lock.tsv"
LOCK_FIELDS = ("ecosystem", "name", "version", "url", "sha256", "file")
ECOSYSTEMS = ("pypi", "npm")
MAX_BYTES = 50 * 2**20  # larger releases (ML wheels) are skipped and reported
CONCURRENCY = 4
ATTEMPTS = 3
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
COMMAND = ".venv/bin/python -m bench.benign_wide --write-docs"
BEGIN = "<!-- bench/benign_wide.py: generated from here -->"
END = "<!-- bench/benign_wide.py: generated up to here -->"


@dataclass(frozen=True)
class Pick:
    ecosystem: str
    name: str
    rank: int


@dataclass(frozen=True)
class Locked:
    ecosystem: str
    name: str
    version: str
    url: str
    sha256: str
    file: str


class FetchError(Exception):
    """A package that could not be fetched; reported and skipped."""


def canonical(ecosystem: str, name: str) -> str:
    """Registry-equivalent spelling: PyPI folds case and runs of ``-_.`` (PEP 503)."""
    if ecosystem == "pypi":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name.lower()


def known_benign(lock: Path) -> set[tuple[str, str]]:
    """(ecosystem, canonical name) of every package in benign-dev's lock file."""
    with lock.open(encoding="utf-8", newline="") as handle:
        return {
            (row["ecosystem"], canonical(row["ecosystem"], row["name"]))
            for row in csv.DictReader(handle, delimiter="\t")
        }


def pick(
    ecosystem: str, ranked: Sequence[str], known: set[tuple[str, str]], count: int, seed: int
) -> list[Pick]:
    """One package from each of ``count`` equal bands of the ranks, known ones left out.

    Bands spread the sample over the whole list (the top is what benign-dev already
    holds); the seed makes the choice inside each band reproducible.
    """
    candidates = [
        Pick(ecosystem, name, rank)
        for rank, name in enumerate(ranked, 1)
        if (ecosystem, canonical(ecosystem, name)) not in known
    ]
    count = min(count, len(candidates))
    rng = random.Random(f"{seed}:{ecosystem}")
    bounds = [len(candidates) * i // count for i in range(count + 1)]
    return [rng.choice(candidates[lo:hi]) for lo, hi in pairwise(bounds)]


def read_lock(path: Path) -> dict[tuple[str, str], Locked]:
    if not path.exists():
        return {}
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {(row["ecosystem"], row["name"]): Locked(**row) for row in rows}


def write_lock(path: Path, entries: Iterable[Locked]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        writer.writerow(LOCK_FIELDS)
        for e in sorted(entries, key=lambda e: (e.ecosystem, e.name)):
            writer.writerow([e.ecosystem, e.name, e.version, e.url, e.sha256, e.file])


async def _get(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    """GET with retries on transport errors and on the statuses that mean "later"."""
    for attempt in range(ATTEMPTS):
        try:
            response = await client.get(url, **kwargs)
        except httpx.TransportError as error:
            failure = f"{type(error).__name__} on {url}"
        else:
            if response.status_code not in RETRY_STATUS:
                if response.status_code != 200:
                    raise FetchError(f"HTTP {response.status_code} on {url}")
                return response
            failure = f"HTTP {response.status_code} on {url}"
        await asyncio.sleep(2**attempt)
    raise FetchError(failure)


async def _release(client: httpx.AsyncClient, p: Pick) -> tuple[str, str, str, str]:
    """(version, url, digest algorithm, expected hex digest) of the latest release."""
    if p.ecosystem == "pypi":
        response = await _get(client, f"https://pypi.org/pypi/{p.name}/json")
        data = response.json()
        files = [f for f in data["urls"] if f["packagetype"] in ("sdist", "bdist_wheel")]
        if not files:
            raise FetchError("no sdist or wheel in the latest release")
        sdists = [f for f in files if f["packagetype"] == "sdist"]
        chosen = (
            sdists or sorted(files, key=lambda f: ("none-any" not in f["filename"], f["size"]))
        )[0]
        if chosen["size"] > MAX_BYTES:
            raise FetchError(f"{chosen['filename']} is {chosen['size'] >> 20} MiB")
        url = str(response.url.join(chosen["url"]))  # some mirrors answer relative URLs
        return data["info"]["version"], url, "sha256", chosen["digests"]["sha256"]
    url = "https://registry.npmjs.org/" + quote(p.name, safe="@")
    headers = {"Accept": "application/vnd.npm.install-v1+json"}  # abbreviated packument
    response = await _get(client, url, headers=headers)
    data = response.json()
    version = data["dist-tags"]["latest"]
    dist = data["versions"][version]["dist"]
    tarball = str(response.url.join(dist["tarball"]))
    integrity = [i for i in dist.get("integrity", "").split() if i.startswith("sha512-")]
    if integrity:
        return version, tarball, "sha512", base64.b64decode(integrity[0][7:]).hex()
    return version, tarball, "sha1", dist["shasum"]


async def _download(client: httpx.AsyncClient, url: str, algorithm: str, expected: str) -> bytes:
    body = (await _get(client, url)).content
    if len(body) > MAX_BYTES:
        raise FetchError(f"{url} is {len(body) >> 20} MiB")
    if hashlib.new(algorithm, body).hexdigest() != expected.lower():
        raise FetchError(f"{algorithm} mismatch for {url}")
    return body


def _filename(p: Pick, version: str, url: str) -> str:
    if p.ecosystem == "pypi":
        return url.rsplit("/", 1)[1]
    return f"{p.name.lstrip('@').replace('/', '__')}-{version}.tgz"


async def _fetch_one(
    client: httpx.AsyncClient,
    gate: asyncio.Semaphore,
    p: Pick,
    locked: Locked | None,
    offline: bool,
) -> Locked:
    """The archive of ``p`` in the cache: reused if the lock has it, else resolved."""
    if locked is not None:
        path = CACHE / locked.file
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == locked.sha256:
            return locked
    if offline:
        raise FetchError("not in the cache (offline)")
    async with gate:
        if locked is not None:
            body = await _download(client, locked.url, "sha256", locked.sha256)
            entry = locked
        else:
            version, url, algorithm, expected = await _release(client, p)
            body = await _download(client, url, algorithm, expected)
            sha256 = hashlib.sha256(body).hexdigest()
            file = f"{p.ecosystem}/{_filename(p, version, url)}"
            entry = Locked(p.ecosystem, p.name, version, url, sha256, file)
    (CACHE / entry.file).parent.mkdir(parents=True, exist_ok=True)
    (CACHE / entry.file).write_bytes(body)
    return entry


async def fetch(picks: Sequence[Pick], offline: bool) -> tuple[dict[Pick, Locked], dict[Pick, str]]:
    """Every pick's archive, or why it could not be had; the lock file is updated."""
    lock = read_lock(LOCK)
    gate = asyncio.Semaphore(CONCURRENCY)
    timeout = httpx.Timeout(60.0, connect=10.0)
    headers = {"User-Agent": "threatfeed-bench (benign sample; github.com threatfeed)"}
    async with httpx.AsyncClient(timeout=timeout, headers=headers, follow_redirects=True) as client:
        results = await asyncio.gather(
            *(_fetch_one(client, gate, p, lock.get((p.ecosystem, p.name)), offline) for p in picks),
            return_exceptions=True,
        )
    fetched: dict[Pick, Locked] = {}
    failed: dict[Pick, str] = {}
    for p, result in zip(picks, results, strict=True):
        if isinstance(result, Locked):
            fetched[p] = result
            lock[(p.ecosystem, p.name)] = result
        else:
            failed[p] = str(result) or type(result).__name__
    write_lock(LOCK, lock.values())
    return fetched, failed


def analyse(fetched: dict[Pick, Locked], jobs: int) -> dict[Pick, Outcome]:
    """The engine over every fetched archive, as bench/quality.py runs it."""
    picks = list(fetched)
    todo = [
        Sample(CACHE / fetched[p].file, p.ecosystem, p.name, "benign", f"benign:{p.name}")
        for p in picks
    ]
    if jobs <= 1:
        outcomes = [_analyze(s) for s in todo]
    else:
        with multiprocessing.Pool(jobs) as pool:
            outcomes = pool.map(_analyze, todo, chunksize=8)
    return dict(zip(picks, outcomes, strict=True))


def _evidence(indicators: dict[str, Any], limit: int = 400) -> str:
    return "\n".join(
        f"    {rule}: {json.dumps(value)[:limit]}" for rule, value in sorted(indicators.items())
    )


def render(
    args: argparse.Namespace,
    fetched: dict[Pick, Locked],
    failed: dict[Pick, str],
    outcomes: dict[Pick, Outcome],
) -> str:
    lines = [
        "### Wider benign sample",
        "",
        f"Engine `{ENGINE_VERSION}`, flag threshold score >= {FLAG_THRESHOLD}. Command: "
        f"`{COMMAND}` (seeds {', '.join(map(str, args.seed))}). {args.pypi} bands of PyPI and "
        f"{args.npm} of npm packages, one package from each band per seed, over "
        "the download ranks in `analysis/data/popular-*.txt` "
        "(top 15,000 per ecosystem), none of them in benign-dev; their latest release "
        "(PyPI: sdist, else a wheel; releases over "
        f"{MAX_BYTES >> 20} MiB skipped), digests verified, pinned in the git-ignored "
        "`.cache/benign-wide/lock.tsv`.",
        "",
        "| ecosystem | sampled | analysed | not fetched | flagged | flag rate |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for ecosystem in ECOSYSTEMS:
        done = [o for p, o in outcomes.items() if p.ecosystem == ecosystem]
        missing = sum(p.ecosystem == ecosystem for p in failed)
        flagged = sum(o.flagged for o in done)
        lines.append(
            f"| {ecosystem} | {len(done) + missing} | {len(done)} | {missing} | {flagged} | "
            f"{_pct(flagged, len(done))} |"
        )
    alarms = sorted(((p, o) for p, o in outcomes.items() if o.flagged), key=lambda po: -po[1].score)
    lines += ["", f"False alarms ({len(alarms)}):", ""]
    lines += [
        f"- `{p.name}` {fetched[p].version} ({p.ecosystem}, rank {p.rank}): score "
        f"{o.score}; {_indicator_names(o)}"
        for p, o in alarms
    ] or ["- none"]
    return "\n".join(lines) + "\n"


def _after_quality(text: str, generated: str) -> str:
    """The first time, the block goes right after the Quality section."""
    quality = text.find("\n## Quality\n")
    end = text.find("\n## ", quality + 1) if quality >= 0 else -1
    if end < 0:
        return text.rstrip("\n") + "\n\n" + generated + "\n"
    return text[:end].rstrip("\n") + "\n\n" + generated + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pypi", type=int, default=300, help="PyPI packages (default 300)")
    parser.add_argument("--npm", type=int, default=300, help="npm packages (default 300)")
    parser.add_argument(
        "--seed", type=int, nargs="+", default=[1, 2, 3], help="sample seeds (default 1 2 3)"
    )
    parser.add_argument("--offline", action="store_true", help="only use the cache")
    parser.add_argument("--jobs", type=int, default=1, help="analysis processes (default 1)")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    known = known_benign(CORPUS / "benign-dev" / "lock.tsv")
    picks = list(
        dict.fromkeys(
            p
            for seed in args.seed
            for ecosystem, count in (("pypi", args.pypi), ("npm", args.npm))
            for p in pick(ecosystem, popular_names(ecosystem), known, count, seed)
        )
    )
    start = time.perf_counter()
    fetched, failed = asyncio.run(fetch(picks, args.offline))
    fetch_seconds = time.perf_counter() - start
    outcomes = analyse(fetched, args.jobs)
    block = render(args, fetched, failed, outcomes)
    print(block)
    print(f"Fetched {len(fetched)} archives in {fetch_seconds:.0f} s; not fetched {len(failed)}:")
    for p, reason in sorted(failed.items(), key=lambda kv: (kv[0].ecosystem, kv[0].rank)):
        print(f"  {p.ecosystem} {p.name} (rank {p.rank}): {reason}")
    print("\nEvidence of each false alarm:")
    for p, o in sorted(outcomes.items(), key=lambda po: -po[1].score):
        if o.flagged:
            print(f"  {p.ecosystem} {p.name} {fetched[p].version} ({fetched[p].file}):")
            print(_evidence(o.indicators))
    errored = [(p, o.errors) for p, o in outcomes.items() if o.errors]
    print(f"\nArchives with reading or rule errors: {len(errored)}")
    for p, errors in errored:
        print(f"  {p.ecosystem} {p.name}: {'; '.join(errors)[:300]}")
    if args.write_docs:
        write_block(BEGIN, END, f"{BEGIN}\n{block.strip()}\n{END}", _after_quality)
    return 0


if __name__ == "__main__":
    sys.exit(main())
