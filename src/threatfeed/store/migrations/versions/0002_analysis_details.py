"""analyses keep where each indicator was seen and the archive's file list

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("analyses") as batch:
        batch.add_column(sa.Column("locations", _JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("files", _JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("analyses") as batch:
        batch.drop_column("files")
        batch.drop_column("locations")
