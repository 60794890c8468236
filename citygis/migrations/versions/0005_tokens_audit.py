"""Roles: API tokens stored hashed, the audit log, and results readable by role.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

RESTRICTED_BEFORE = ("pipelines", "pipe_nodes", "sensors", "hazard_sources")


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False, comment="Hex SHA-256 of the token"),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("revoked_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("last_used_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("sha256"),
        schema="city",
        comment="API tokens: only their hash is kept; the token is shown once, at creation",
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("token_name", sa.Text(), nullable=True, comment="NULL: anonymous"),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column(
            "action", sa.Text(), nullable=False, comment="read, create, replace, update, delete…"
        ),
        sa.Column("layer_id", sa.Text(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        schema="city",
        comment="Who wrote what, and who read restricted layers (bbox)",
    )
    op.create_index("audit_at_idx", "audit", ["at"], unique=False, schema="city")
    op.add_column(
        "results",
        sa.Column(
            "sources",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
            comment="Restricted layers whose readers may read it (all of them needed)",
        ),
        schema="city",
    )
    # Results saved under the one shared token could come from any restricted layer.
    op.execute(
        "UPDATE city.results SET sources = ARRAY"
        + repr(list(RESTRICTED_BEFORE))
        + " WHERE restricted"
    )


def downgrade() -> None:
    op.drop_column("results", "sources", schema="city")
    op.drop_index("audit_at_idx", table_name="audit", schema="city")
    op.drop_table("audit", schema="city")
    op.drop_table("tokens", schema="city")
