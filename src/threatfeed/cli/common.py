"""What every command that works on the server's own database needs."""

from __future__ import annotations

from threatfeed.config import Settings
from threatfeed.store import Database


def open_database() -> tuple[Settings, Database]:
    """The configured database, migrated to the current schema."""
    settings = Settings.from_env()
    return settings, Database(settings.database_url)
