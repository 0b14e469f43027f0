"""What every command that works on the server's own database needs."""

from __future__ import annotations

import logging

from threatfeed.config import Settings
from threatfeed.store import Database


def open_database() -> tuple[Settings, Database]:
    """The configured database, migrated to the current schema."""
    settings = Settings.from_env()
    return settings, Database(settings.database_url)


def configure_logging(level: str) -> None:
    """Our messages at ``level``; HTTP clients only when something is wrong (one line per request
    at INFO would drown the rest)."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
