"""The database: schema, engine and migrations."""

from threatfeed.store.db import Database

__all__ = ["Database"]
