"""Extensions, the city schema and the load log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    for ext in ("postgis", "pgrouting", "btree_gist"):
        op.execute(f"CREATE EXTENSION IF NOT EXISTS {ext}")
    op.execute("CREATE SCHEMA IF NOT EXISTS city")
    op.create_table(
        "load_runs",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("layer_id", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_sha256", sa.Text),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column(
            "started_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", postgresql.TIMESTAMP(timezone=True)),
        sa.Column(
            "report", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
        schema="city",
        comment="One row per committed load; the report holds counts and rejects",
    )


def downgrade() -> None:
    op.drop_table("load_runs", schema="city")
