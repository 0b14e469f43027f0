"""The benchmark's databases: built once per size and backend, cached, reused.

``threatfeed.feed.writer.import_items`` is the product's import path, but it
runs one round trip per few hundred items and ``RETURNING`` per package
(about 2,000 items/s on SQLite and 800/s on PostgreSQL here), so a million
items would take minutes to tens of minutes. The benchmark measures that rate
on a sample and fills the big databases with multi-row Core inserts of the
same rows instead (packages, their archives and the feed entries): ``COPY`` on
PostgreSQL, the driver's ``executemany`` on SQLite.

A database is built under a temporary name and renamed when complete, so an
interrupted build is never mistaken for a cached one.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Connection, create_engine, make_url, text

from bench import _synthetic
from threatfeed.feed.items import FeedItem
from threatfeed.feed.writer import import_items
from threatfeed.store import Database
from threatfeed.store.models import FeedEntry

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "bench"
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHUNK = 5_000


@dataclass(frozen=True)
class Built:
    url: str
    reused: bool
    seconds: float
    """Time to build (0 when reused)."""


def ensure_database(backend: str, entries: int, *, rebuild: bool, admin_url: str) -> Built:
    """A migrated database holding ``entries`` synthetic feed entries."""
    start = time.perf_counter()
    if backend == "sqlite":
        final = CACHE / f"feed-{entries}.sqlite"
        if final.exists() and not rebuild:
            return Built(f"sqlite:///{final}", True, 0.0)
        partial = final.with_suffix(".building")
        for path in (final, partial):
            path.unlink(missing_ok=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        _fill(f"sqlite:///{partial}", entries)
        partial.rename(final)
        return Built(f"sqlite:///{final}", False, time.perf_counter() - start)
    name = f"threatfeed_bench_{entries}"
    if _pg_exists(admin_url, name) and not rebuild:
        return Built(_pg_url(admin_url, name), True, 0.0)
    _pg_recreate(admin_url, f"{name}_building")
    _fill(_pg_url(admin_url, f"{name}_building"), entries)
    _pg_admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _pg_admin(admin_url, f"ALTER DATABASE {name}_building RENAME TO {name}")
    return Built(_pg_url(admin_url, name), False, time.perf_counter() - start)


def measure_import(backend: str, sample: int, admin_url: str) -> float:
    """Items per second of the product's ``import_items`` into an empty database."""
    if backend == "sqlite":
        path = CACHE / "import-probe.sqlite"
        CACHE.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        _pg_recreate(admin_url, "threatfeed_bench_import_probe")
        url = _pg_url(admin_url, "threatfeed_bench_import_probe")
    database = Database(url)
    items = list(_synthetic.items(sample))
    start = time.perf_counter()
    report = import_items(database, items)
    seconds = time.perf_counter() - start
    database.dispose()
    assert report.added == sample, report
    return sample / seconds


def _fill(url: str, entries: int) -> None:
    database = Database(url)  # creates the schema through the migrations
    postgres = database.dialect == "postgresql"
    items = enumerate(_synthetic.items(entries), start=1)
    with database.engine.begin() as connection:
        indexes = _drop_secondary_indexes(connection)
        if not postgres:
            connection.execute(text("PRAGMA cache_size = -1000000"))  # 1 GB, for this build
        write = _copy_chunk if postgres else _insert_chunk
        while chunk := list(itertools.islice(items, CHUNK)):
            write(connection, chunk)
        for statement in indexes:
            connection.execute(text(statement))
        if postgres:
            for table in ("packages", "feed_entries"):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {entries})")
                )
    with database.engine.connect() as connection:
        if postgres:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE")
            )
        else:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    database.dispose()


def _drop_secondary_indexes(connection: Connection) -> list[str]:
    """Drops the indexes the migrations made (not those of constraints); returns their DDL.

    Building an index once over a full table is much faster than updating it
    row by row, and recreating it from the database's own DDL keeps it exact.
    """
    if connection.dialect.name == "postgresql":
        query = (
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
    else:
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    indexes = connection.execute(text(query)).all()
    for name, _ in indexes:
        connection.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _, definition in indexes]


_PACKAGE_COLUMNS = (
    "id",
    "ecosystem",
    "name",
    "version",
    "published_at",
    "seen_at",
    "registry_state",
)
_ARCHIVE_COLUMNS = ("package_id", "filename", "sha256", "status")
_ENTRY_COLUMNS = (
    "id",
    "package_id",
    "ecosystem",
    "name",
    "version",
    "created",
    "hashes",
    "indicators",
    "document",
    "added_at",
    "withdrawn_at",
    "withdrawn_reason",
)


def _rows(
    chunk: list[tuple[int, FeedItem]], time: Callable[[datetime | None], Any], json: Any
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows of the three tables in the column orders above, values already in wire form."""
    packages: list[tuple[Any, ...]] = []
    archives: list[tuple[Any, ...]] = []
    entries: list[tuple[Any, ...]] = []
    for ident, item in chunk:
        created, added = time(item.created), time(item.added)
        packages.append(
            (ident, item.ecosystem, item.name, item.version, created, added, "published")
        )
        archives.extend((ident, file, digest, "verified") for file, digest in item.hashes)
        entries.append(
            (
                ident,
                ident,
                item.ecosystem,
                item.name,
                item.version,
                created,
                json(item.hashes_json()),
                json(item.indicators),
                item.document(),
                added,
                time(item.withdrawn),
                item.withdrawn_reason,
            )
        )
    return packages, archives, entries


def _sqlite_time(moment: datetime | None) -> str | None:
    """The text SQLAlchemy stores for ``UTCDateTime`` on SQLite (checked in ``_insert_chunk``)."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _insert_chunk(connection: Connection, chunk: list[tuple[int, FeedItem]]) -> None:
    """SQLite: plain ``executemany`` on the driver, bypassing per-value processing in Python."""
    dialect = connection.dialect
    processor = FeedEntry.__table__.c.added_at.type.dialect_impl(dialect).bind_processor(dialect)
    sample = chunk[0][1].added
    assert processor is not None
    assert processor(sample) == _sqlite_time(sample)
    tables = zip(
        ("packages", "archives", "feed_entries"),
        (_PACKAGE_COLUMNS, _ARCHIVE_COLUMNS, _ENTRY_COLUMNS),
        _rows(chunk, _sqlite_time, json.dumps),
        strict=True,
    )
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    for table, columns, rows in tables:
        marks = ", ".join("?" * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    cursor.close()


def _copy_chunk(connection: Connection, chunk: list[tuple[int, FeedItem]]) -> None:
    """PostgreSQL: ``COPY``, the bulk path of the server itself."""
    tables = zip(
        ("packages", "archives", "feed_entries"),
        (_PACKAGE_COLUMNS, _ARCHIVE_COLUMNS, _ENTRY_COLUMNS),
        _rows(chunk, lambda moment: moment, Jsonb),
        strict=True,
    )
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    for table, columns, rows in tables:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    cursor.close()


def _pg_url(admin_url: str, database: str) -> str:
    return make_url(admin_url).set(database=database).render_as_string(hide_password=False)


def _pg_admin(admin_url: str, statement: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


def _pg_exists(admin_url: str, name: str) -> bool:
    engine = create_engine(admin_url)
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).first()
    engine.dispose()
    return found is not None


def _pg_recreate(admin_url: str, name: str) -> None:
    _pg_admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _pg_admin(admin_url, f"CREATE DATABASE {name}")
