"""A queue of many flagged versions, written in bulk (the shape ``pipeline.ingest`` leaves).

Packages, archives, analyses, queue rows, rules and fingerprints are inserted
with one statement per table, so a 10,000-item queue takes seconds to build.
Every 50 versions share a payload (a campaign).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from threatfeed.store import Database
from threatfeed.store.models import (
    Analysis,
    Archive,
    ArchiveFingerprint,
    Package,
    TriageItem,
    TriageItemRule,
)

RULES = (
    "npm_hooks_rule",
    "suspicious_url_references_rule",
    "obfuscation_rule",
    "typosquatting_rule",
    "credential_harvesting_rule",
)


def build(database: Database, count: int) -> None:
    now = datetime.now(UTC)
    with database.session() as session:
        session.execute(
            insert(Package),
            [
                {
                    "ecosystem": "npm" if n % 3 else "pypi",
                    "name": f"pkg-{n:05}",
                    "version": "1.0.0",
                    "published_at": now - timedelta(minutes=n),
                    "seen_at": now,
                    "registry_state": "published",
                }
                for n in range(count)
            ],
        )
        ids = list(session.scalars(select(Package.id).order_by(Package.id)))
        session.execute(
            insert(Archive),
            [
                {
                    "package_id": package_id,
                    "filename": f"pkg-{n:05}-1.0.0.tgz",
                    "sha256": hashlib.sha256(str(n).encode()).hexdigest(),
                    "size": 4096 + n,
                    "status": "verified",
                }
                for n, package_id in enumerate(ids)
            ],
        )
        archives = list(session.scalars(select(Archive.id).order_by(Archive.package_id)))
        session.execute(
            insert(Analysis),
            [_analysis(n, archive_id, now) for n, archive_id in enumerate(archives)],
        )
        session.execute(
            insert(TriageItem),
            [
                {
                    "package_id": package_id,
                    "ecosystem": "npm" if n % 3 else "pypi",
                    "name": f"pkg-{n:05}",
                    "version": "1.0.0",
                    "score": 0.5 + (n * 7919 % 5000) / 10000,
                    "flagged": True,
                    "flagged_at": now - timedelta(minutes=n),
                    "state": "pending",
                }
                for n, package_id in enumerate(ids)
            ],
        )
        session.execute(
            insert(TriageItemRule),
            [
                {"package_id": package_id, "rule": rule}
                for n, package_id in enumerate(ids)
                for rule in RULES[: 1 + n % 3]
            ],
        )
        session.execute(
            insert(ArchiveFingerprint),
            [
                {
                    "archive_id": archive_id,
                    "package_id": ids[n],
                    "digest": hashlib.sha256(f"{n // 50}:{k}".encode()).hexdigest(),
                    "kind": "file",
                    "label": f"lib/payload-{n // 50}-{k}.js ({1000 + k} bytes)",
                }
                for n, archive_id in enumerate(archives)
                for k in range(3)
            ],
        )


def _analysis(n: int, archive_id: int, now: datetime) -> dict[str, Any]:
    return {
        "archive_id": archive_id,
        "engine_version": "bench",
        "score": 0.8,
        "flagged": True,
        "indicators": {
            "npm_hooks_rule": ["node index.js"],
            "suspicious_url_references_rule": [
                {"file": "package/index.js", "urls": [f"https://c{n % 50}.example.invalid/"]}
            ],
        },
        "errors": [],
        "locations": [
            {"rule": "npm_hooks_rule", "file": "package/package.json", "line": 5, "excerpt": "x"}
        ],
        "files": [["package/package.json", 300], ["package/index.js", 2000 + n % 50]],
        "elapsed_ms": 1.0,
        "created_at": now,
    }
