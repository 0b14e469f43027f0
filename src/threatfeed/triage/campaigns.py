"""Campaigns: other versions whose archives share distinctive files or payloads with this one.

Campaigns arrive as tens or hundreds of near-identical packages under different
names. The analysis keeps each archive's file list (path, size) and each
indicator's evidence and code excerpts, but no digest per file, and reading the
archive again at ingest would double its cost; so an archive is fingerprinted from
what the analysis already holds:

- ``file``: a member by its path inside the package root, with the package's own
  name and version replaced by placeholders, and its size (members smaller than
  ``MIN_FILE_BYTES`` and manifests whose size follows the package name are left out);
- ``evidence``: each evidence value of each rule (the ``file`` of an evidence object
  left out) and each code excerpt where a rule fired.

Only archives on which some rule fired are fingerprinted (at most ``MAX_FILES`` members,
the largest, and ``MAX_EVIDENCE`` values per rule): the index then grows with what the
engine finds, not with the registry.

Two versions are related when they share at least ``MIN_SHARED`` fingerprints that
are not common: a fingerprint seen in more than ``COMMON`` versions (a stock LICENSE,
a generic install hook) says nothing about a campaign and is ignored.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from threatfeed.store.models import ArchiveFingerprint, Package, TriageItem, table

MIN_FILE_BYTES = 64
MIN_SHARED = 2
COMMON = 1000
LABEL_CHARS = 200
MAX_RELATED = 500
MAX_FILES = 200
"""Per archive, the largest members only: big files are the distinctive ones, and an archive
of 50,000 members must not cost 50,000 index rows."""
MAX_EVIDENCE = 100
_MANIFESTS = frozenset(
    {"package.json", "PKG-INFO", "METADATA", "RECORD", "WHEEL", "setup.cfg", "top_level.txt"}
)


@dataclass(frozen=True)
class Fingerprint:
    digest: str
    kind: str
    label: str


@dataclass(frozen=True)
class Related:
    """Another version of the campaign and what it shares with the one being viewed."""

    package_id: int
    ecosystem: str
    name: str
    version: str
    state: str | None
    shared: int
    labels: tuple[str, ...]


def fingerprints(
    name: str,
    version: str,
    indicators: Mapping[str, Any],
    locations: Sequence[Mapping[str, Any]],
    files: Sequence[Sequence[Any]],
) -> list[Fingerprint]:
    """The distinctive traits of one analysed archive (see the module's docstring)."""
    found: dict[str, Fingerprint] = {}

    def add(kind: str, text: str, label: str) -> None:
        digest = hashlib.sha256(f"{kind}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
        found.setdefault(digest, Fingerprint(digest, kind, label[:LABEL_CHARS]))

    if not indicators:
        return []  # nothing fired: not worth an index entry per member of every clean archive
    members = sorted(_package_files(name, version, files), key=lambda m: (-m[1], m[0]))
    for path, size in members[:MAX_FILES]:
        add("file", f"{path}\0{size}", f"{path} ({size} bytes)")
    for rule, evidence in indicators.items():
        for value in list(_evidence_values(evidence))[:MAX_EVIDENCE]:
            add("evidence", f"{rule}\0{value}", f"{rule}: {value}")
    for location in locations[:MAX_EVIDENCE]:
        excerpt = str(location.get("excerpt", "")).strip()
        if len(excerpt) >= 8:
            add("evidence", f"excerpt\0{excerpt}", f"{location.get('rule', '')}: {excerpt}")
    return list(found.values())


def _package_files(
    name: str, version: str, files: Sequence[Sequence[Any]]
) -> Iterable[tuple[str, int]]:
    paths = [(str(entry[0]), int(entry[1])) for entry in files if len(entry) == 2]
    roots = {path.split("/", 1)[0] for path, _ in paths}
    strip = len(roots) == 1 and all("/" in path for path, _ in paths)
    names = sorted({name, name.replace("-", "_"), name.replace("_", "-")}, key=len, reverse=True)
    lowered = [n.lower() for n in names if n]
    pattern: re.Pattern[str] | None = None
    for path, size in paths:
        relative = path.split("/", 1)[1] if strip else path
        if size < MIN_FILE_BYTES or relative.rsplit("/", 1)[-1] in _MANIFESTS:
            continue
        if version:
            relative = relative.replace(version, "{version}")
        if not name:
            pass
        elif name.isascii() and relative.isascii():
            relative = _name_replaced(relative, lowered)
        else:  # Unicode case folding: the regular expression (compiled once per archive)
            if pattern is None:
                pattern = re.compile("|".join(re.escape(n) for n in names if n), re.IGNORECASE)
            relative = pattern.sub("{name}", relative)
        yield relative, size


def _name_replaced(relative: str, names: Sequence[str]) -> str:
    """``relative`` with every occurrence of one of the (lower-case) names written ``{name}``,
    leftmost and longest first, ignoring ASCII case: what ``re.sub`` of their alternation
    does on ASCII text, without compiling a pattern for every archive (a package's name
    is its own, so the ``re`` cache never hits; the compilations were most of the cost
    of fingerprinting an archive)."""
    folded = relative.lower()
    parts, start = [], 0
    while found := [(at, -len(n)) for n in names if (at := folded.find(n, start)) >= 0]:
        at, minus_length = min(found)
        parts += [relative[start:at], "{name}"]
        start = at - minus_length
    parts.append(relative[start:])
    return "".join(parts)


def _evidence_values(evidence: Any) -> Iterable[str]:
    items = evidence if isinstance(evidence, list) else [evidence]
    for item in items:
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, dict):
            item = {key: value for key, value in item.items() if key != "file"}
        text = item if isinstance(item, str) else json.dumps(item, sort_keys=True)
        if len(text) >= 4:
            yield text


def record_fingerprints(
    session: Session,
    prints: Mapping[tuple[int, int], Sequence[Fingerprint]],
    replaced: Collection[int],
) -> None:
    """Stores the fingerprints of the latest analyses of archives, by (package id, archive id),
    in place of the earlier ones of the archives in ``replaced`` (the others have none yet):
    at most one delete and one insert for a whole batch."""
    if replaced:
        session.execute(
            delete(ArchiveFingerprint).where(ArchiveFingerprint.archive_id.in_(sorted(replaced)))
        )
    rows = [
        {
            "archive_id": archive_id,
            "package_id": package_id,
            "digest": p.digest,
            "kind": p.kind,
            "label": p.label,
        }
        for (package_id, archive_id), found in prints.items()
        for p in found
    ]
    if rows:
        session.execute(table(ArchiveFingerprint).insert(), rows)


def related(session: Session, package_id: int, limit: int = MAX_RELATED) -> list[Related]:
    """Other versions sharing distinctive fingerprints with this one, most shared first."""
    mine = select(ArchiveFingerprint.digest).where(ArchiveFingerprint.package_id == package_id)
    spread = (
        select(ArchiveFingerprint.digest)
        .where(ArchiveFingerprint.digest.in_(mine))
        .group_by(ArchiveFingerprint.digest)
        .having(func.count(func.distinct(ArchiveFingerprint.package_id)) <= COMMON)
    )
    shared = func.count(func.distinct(ArchiveFingerprint.digest))
    rows = session.execute(
        select(ArchiveFingerprint.package_id, shared)
        .where(
            ArchiveFingerprint.digest.in_(spread),
            ArchiveFingerprint.package_id != package_id,
        )
        .group_by(ArchiveFingerprint.package_id)
        .having(shared >= MIN_SHARED)
        .order_by(shared.desc(), ArchiveFingerprint.package_id)
        .limit(limit)
    ).all()
    if not rows:
        return []
    ids = [row[0] for row in rows]
    packages = {
        row[0]: row[1:]
        for row in session.execute(
            select(Package.id, Package.ecosystem, Package.name, Package.version, TriageItem.state)
            .outerjoin(TriageItem, TriageItem.package_id == Package.id)
            .where(Package.id.in_(ids))
        )
    }
    labels: dict[int, list[str]] = {}
    for other, label in session.execute(
        select(ArchiveFingerprint.package_id, ArchiveFingerprint.label)
        .where(
            ArchiveFingerprint.package_id.in_(ids[:50]),
            ArchiveFingerprint.digest.in_(spread),
        )
        .order_by(ArchiveFingerprint.package_id, ArchiveFingerprint.kind, ArchiveFingerprint.label)
    ):
        if label not in labels.setdefault(other, []):
            labels[other].append(label)
    return [
        Related(
            package_id=other,
            ecosystem=packages[other][0],
            name=packages[other][1],
            version=packages[other][2],
            state=packages[other][3],
            shared=count,
            labels=tuple(labels.get(other, ())[:5]),
        )
        for other, count in rows
    ]
