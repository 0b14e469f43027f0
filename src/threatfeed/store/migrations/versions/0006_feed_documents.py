"""feed entries keep their served JSON; indexes for the ecosystem and name filters

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from threatfeed.feed.reader import item_document
from threatfeed.store.models import FeedEntry

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def _backfill() -> None:
    connection = op.get_bind()
    t = FeedEntry.__table__.c
    rows = connection.execute(
        sa.select(t.id, t.ecosystem, t.name, t.version, t.created, t.hashes, t.indicators)
    )
    update = (
        sa.update(FeedEntry)
        .where(t.id == sa.bindparam("entry_id"))
        .values(document=sa.bindparam("rendered"))
    )
    while batch := rows.fetchmany(_BATCH):
        documents = [{"entry_id": r.id, "rendered": item_document(*r[1:])} for r in batch]
        connection.execute(update, documents)


def upgrade() -> None:
    op.add_column("feed_entries", sa.Column("document", sa.Text(), nullable=True))
    _backfill()
    with op.batch_alter_table("feed_entries") as batch:
        batch.alter_column("document", existing_type=sa.Text(), nullable=False)
    op.create_index("ix_feed_eco_added", "feed_entries", ["ecosystem", "added_at", "id"])
    op.create_index("ix_feed_name_added", "feed_entries", ["name", "added_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_feed_name_added", table_name="feed_entries")
    op.drop_index("ix_feed_eco_added", table_name="feed_entries")
    with op.batch_alter_table("feed_entries") as batch:
        batch.drop_column("document")
