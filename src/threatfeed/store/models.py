"""The schema of the whole pipeline, one for SQLite and PostgreSQL.

Observations (packages, archives, analyses) are written once; decisions
(verdicts) are appended and never updated, so the audit trail is the table.
Feed entries copy what the API serves so that a page is one index range scan.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

Json = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def table(model: type[Base]) -> Table:
    """The Core table of a model. A batch insert on it is one ``executemany`` of a statement
    compiled once and cached, where the ORM's ``insert(Model).values(rows)`` compiles a new
    statement for every batch (most of the pipeline's store stage, measured)."""
    return cast(Table, model.__table__)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: Json,
        list[Any]: Json,
    }


class Package(Base):
    """One version of one package as its registry announced it."""

    __tablename__ = "packages"
    __table_args__ = (UniqueConstraint("ecosystem", "name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ecosystem: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(512))
    version: Mapped[str] = mapped_column(String(256))
    published_at: Mapped[datetime | None]
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    registry_state: Mapped[str] = mapped_column(String(32), default="published")
    """``published``, ``yanked``, ``removed`` or ``placeholder``, as the registry last said."""

    archives: Mapped[list[Archive]] = relationship(back_populates="package")


class Archive(Base):
    """A file of a package version, verified against the registry digest before analysis."""

    __tablename__ = "archives"
    __table_args__ = (
        UniqueConstraint("package_id", "filename"),
        Index("ix_archives_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), default="pending")
    """``pending``, ``verified``, ``digest_mismatch``, ``too_large`` or ``failed``."""
    error: Mapped[str | None] = mapped_column(Text)

    package: Mapped[Package] = relationship(back_populates="archives")


class Analysis(Base):
    """What one engine version concluded about one archive; never rewritten."""

    __tablename__ = "analyses"
    __table_args__ = (
        UniqueConstraint("archive_id", "engine_version"),
        Index("ix_analyses_flagged_score", "flagged", "score"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    archive_id: Mapped[int] = mapped_column(ForeignKey("archives.id", ondelete="CASCADE"))
    engine_version: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean)
    indicators: Mapped[dict[str, Any]]
    errors: Mapped[list[Any]]
    locations: Mapped[list[Any]] = mapped_column(server_default="[]")
    """``[{"rule", "file", "line", "excerpt"}]``: where each indicator was seen, for triage."""
    files: Mapped[list[Any]] = mapped_column(server_default="[]")
    """``[[path, size], ...]`` of every member of the archive."""
    elapsed_ms: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    """Whether the account holds the threat-feed subscription (403 on the feed without it)."""
    password_hash: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    sessions_valid_from: Mapped[datetime | None]
    """Triage sessions issued before this moment are over: set on logout and on a password
    change, so a copied cookie dies with them instead of living out its 8 hours."""


class ApiKey(Base):
    """An API key is stored only as its SHA-256: keys are long random strings, not passwords."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class Verdict(Base):
    """A researcher's decision on a package version; a later verdict supersedes, never edits."""

    __tablename__ = "verdicts"
    __table_args__ = (Index("ix_verdicts_package_created", "package_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    verdict: Mapped[str] = mapped_column(String(32))
    """``malicious``, ``benign`` or ``withdrawn``."""
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    author: Mapped[str | None] = mapped_column(String(128))
    """Who decided: the account's name, or the operator's name for CLI verdicts (no account)."""


class TriageItem(Base):
    """A version that was ever flagged or judged: the queue's one-row-per-item index.

    Derived data, kept current in the transactions that record analyses and
    verdicts, so that the queue is one index range scan; the verdicts table
    stays the truth about decisions.
    """

    __tablename__ = "triage_items"
    __table_args__ = (
        Index("ix_triage_state_score", "state", "score", "package_id"),
        Index("ix_triage_state_eco_score", "state", "ecosystem", "score", "package_id"),
    )

    package_id: Mapped[int] = mapped_column(
        ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True
    )
    ecosystem: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(512))
    version: Mapped[str] = mapped_column(String(256))
    score: Mapped[float] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean)
    """Whether the latest analysis of any archive of the version flags it."""
    flagged_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(16))
    """``pending``, ``unflagged``, ``malicious``, ``benign`` or ``withdrawn``."""
    decided_at: Mapped[datetime | None]


class TriageItemRule(Base):
    """Which rules fired on a triage item, for the queue's rule filter."""

    __tablename__ = "triage_item_rules"
    __table_args__ = (Index("ix_triage_rules_rule", "rule", "package_id"),)

    package_id: Mapped[int] = mapped_column(
        ForeignKey("triage_items.package_id", ondelete="CASCADE"), primary_key=True
    )
    rule: Mapped[str] = mapped_column(String(128), primary_key=True)


class ArchiveFingerprint(Base):
    """A distinctive trait of an archive (a file by path and size, a payload, an evidence value).

    Packages that share fingerprints are shown together as a campaign.
    """

    __tablename__ = "archive_fingerprints"
    __table_args__ = (Index("ix_fingerprints_digest", "digest", "package_id"),)

    archive_id: Mapped[int] = mapped_column(
        ForeignKey("archives.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    """``file`` (path inside the package root and size) or ``evidence`` (a rule's finding)."""
    label: Mapped[str] = mapped_column(Text)
    """What is shared, for display (attacker-controlled, truncated)."""


class FeedEntry(Base):
    """A published threat, denormalised so that the API reads one row per item."""

    __tablename__ = "feed_entries"
    __table_args__ = (
        Index("ix_feed_added", "added_at", "id"),
        Index("ix_feed_withdrawn", "withdrawn_at", "id"),
        Index("ix_feed_eco_name", "ecosystem", "name"),
        Index("ix_feed_eco_added", "ecosystem", "added_at", "id"),
        Index("ix_feed_name_added", "name", "added_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(
        ForeignKey("packages.id", ondelete="CASCADE"), unique=True
    )
    ecosystem: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(512))
    version: Mapped[str] = mapped_column(String(256))
    created: Mapped[datetime | None]
    hashes: Mapped[list[Any]]
    indicators: Mapped[dict[str, Any]]
    document: Mapped[str] = mapped_column(Text)
    """The item as ``GET /`` serves it, serialised when written (see ``feed.reader``)."""
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)


class Cursor(Base):
    """A watcher's position in its registry's change stream."""

    __tablename__ = "cursors"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """A unit of pipeline work, written in the transaction of whatever produced it.

    The table is the embedded queue itself, and the outbox of the procrastinate
    queue: either way it is the one truth about what was done. A claim is a lease
    (``lease_until``, ``lease_token``), so the work of a process killed mid-job runs
    again once the lease expires; completion checks the token in the transaction
    that stores the results, so a job that lost its lease cannot complete twice.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_run_after", "state", "run_after", "id"),
        Index(
            "ix_jobs_active_id",
            *("id", "state", "run_after", "lease_until", "attempts", "max_attempts"),
            sqlite_where=text("state IN ('queued', 'running')"),
            postgresql_where=text("state IN ('queued', 'running')"),
        ),
        Index(
            "ux_jobs_active_key",
            "dedupe_key",
            unique=True,
            sqlite_where=text("state IN ('queued', 'running')"),
            postgresql_where=text("state IN ('queued', 'running')"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    dedupe_key: Mapped[str | None] = mapped_column(String(1024))
    """At most one queued or running job per key: the same announcement twice is one job."""
    state: Mapped[str] = mapped_column(String(16), default="queued")
    """``queued``, ``running``, ``done`` or ``failed`` (out of attempts)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    lease_token: Mapped[str | None] = mapped_column(String(32))
    worker: Mapped[str | None] = mapped_column(String(128))
    relayed: Mapped[bool] = mapped_column(Boolean, default=False)
    """Procrastinate only: handed to procrastinate since it was last queued."""
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegistryGap(Base):
    """Positions of a change stream whose changes may have been missed, until backfilled."""

    __tablename__ = "registry_gaps"
    __table_args__ = (Index("ix_registry_gaps_open", "source", "closed_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    after: Mapped[str] = mapped_column(Text)
    until: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
