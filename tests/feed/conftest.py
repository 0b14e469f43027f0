"""Feed fixtures: a populated feed behind a live server, and tokens to read it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from threatfeed.feed.items import FeedItem
from threatfeed.feed.writer import import_items
from threatfeed.store import Database

T0 = datetime(2023, 7, 19, 0, 0, 0, tzinfo=UTC)


def item(
    n: int,
    *,
    added: datetime | None = None,
    ecosystem: str = "npm",
    name: str | None = None,
) -> FeedItem:
    return FeedItem(
        ecosystem=ecosystem,
        name=name or f"pkg-{n:05d}",
        version=f"1.0.{n}",
        created=T0 - timedelta(days=1, seconds=n),
        hashes=((f"pkg-{n:05d}-1.0.{n}.tgz", f"{n:064x}"),),
        indicators={"npm_hooks_rule": ["node index.js"], "trivial_package_rule": True},
        added=added or T0 + timedelta(minutes=n),
    )


def seed(database: Database, items: Iterable[FeedItem]) -> list[FeedItem]:
    items = list(items)
    import_items(database, items)
    return items


Seeder = Callable[[Iterable[FeedItem]], list[FeedItem]]
