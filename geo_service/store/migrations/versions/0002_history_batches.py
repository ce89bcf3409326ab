"""History: one row may stand for the creates of a whole batch (``fid`` .. ``last_fid``).

A large import records its creates as one row with the batch's first and last feature id and no
``after``; the store's history expands it into one change per feature (see
``geo_service.store.postgis.bulk.record_batch_create``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("geo_history", sa.Column("last_fid", sa.BigInteger))
    op.create_index(
        "ix_geo_history_batches",
        "geo_history",
        ["layer", "fid", "last_fid"],
        postgresql_where=sa.text("last_fid IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_geo_history_batches", table_name="geo_history")
    op.drop_column("geo_history", "last_fid")
