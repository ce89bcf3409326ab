"""The workspace's identity: a token made once, when the workspace is made (see ``Store.identity``).

``geo_workspace``: key and value; the store puts the row ``identity`` in when it first opens the
workspace. ETags name it, so that a workspace dropped and made again (its layers' versions counted
from 0 again) never answers 304 to a validator the old one gave.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "geo_workspace",
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_geo_workspace"),
    )


def downgrade() -> None:
    op.drop_table("geo_workspace")
