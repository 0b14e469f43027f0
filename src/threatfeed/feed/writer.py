"""Writing the feed: importing items in batches, exporting them, withdrawing entries.

An entry is keyed by (ecosystem, name, version); importing an item that is
already in the feed changes nothing, so an import can be rerun after a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from threatfeed.errors import Conflict, NotFound
from threatfeed.feed.items import FeedItem
from threatfeed.feed.reader import item_document
from threatfeed.store import Database
from threatfeed.store.models import Archive, FeedEntry, Package, utcnow

BATCH = 500


@dataclass(frozen=True)
class ImportReport:
    added: int
    unchanged: int


def import_items(database: Database, items: Iterable[FeedItem]) -> ImportReport:
    """Adds the items not yet in the feed, one transaction per batch."""
    added = unchanged = 0
    for batch in batched(items, BATCH):
        with database.session() as session:
            new = _add_batch(session, batch)
        added += new
        unchanged += len(batch) - new
    return ImportReport(added, unchanged)


def batched(items: Iterable[FeedItem], size: int) -> Iterator[tuple[FeedItem, ...]]:
    iterator = iter(items)
    while batch := tuple(islice(iterator, size)):
        yield batch


def _add_batch(session: Session, batch: tuple[FeedItem, ...]) -> int:
    unique = {item.key: item for item in batch}
    packages = _package_ids(session, unique)
    listed = set(
        session.execute(
            select(FeedEntry.package_id).where(FeedEntry.package_id.in_(packages.values()))
        ).scalars()
    )
    fresh = [(packages[key], item) for key, item in unique.items() if packages[key] not in listed]
    if not fresh:
        return 0
    _add_archives(session, fresh)
    now = utcnow()
    session.execute(
        insert(FeedEntry),
        [
            {
                "package_id": package_id,
                "ecosystem": item.ecosystem,
                "name": item.name,
                "version": item.version,
                "created": item.created,
                "hashes": item.hashes_json(),
                "indicators": item.indicators,
                "document": item.document(),
                "added_at": item.added or now,
                "withdrawn_at": item.withdrawn,
                "withdrawn_reason": item.withdrawn_reason,
            }
            for package_id, item in fresh
        ],
    )
    return len(fresh)


def _package_ids(
    session: Session, items: dict[tuple[str, str, str], FeedItem]
) -> dict[tuple[str, str, str], int]:
    key = tuple_(Package.ecosystem, Package.name, Package.version)
    rows = session.execute(
        select(Package.ecosystem, Package.name, Package.version, Package.id).where(
            key.in_(list(items))
        )
    ).all()
    ids = {(row[0], row[1], row[2]): row[3] for row in rows}
    missing = [item for k, item in items.items() if k not in ids]
    if missing:
        created = session.execute(
            insert(Package).returning(Package.ecosystem, Package.name, Package.version, Package.id),
            [
                {
                    "ecosystem": item.ecosystem,
                    "name": item.name,
                    "version": item.version,
                    "published_at": item.created,
                }
                for item in missing
            ],
        ).all()
        ids.update({(row[0], row[1], row[2]): row[3] for row in created})
    return ids


def _add_archives(session: Session, fresh: list[tuple[int, FeedItem]]) -> None:
    known = set(
        session.execute(
            select(Archive.package_id, Archive.filename).where(
                Archive.package_id.in_([package_id for package_id, _ in fresh])
            )
        ).all()
    )
    rows = {
        (package_id, filename): digest
        for package_id, item in fresh
        for filename, digest in item.hashes
        if (package_id, filename) not in known
    }
    if rows:
        session.execute(
            insert(Archive),
            [
                {"package_id": p, "filename": f, "sha256": d, "status": "verified"}
                for (p, f), d in rows.items()
            ],
        )


def export_items(database: Database, *, include_withdrawn: bool = False) -> Iterator[FeedItem]:
    """Every entry, oldest first, streamed so the feed is never held in memory."""
    query = select(FeedEntry).order_by(FeedEntry.added_at, FeedEntry.id)
    if not include_withdrawn:
        query = query.where(FeedEntry.withdrawn_at.is_(None))
    with database.session() as session:
        for entry in session.scalars(query.execution_options(yield_per=1000)):
            yield FeedItem(
                ecosystem=entry.ecosystem,
                name=entry.name,
                version=entry.version,
                created=entry.created,
                hashes=tuple((h["archive"], h["hash"]) for h in entry.hashes),
                indicators=entry.indicators,
                added=entry.added_at,
                withdrawn=entry.withdrawn_at,
                withdrawn_reason=entry.withdrawn_reason,
            )
            session.expunge(entry)


def withdraw(
    session: Session,
    ecosystem: str,
    name: str,
    version: str,
    reason: str,
    at: datetime | None = None,
) -> FeedEntry:
    """Takes a published entry out of the live feed; it stays listed as withdrawn."""
    entry = session.scalars(
        select(FeedEntry).where(
            FeedEntry.ecosystem == ecosystem, FeedEntry.name == name, FeedEntry.version == version
        )
    ).one_or_none()
    if entry is None:
        raise NotFound(f"{ecosystem}/{name}@{version} is not in the feed")
    if entry.withdrawn_at is not None:
        raise Conflict(f"{ecosystem}/{name}@{version} was already withdrawn")
    entry.withdrawn_at = at or utcnow()
    entry.withdrawn_reason = reason
    return entry


def publish(
    session: Session,
    package_id: int,
    created: datetime | None,
    hashes: list[dict[str, str]],
    indicators: dict[str, Any],
    at: datetime | None = None,
) -> FeedEntry:
    """Puts a confirmed version in the live feed.

    A withdrawn entry comes back (republished) with a fresh ``added_at``, so that
    consumers polling ``since`` see it again; it leaves ``/withdrawn``.
    """
    package = session.get_one(Package, package_id)
    entry = session.scalars(
        select(FeedEntry).where(FeedEntry.package_id == package_id)
    ).one_or_none()
    if entry is None:
        entry = FeedEntry(
            package_id=package_id,
            ecosystem=package.ecosystem,
            name=package.name,
            version=package.version,
        )
        session.add(entry)
    elif entry.withdrawn_at is None:
        raise Conflict(
            f"{package.ecosystem}/{package.name}@{package.version} is already in the feed"
        )
    entry.created = created
    entry.hashes = hashes
    entry.indicators = indicators
    entry.document = item_document(
        package.ecosystem, package.name, package.version, created, hashes, indicators
    )
    entry.added_at = at or utcnow()
    entry.withdrawn_at = None
    entry.withdrawn_reason = None
    session.flush()
    return entry
