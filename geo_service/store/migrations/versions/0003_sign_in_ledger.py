"""Failed sign-ins counted in the database, so that every worker of the service shares the counts.

``geo_sign_in_streaks``: per (user name, client address), the failures in a row and the last one's
time; ``geo_sign_in_failures``: each failure's address and time, for the per-address cap (see
``geo_service.auth.throttle``). Times are seconds since 1970.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "geo_sign_in_streaks" not in present:  # (the accounts store may have made them already)
        op.create_table(
            "geo_sign_in_streaks",
            sa.Column("name", sa.String(128), nullable=False),
            sa.Column("client", sa.String(64), nullable=False),
            sa.Column("count", sa.Integer, nullable=False),
            sa.Column("last", sa.Float, nullable=False),
            sa.PrimaryKeyConstraint("name", "client", name="pk_geo_sign_in_streaks"),
        )
    if "geo_sign_in_failures" not in present:
        op.create_table(
            "geo_sign_in_failures",
            sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
            sa.Column("client", sa.String(64), nullable=False),
            sa.Column("at", sa.Float, nullable=False),
            sa.PrimaryKeyConstraint("id", name="pk_geo_sign_in_failures"),
        )
        op.create_index("ix_geo_sign_in_failures_client", "geo_sign_in_failures", ["client"])
        op.create_index("ix_geo_sign_in_failures_at", "geo_sign_in_failures", ["at"])


def downgrade() -> None:
    op.drop_table("geo_sign_in_failures")
    op.drop_table("geo_sign_in_streaks")
