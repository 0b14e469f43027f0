"""jobs: a partial index of the active jobs in id order, so a claim reads only those

A claim takes the oldest due jobs. Through ``ix_jobs_state_run_after`` it had to
sort every due job, and with planner statistics SQLite scanned the whole table,
done jobs included (24 h of them under the default retention): a claim's cost
grew with the table. This index holds only queued and running jobs, in id order,
so a claim reads them until it has its batch, whatever the number of done jobs.
It holds every column a claim tests: without it (a partial index of ids alone),
SQLite with statistics still preferred scanning the table in rowid order.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = "state IN ('queued', 'running')"


def upgrade() -> None:
    op.create_index(
        "ix_jobs_active_id",
        "jobs",
        ["id", "state", "run_after", "lease_until", "attempts", "max_attempts"],
        sqlite_where=sa.text(_ACTIVE),
        postgresql_where=sa.text(_ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_active_id", table_name="jobs")
