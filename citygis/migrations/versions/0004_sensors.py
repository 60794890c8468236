"""Network sensors (a catalog layer) and their readings (a time series).

Generated from the layer catalog by `citygis db revision` (alembic autogenerate), then given
the valid-time objects autogenerate does not know.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa
import geoalchemy2
from sqlalchemy.dialects import postgresql

from citygis.migrations.versioning import create_versioning, drop_versioning

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sensor_readings",
        sa.Column("sensor_id", sa.Text(), nullable=False, comment="asset_id of the sensor"),
        sa.Column("observed_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("value", sa.Double(), nullable=False, comment="In the sensor's unit"),
        sa.Column(
            "load_id", sa.BigInteger(), nullable=True, comment="city.load_runs row that wrote it"
        ),
        sa.CheckConstraint(
            "value NOT IN ('NaN', 'Infinity', '-Infinity')", name="sensor_readings_value_finite"
        ),
        sa.PrimaryKeyConstraint("sensor_id", "observed_at"),
        schema="city",
        comment="Readings of city.sensors (time series of the pipe-network monitoring)",
    )
    op.create_table(
        "sensors",
        sa.Column("version_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "asset_id", sa.Text(), nullable=False, comment="Stable id of the asset across versions"
        ),
        sa.Column(
            "valid",
            postgresql.TSTZRANGE(),
            server_default=sa.text("tstzrange(now(), NULL)"),
            nullable=False,
            comment="Valid time of this version: [from, to)",
        ),
        sa.Column("utility", sa.Text(), nullable=False, comment="Utility"),
        sa.Column("sensor_kind", sa.Text(), nullable=False, comment="Measures"),
        sa.Column("unit", sa.Text(), nullable=False, comment="Unit of the readings"),
        sa.Column("node_id", sa.Text(), nullable=True, comment="Pipe node it is mounted on"),
        sa.Column("owner", sa.Text(), nullable=True, comment="Owner"),
        sa.Column("install_date", sa.Date(), nullable=True, comment="Install date"),
        sa.Column("status", sa.Text(), nullable=True, comment="Status"),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Text(),
            nullable=True,
            comment="Where this version came from (file, load id)",
        ),
        sa.Column(
            "recorded_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="Transaction time the version was written",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("hashtextextended(asset_id, 0)"), "="),
            (sa.column("asset_id"), "="),
            (sa.column("valid"), "&&"),
            using="gist",
            name="sensors_no_overlap",
        ),
        sa.CheckConstraint(
            "sensor_kind IN ('pressure', 'flow', 'level', 'gas_concentration', 'temperature', 'leak_noise')",
            name="sensors_sensor_kind_choice",
        ),
        sa.CheckConstraint(
            "status IN ('in_service', 'faulty', 'removed', 'planned')", name="sensors_status_choice"
        ),
        sa.CheckConstraint(
            "utility IN ('water', 'drainage', 'gas', 'heating', 'telecom', 'power')",
            name="sensors_utility_choice",
        ),
        sa.CheckConstraint("NOT isempty(valid)", name="sensors_valid_not_empty"),
        sa.CheckConstraint("ST_IsValid(geom)", name="sensors_geom_valid"),
        sa.PrimaryKeyConstraint("version_id"),
        schema="city",
        comment="Network sensors (管网监测点). Monitoring points of the pipe networks (智慧管网): pressure, flow, level, gas and leak sensors, usually mounted on a pipe node. Their readings are a time series (city.sensor_readings, /collections/sensors/items/{id}/readings).",
    )
    op.create_index("sensors_asset_idx", "sensors", ["asset_id"], unique=False, schema="city")
    op.create_index(
        "sensors_geom_idx",
        "sensors",
        ["geom"],
        unique=False,
        schema="city",
        postgresql_using="gist",
    )
    op.create_index(
        "sensors_valid_idx",
        "sensors",
        ["valid"],
        unique=False,
        schema="city",
        postgresql_using="gist",
    )
    op.create_index(
        "sensor_readings_time_idx",
        "sensor_readings",
        ["observed_at"],
        unique=False,
        schema="city",
        postgresql_using="brin",
    )
    create_versioning("sensors")


def downgrade() -> None:
    drop_versioning("sensors")
    op.drop_table("sensors", schema="city")
    op.drop_table("sensor_readings", schema="city")
