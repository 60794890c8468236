"""Terrain: `dem_tiles`, a DEM as PostGIS raster tiles (postgis_raster), for coverage paths.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis_raster")
    op.create_table(
        "dem_tiles",
        sa.Column("tile_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "rast",
            geoalchemy2.types.Raster(spatial_index=False, from_text="raster", name="raster"),
            nullable=False,
        ),
        sa.Column("epsg", sa.Integer(), nullable=False, comment="CRS of the raster (metres)"),
        sa.Column(
            "extent",
            geoalchemy2.types.Geometry(
                geometry_type="POLYGON",
                srid=4490,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=False,
            comment="The tile's outline in storage lon/lat",
        ),
        sa.Column(
            "load_id", sa.BigInteger(), nullable=False, comment="city.load_runs row that wrote it"
        ),
        sa.PrimaryKeyConstraint("tile_id"),
        schema="city",
        comment="Ground heights (DEM), metres, as raster tiles: terrain for coverage",
    )
    op.create_index(
        "dem_tiles_extent_idx",
        "dem_tiles",
        ["extent"],
        unique=False,
        schema="city",
        postgresql_using="gist",
    )


def downgrade() -> None:
    op.drop_index("dem_tiles_extent_idx", table_name="dem_tiles", schema="city")
    op.drop_table("dem_tiles", schema="city")
