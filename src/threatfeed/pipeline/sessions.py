"""The pipeline's transactions, which need not wait for PostgreSQL to flush its log.

Every piece of the pipeline's state (cursors, jobs, results) lives in this one
database, so a PostgreSQL crash that loses the last few asynchronously committed
transactions loses them together and in commit order: cursors go back with the
jobs they produced, jobs go back to queued or leased with their results, and the
work is simply done again. Nothing is lost and nothing is done twice, and a
commit no longer waits for a disk flush (tens of milliseconds on a busy disk,
which was most of a job's cost). ``kill -9`` of our own processes is unaffected:
a commit that returned is in the server. On SQLite (WAL, ``synchronous=NORMAL``)
commits already do not wait for the disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

from threatfeed.store import Database


@contextmanager
def work_session(database: Database) -> Iterator[Session]:
    with database.session() as session:
        if database.dialect == "postgresql":
            session.execute(text("SET LOCAL synchronous_commit = off"))
        yield session
