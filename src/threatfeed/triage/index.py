"""Keeps the queue's index (``triage_items``) and the campaign fingerprints current.

Called in the transaction that records an analysis (``pipeline.ingest``) and in
the one that records a verdict, so the queue never disagrees with the store.
"""

from __future__ import annotations

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from threatfeed.store.models import Analysis, Archive, Package, TriageItem, TriageItemRule, utcnow
from threatfeed.triage.analyses import latest_analyses
from threatfeed.triage.campaigns import fingerprints, record_fingerprints
from threatfeed.triage.states import derive_state


def on_analysis_recorded(session: Session, package_id: int, archive_id: int) -> None:
    """Refreshes the version's queue entry and the archive's fingerprints."""
    package = session.get_one(Package, package_id)
    latest = latest_analyses(session, package_id)
    for archive, analysis in latest:
        if archive.id == archive_id:
            record_fingerprints(
                session,
                package_id,
                archive_id,
                fingerprints(
                    package.name,
                    package.version,
                    analysis.indicators,
                    analysis.locations,
                    analysis.files,
                ),
            )
    flagged = any(analysis.flagged for _, analysis in latest)
    if flagged or session.get(TriageItem, package_id) is not None:
        _refresh(session, package, latest)


def ensure_item(session: Session, package_id: int) -> TriageItem:
    """The version's queue entry, created for a version judged without ever being flagged."""
    item = session.get(TriageItem, package_id)
    if item is not None:
        return item
    package = session.get_one(Package, package_id)
    return _refresh(session, package, latest_analyses(session, package_id))


def _refresh(
    session: Session, package: Package, latest: list[tuple[Archive, Analysis]]
) -> TriageItem:
    flagged = any(analysis.flagged for _, analysis in latest)
    state = derive_state(session, package.id, flagged).value
    item = session.get(TriageItem, package.id)
    if item is None:
        item = TriageItem(
            package_id=package.id,
            ecosystem=package.ecosystem,
            name=package.name,
            version=package.version,
            flagged_at=utcnow(),
        )
        session.add(item)
    item.flagged = flagged
    item.score = max((analysis.score for _, analysis in latest), default=0.0)
    item.state = state
    session.flush()
    rules = sorted({rule for _, analysis in latest for rule in analysis.indicators})
    session.execute(delete(TriageItemRule).where(TriageItemRule.package_id == package.id))
    if rules:
        session.execute(
            insert(TriageItemRule), [{"package_id": package.id, "rule": rule} for rule in rules]
        )
    return item
