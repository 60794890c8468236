"""Sector radio model: antenna gain, feeder loss, vertical beamwidth, antenna model.

EIRP = power_dbm + antenna_gain_dbi − feeder_loss_db, and the vertical beamwidth shapes the
tilted pattern (TR 38.901 Table 7.3-1): what coverage from a link budget needs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from citygis.migrations.versioning import create_versioning, drop_versioning

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# (column, type, comment, CHECK of the minimum or None, CHECK of the maximum or None)
COLUMNS: tuple[tuple[str, sa.types.TypeEngine, str, str | None, str | None], ...] = (
    ("antenna_gain_dbi", sa.Double(), "Antenna gain", ">= -10", "<= 40"),
    ("feeder_loss_db", sa.Double(), "Feeder loss", ">= 0", "<= 20"),
    ("vertical_beamwidth_deg", sa.Double(), "Vertical beamwidth", "> 0", "<= 180"),
    ("antenna_model", sa.Text(), "Antenna model", None, None),
)


def upgrade() -> None:
    for name, type_, comment, low, high in COLUMNS:
        op.add_column(
            "sectors", sa.Column(name, type_, nullable=True, comment=comment), schema="city"
        )
        for suffix, bound in (("min", low), ("max", high)):
            if bound is not None:
                op.create_check_constraint(
                    f"sectors_{name}_{suffix}", "sectors", f"{name} {bound}", schema="city"
                )
    # The view's `*` was expanded when it was made: remake it so it has the new columns.
    create_versioning("sectors")


def downgrade() -> None:
    drop_versioning("sectors")
    for name, *_ in reversed(COLUMNS):
        op.drop_column("sectors", name, schema="city")
    create_versioning("sectors")
