"""Renewals: `replaces` on pipelines and pipe nodes links a new asset to the one it renewed.

The column goes on the layer, its transaction-time history and its scenario edits (the
history trigger copies rows by position, so both gain it last), with an index for walking
forward from an asset to what replaced it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from citygis.migrations.versioning import (
    create_versioning,
    drop_versioning,
    recreate_recorded,
)

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

LAYERS = ("pipelines", "pipe_nodes")


def upgrade() -> None:
    for t in LAYERS:
        for table in (t, f"{t}_history", f"{t}_scenario"):
            op.add_column(
                table,
                sa.Column("replaces", sa.Text(), nullable=True, comment="Replaces"),
                schema="city",
            )
        op.create_index(f"{t}_replaces_idx", t, ["replaces"], schema="city")
        # The view's `*` and the recorded-time function's columns were fixed when made.
        create_versioning(t)
        recreate_recorded(t)


def downgrade() -> None:
    for t in LAYERS:
        drop_versioning(t)  # the view depends on the column
        op.drop_index(f"{t}_replaces_idx", table_name=t, schema="city")
        for table in (t, f"{t}_history", f"{t}_scenario"):
            op.drop_column(table, "replaces", schema="city")
        create_versioning(t)
        recreate_recorded(t)
