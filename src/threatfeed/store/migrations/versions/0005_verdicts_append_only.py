"""verdicts are append-only: the database refuses to update one

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

The audit trail is the table: a verdict is superseded by a later one, never
edited. The application never updates a verdict; this trigger makes that a
property of the store, whoever writes to it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER verdicts_append_only BEFORE UPDATE ON verdicts "
            "BEGIN SELECT RAISE(ABORT, 'verdicts are append-only'); END"
        )
        return
    op.execute(
        "CREATE FUNCTION verdicts_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'verdicts are append-only'; END; $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER verdicts_append_only BEFORE UPDATE ON verdicts "
        "FOR EACH ROW EXECUTE FUNCTION verdicts_append_only()"
    )


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS verdicts_append_only"
        + ("" if op.get_bind().dialect.name == "sqlite" else " ON verdicts")
    )
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS verdicts_append_only()")
