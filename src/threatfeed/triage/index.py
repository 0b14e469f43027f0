"""Keeps the queue's index (``triage_items``) and the campaign fingerprints current.

Called in the transaction that records a batch of analyses (``pipeline.ingest``)
and in the one that records a verdict, so the queue never disagrees with the store.

A batch costs a constant number of statements whatever its size, and none at all
when every analysis is clean and of a package created by the batch itself: most
archives the pipeline stores are exactly that, and the store stage is the
pipeline's bottleneck.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import Session

from threatfeed.store.models import (
    Analysis,
    Archive,
    FeedEntry,
    Package,
    TriageItem,
    TriageItemRule,
    Verdict,
    table,
    utcnow,
)
from threatfeed.triage.campaigns import fingerprints, record_fingerprints
from threatfeed.triage.states import State, state_from


@dataclass(frozen=True)
class NewAnalysis:
    """An analysis just inserted, as stored, with what its recorder knows of its history."""

    package_id: int
    archive_id: int
    analysis_id: int
    ecosystem: str
    name: str
    version: str
    flagged: bool
    score: float
    indicators: Mapping[str, Any]
    locations: Sequence[Mapping[str, Any]]
    files: Sequence[Sequence[Any]]
    new_package: bool
    """The package row was inserted with this batch, so every analysis of it is in the batch
    and no queue entry, verdict or feed entry can refer to it yet: nothing to look up."""
    first_analysis: bool
    """The archive had no analysis before this batch, hence no fingerprints to replace."""


@dataclass(frozen=True)
class _Version:
    """What the queue entry of a version should say, from the latest analysis of each archive."""

    package_id: int
    ecosystem: str
    name: str
    version: str
    flagged: bool
    score: float
    rules: tuple[str, ...]
    state: State
    has_item: bool


def on_analyses_recorded(session: Session, analyses: Sequence[NewAnalysis]) -> None:
    """Refreshes the queue entries of the versions and the fingerprints of the archives of a
    batch of new analyses (already inserted).

    A version enters the queue when the latest analysis of one of its archives flags it;
    one already in the queue is brought up to date whatever the analysis says.
    """
    latest: dict[int, NewAnalysis] = {}
    for analysis in analyses:  # two engine versions in one batch: the newer row counts
        known = latest.get(analysis.archive_id)
        if known is None or analysis.analysis_id > known.analysis_id:
            latest[analysis.archive_id] = analysis
    record_fingerprints(
        session,
        {
            (a.package_id, a.archive_id): fingerprints(
                a.name, a.version, a.indicators, a.locations, a.files
            )
            for a in latest.values()
        },
        replaced=[a.archive_id for a in latest.values() if not a.first_analysis],
    )
    created: dict[int, list[NewAnalysis]] = {}
    for analysis in latest.values():
        if analysis.new_package:
            created.setdefault(analysis.package_id, []).append(analysis)
    existing = {a.package_id for a in latest.values() if not a.new_package}
    versions = [_created(group) for group in created.values()] + _lookup(session, existing)
    _write(session, [v for v in versions if v.flagged or v.has_item])


def ensure_item(session: Session, package_id: int) -> None:
    """Creates the queue entry of a version judged without ever being flagged."""
    if session.get(TriageItem, package_id) is None:
        _write(session, _lookup(session, {package_id}))


def _created(analyses: Sequence[NewAnalysis]) -> _Version:
    """A version created by this batch: every archive's latest analysis is in ``analyses``."""
    first = analyses[0]
    flagged = any(a.flagged for a in analyses)
    return _Version(
        package_id=first.package_id,
        ecosystem=first.ecosystem,
        name=first.name,
        version=first.version,
        flagged=flagged,
        score=max(a.score for a in analyses),
        rules=_rules(a.indicators for a in analyses),
        state=state_from(None, published=False, withdrawn=False, flagged=flagged),
        has_item=False,
    )


def _lookup(session: Session, package_ids: Iterable[int]) -> list[_Version]:
    """The versions' queue entries as they should be, from one query: each archive's latest
    analysis beside the version's queue row, latest verdict and feed entry."""
    ids = sorted(set(package_ids))
    if not ids:
        return []
    newest = (
        select(func.max(Analysis.id))
        .join(Archive, Archive.id == Analysis.archive_id)
        .where(Archive.package_id.in_(ids))
        .group_by(Analysis.archive_id)
    )
    verdict = (
        select(Verdict.verdict)
        .where(Verdict.package_id == Package.id)
        .order_by(Verdict.created_at.desc(), Verdict.id.desc())
        .limit(1)
        .correlate(Package)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            Package.id,
            Package.ecosystem,
            Package.name,
            Package.version,
            TriageItem.package_id.label("item"),
            verdict.label("verdict"),
            FeedEntry.id.label("entry"),
            FeedEntry.withdrawn_at,
            Analysis.flagged,
            Analysis.score,
            Analysis.indicators,
        )
        .outerjoin(TriageItem, TriageItem.package_id == Package.id)
        .outerjoin(FeedEntry, FeedEntry.package_id == Package.id)
        .outerjoin(Archive, Archive.package_id == Package.id)
        .outerjoin(Analysis, and_(Analysis.archive_id == Archive.id, Analysis.id.in_(newest)))
        .where(Package.id.in_(ids))
    )
    by_package: dict[int, list[Any]] = {}
    for row in rows:
        by_package.setdefault(row.id, []).append(row)
    versions = []
    for package_id, mine in sorted(by_package.items()):
        analysed = [row for row in mine if row.flagged is not None]
        flagged = any(row.flagged for row in analysed)
        head = mine[0]
        versions.append(
            _Version(
                package_id=package_id,
                ecosystem=head.ecosystem,
                name=head.name,
                version=head.version,
                flagged=flagged,
                score=max((row.score for row in analysed), default=0.0),
                rules=_rules(row.indicators for row in analysed),
                state=state_from(
                    head.verdict,
                    published=head.entry is not None,
                    withdrawn=head.withdrawn_at is not None,
                    flagged=flagged,
                ),
                has_item=head.item is not None,
            )
        )
    return versions


def _rules(indicators: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    return tuple(sorted({rule for mapping in indicators for rule in mapping}))


def _write(session: Session, versions: Sequence[_Version]) -> None:
    """The queue rows and their rules: at most one statement per kind of write."""
    if not versions:
        return
    added = [v for v in versions if not v.has_item]
    kept = [v for v in versions if v.has_item]
    if added:
        now = utcnow()
        session.execute(
            table(TriageItem).insert(),
            [
                {
                    "package_id": v.package_id,
                    "ecosystem": v.ecosystem,
                    "name": v.name,
                    "version": v.version,
                    "flagged_at": now,
                    "flagged": v.flagged,
                    "score": v.score,
                    "state": v.state.value,
                }
                for v in added
            ],
        )
    if kept:
        session.execute(
            update(TriageItem),
            [
                {
                    "package_id": v.package_id,
                    "flagged": v.flagged,
                    "score": v.score,
                    "state": v.state.value,
                }
                for v in kept
            ],
        )
        session.execute(
            delete(TriageItemRule).where(
                TriageItemRule.package_id.in_([v.package_id for v in kept])
            )
        )
    rules = [{"package_id": v.package_id, "rule": rule} for v in versions for rule in v.rules]
    if rules:
        session.execute(table(TriageItemRule).insert(), rules)
