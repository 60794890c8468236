"""Saved analysis results: city.results and their features, city.result_features.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "results",
        sa.Column(
            "id", postgresql.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("kind", sa.Text(), nullable=False, comment="buffer, overlay, nearest, route…"),
        sa.Column(
            "params", postgresql.JSONB(), nullable=False, comment="The request that produced it"
        ),
        sa.Column(
            "restricted",
            sa.Boolean(),
            server_default=sa.text("false"),
            nullable=False,
            comment="Derived from a restricted layer: only token holders may read it",
        ),
        sa.Column("feature_count", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        schema="city",
        comment="Saved analysis results (temporary layers); gone after expires_at",
    )
    op.create_index("results_expires_idx", "results", ["expires_at"], schema="city")
    op.create_table(
        "result_features",
        sa.Column("result_id", postgresql.UUID(), nullable=False),
        sa.Column("fid", sa.Integer(), nullable=False),
        sa.Column("properties", postgresql.JSONB(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="GEOMETRY",
                srid=4490,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(["result_id"], ["city.results.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("result_id", "fid"),
        schema="city",
        comment="Features of saved results, in storage CRS",
    )
    op.create_index(
        "result_features_geom_idx",
        "result_features",
        ["geom"],
        schema="city",
        postgresql_using="gist",
    )


def downgrade() -> None:
    op.drop_table("result_features", schema="city")
    op.drop_table("results", schema="city")
