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
