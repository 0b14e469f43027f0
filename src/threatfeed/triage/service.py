"""Verdicts: checked against the version's state, appended to the audit trail, applied to the feed.

A verdict and its effect on the feed are one transaction. Each version's queue
row is written first, which locks it (a row lock on PostgreSQL, the write lock on
SQLite): two researchers deciding on one version at once are serialised, and the
second sees the first's verdict and is refused if its own no longer applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from threatfeed.feed import writer
from threatfeed.store.models import Archive, Package, TriageItem, Verdict, utcnow
from threatfeed.triage.analyses import latest_analyses, union_indicators
from threatfeed.triage.errors import IllegalTransition, InvalidVerdict, UnknownPackage
from threatfeed.triage.index import ensure_item
from threatfeed.triage.states import Kind, State, derive_state, refusal

TRIAGED_RULE = "triaged_malware_rule"
MAX_REASON = 4000
MAX_REFUSALS_SHOWN = 10
_VERB = {Kind.MALICIOUS: "confirm", Kind.BENIGN: "dismiss", Kind.WITHDRAWN: "withdraw"}


@dataclass(frozen=True)
class Author:
    """Who decides: an account of the web UI, or an operator at the CLI (no account)."""

    name: str
    account_id: int | None = None


@dataclass(frozen=True)
class PackageKey:
    ecosystem: str
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.ecosystem}/{self.name}@{self.version}"


@dataclass(frozen=True)
class Decision:
    package_id: int
    key: PackageKey
    kind: Kind
    before: State
    at: datetime


@dataclass(frozen=True)
class VerdictRecord:
    kind: str
    reason: str
    author: str | None
    at: datetime


def resolve(session: Session, key: PackageKey) -> int:
    found = session.scalar(
        select(Package.id).where(
            Package.ecosystem == key.ecosystem,
            Package.name == key.name,
            Package.version == key.version,
        )
    )
    if found is None:
        raise UnknownPackage(f"unknown package version {key}")
    return found


def state_of(session: Session, package_id: int) -> State:
    item = session.get(TriageItem, package_id)
    return derive_state(session, package_id, item is not None and item.flagged)


def history(session: Session, package_id: int) -> list[VerdictRecord]:
    """Every verdict on the version, oldest first: the audit trail is the table."""
    return [
        VerdictRecord(v.verdict, v.reason, v.author, v.created_at)
        for v in session.scalars(
            select(Verdict)
            .where(Verdict.package_id == package_id)
            .order_by(Verdict.created_at, Verdict.id)
        )
    ]


def decide(
    session: Session,
    package_ids: Sequence[int],
    kind: Kind,
    reason: str,
    author: Author,
    at: datetime | None = None,
) -> list[Decision]:
    """Records one verdict per version, all or none: one illegal move refuses the whole set."""
    reason = reason.strip()
    if not reason:
        raise InvalidVerdict("a verdict needs a reason")
    if len(reason) > MAX_REASON:
        raise InvalidVerdict(f"a reason has at most {MAX_REASON} characters")
    if not author.name.strip():
        raise InvalidVerdict("a verdict needs an author")
    if not package_ids:
        raise InvalidVerdict("no package version selected")
    now = at or utcnow()
    pending: list[tuple[Package, State]] = []
    refused: list[str] = []
    for package_id in sorted(set(package_ids)):
        package = _lock(session, package_id, now)
        state = state_of(session, package_id)
        if (why := refusal(state, kind)) is not None:
            refused.append(f"{_key(package)}: {why}")
        pending.append((package, state))
    if refused:
        shown = "; ".join(refused[:MAX_REFUSALS_SHOWN])
        more = len(refused) - MAX_REFUSALS_SHOWN
        suffix = f" (and {more} more)" if more > 0 else ""
        raise IllegalTransition(f"cannot {_VERB[kind]} {shown}{suffix}")
    decisions = []
    for package, state in pending:
        _apply(session, package, kind, reason, now)
        session.add(
            Verdict(
                package_id=package.id,
                account_id=author.account_id,
                author=author.name,
                verdict=kind.value,
                reason=reason,
                created_at=now,
            )
        )
        session.execute(
            update(TriageItem).where(TriageItem.package_id == package.id).values(state=kind.value)
        )
        decisions.append(Decision(package.id, _key(package), kind, state, now))
    session.flush()
    return decisions


def _key(package: Package) -> PackageKey:
    return PackageKey(package.ecosystem, package.name, package.version)


def _lock(session: Session, package_id: int, now: datetime) -> Package:
    """Writes the version's queue row before reading anything about it (see the module doc)."""
    statement = update(TriageItem).where(TriageItem.package_id == package_id).values(decided_at=now)
    locked = session.execute(statement).rowcount != 0  # type: ignore[attr-defined]
    package = session.get(Package, package_id)
    if package is None:
        raise UnknownPackage(f"unknown package version id {package_id}")
    if not locked:
        ensure_item(session, package_id)
        session.execute(statement)
    return package


def _apply(session: Session, package: Package, kind: Kind, reason: str, now: datetime) -> None:
    if kind is Kind.MALICIOUS:
        analyses = latest_analyses(session, package.id)
        indicators = union_indicators(analysis.indicators for _, analysis in analyses)
        indicators[TRIAGED_RULE] = True
        writer.publish(
            session,
            package.id,
            package.published_at,
            _hashes(session, package.id),
            indicators,
            at=now,
        )
    elif kind is Kind.WITHDRAWN:
        writer.withdraw(session, package.ecosystem, package.name, package.version, reason, at=now)


def _hashes(session: Session, package_id: int) -> list[dict[str, str]]:
    return [
        {"archive": filename, "hash": sha256, "type": "SHA256"}
        for filename, sha256 in session.execute(
            select(Archive.filename, Archive.sha256)
            .where(Archive.package_id == package_id)
            .order_by(Archive.filename)
        )
        if sha256 is not None
    ]
