"""Space with valid time in each GiST, and a geography one for nearest in sphere order.

- `{layer}_geom_idx` becomes GiST (geom, valid): a bbox read of the current (or an as-of)
  city checks the instant in the same index scan, instead of AND-ing a bitmap of every
  current row from the time index (96 of 114 ms for a page over 1M pipes).
- `{layer}_geog_idx`, GiST (geom::geography, valid): `/lbs/nearest` walks it
  (`geom::geography <-> point`) so its candidates come in near-geodesic order; the planar
  index's degrees stretch east-west and, far from the features, let thousands of rows into
  the exact re-rank.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

LAYERS = (
    "districts",
    "population",
    "logistics_parks",
    "roads",
    "pipelines",
    "pipe_nodes",
    "service_connections",
    "sensors",
    "base_stations",
    "sectors",
    "scenic_sites",
    "shelters",
    "hazard_sources",
    "protected_targets",
    "emergency_resources",
    "owners",
    "hazard_zones",
    "incidents",
)


def upgrade() -> None:
    for t in LAYERS:
        op.drop_index(f"{t}_geom_idx", table_name=t, schema="city")
        op.create_index(
            f"{t}_geom_idx", t, ["geom", "valid"], schema="city", postgresql_using="gist"
        )
        op.create_index(
            f"{t}_geog_idx",
            t,
            [sa.text("(geom::geography)"), "valid"],
            schema="city",
            postgresql_using="gist",
        )


def downgrade() -> None:
    for t in LAYERS:
        op.drop_index(f"{t}_geog_idx", table_name=t, schema="city")
        op.drop_index(f"{t}_geom_idx", table_name=t, schema="city")
        op.create_index(f"{t}_geom_idx", t, ["geom"], schema="city", postgresql_using="gist")
