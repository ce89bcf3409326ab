"""Service tables: feature history, layer versions, documents, users, tokens, audit log.

Layer tables themselves are built from the layer declarations (``layers/*.yaml``) when the store
opens, so a city adds a layer without a migration.

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "geo_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("fid", sa.BigInteger, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("op", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before", JSONB),
        sa.Column("after", JSONB),
        sa.Column("reason", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_geo_history"),
    )
    op.create_index("ix_geo_history_layer_fid", "geo_history", ["layer", "fid"])
    op.create_table(
        "geo_layer_state",
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("layer", name="pk_geo_layer_state"),
    )
    op.create_table(
        "geo_documents",
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name="pk_geo_documents"),
    )
    op.create_table(
        "geo_users",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("crew", sa.String(64)),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_geo_users"),
    )
    op.create_table(
        "geo_tokens",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("label", sa.String(200)),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40)),
        sa.PrimaryKeyConstraint("digest", name="pk_geo_tokens"),
    )
    op.create_index("ix_geo_tokens_user_name", "geo_tokens", ["user_name"])
    op.create_table(
        "geo_audit",
        sa.Column("id", sa.Integer, sa.Identity(), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16)),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_geo_audit"),
    )
    op.create_index("ix_geo_audit_at", "geo_audit", ["at"])


def downgrade() -> None:
    for table in ("geo_audit", "geo_tokens", "geo_users", "geo_documents", "geo_layer_state", "geo_history"):
        op.drop_table(table)
