"""triage: verdict authors, the queue index, rules per item, archive fingerprints

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("verdicts") as batch:
        batch.add_column(sa.Column("author", sa.String(length=128), nullable=True))

    op.create_table(
        "triage_items",
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("ecosystem", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("version", sa.String(length=256), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["package_id"], ["packages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("package_id"),
    )
    op.create_index("ix_triage_state_score", "triage_items", ["state", "score", "package_id"])
    op.create_index(
        "ix_triage_state_eco_score", "triage_items", ["state", "ecosystem", "score", "package_id"]
    )

    op.create_table(
        "triage_item_rules",
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["package_id"], ["triage_items.package_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("package_id", "rule"),
    )
    op.create_index("ix_triage_rules_rule", "triage_item_rules", ["rule", "package_id"])

    op.create_table(
        "archive_fingerprints",
        sa.Column("archive_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["archive_id"], ["archives.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["package_id"], ["packages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("archive_id", "digest"),
    )
    op.create_index("ix_fingerprints_digest", "archive_fingerprints", ["digest", "package_id"])


def downgrade() -> None:
    op.drop_index("ix_fingerprints_digest", table_name="archive_fingerprints")
    op.drop_table("archive_fingerprints")
    op.drop_index("ix_triage_rules_rule", table_name="triage_item_rules")
    op.drop_table("triage_item_rules")
    op.drop_index("ix_triage_state_eco_score", table_name="triage_items")
    op.drop_index("ix_triage_state_score", table_name="triage_items")
    op.drop_table("triage_items")
    with op.batch_alter_table("verdicts") as batch:
        batch.drop_column("author")
