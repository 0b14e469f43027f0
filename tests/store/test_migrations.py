from sqlalchemy import inspect, text

from threatfeed.store import Database

EXPECTED_TABLES = {
    "accounts",
    "analyses",
    "api_keys",
    "archives",
    "cursors",
    "feed_entries",
    "packages",
    "verdicts",
}


def test_migrations_build_the_schema_from_an_empty_database(database_url: str) -> None:
    db = Database(database_url)
    try:
        tables = set(inspect(db.engine).get_table_names())
        assert tables >= EXPECTED_TABLES
        with db.engine.connect() as connection:
            head = connection.execute(text("select version_num from alembic_version")).scalar()
        assert head is not None
    finally:
        db.dispose()


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    Database(database_url).dispose()
    db = Database(database_url)
    try:
        assert set(inspect(db.engine).get_table_names()) >= EXPECTED_TABLES
    finally:
        db.dispose()


def test_schema_matches_the_models(database: Database) -> None:
    """Autogenerate finds nothing to do: the migrations and the models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from threatfeed.store.models import Base

    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_0006_renders_the_served_document_of_existing_entries(database_url: str) -> None:
    import json
    from datetime import UTC, datetime
    from typing import cast

    from sqlalchemy import Table, insert, select

    from threatfeed.store.models import FeedEntry, Package

    packages, entries = cast(Table, Package.__table__), cast(Table, FeedEntry.__table__)

    db = Database(database_url, migrate=False)
    try:
        db.migrate("0005")
        hashes = [{"archive": "x-1.0.0.tgz", "hash": "ab" * 32, "type": "SHA256"}]
        with db.engine.begin() as connection:
            inserted = connection.execute(
                insert(packages).values(
                    ecosystem="npm",
                    name="x",
                    version="1.0.0",
                    seen_at=datetime(2024, 1, 1, tzinfo=UTC),
                    registry_state="published",
                )
            ).inserted_primary_key
            assert inserted is not None
            package = inserted[0]
            connection.execute(
                insert(entries).values(
                    package_id=package,
                    ecosystem="npm",
                    name="x",
                    version="1.0.0",
                    created=datetime(2023, 7, 31, 0, 52, 9, tzinfo=UTC),
                    hashes=hashes,
                    indicators={"trivial_package_rule": True},
                    added_at=datetime(2024, 1, 1, tzinfo=UTC),
                )
            )
        db.migrate()
        with db.engine.connect() as connection:
            document = connection.execute(select(FeedEntry.__table__.c.document)).scalar_one()
        assert json.loads(document) == {
            "created": "Mon, 31 Jul 2023 00:52:09 GMT",
            "ecosystem": "npm",
            "hashes": hashes,
            "indicators": {"trivial_package_rule": True},
            "name": "x",
            "version": "1.0.0",
        }
    finally:
        db.dispose()
