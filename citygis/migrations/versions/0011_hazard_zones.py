"""A catalog layer: hazard_zones, an incident's recorded hazard zones (one asset per ring),
written by /analysis/hazard-zone with `incident` and `record`.

Written from the layer catalog as `citygis db revision` (alembic autogenerate) writes it,
with the valid-time and transaction-time objects and the API role's rights, as in 0009.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa
import geoalchemy2
from sqlalchemy.dialects import postgresql

from citygis.migrations.versioning import (
    create_history,
    create_versioning,
    drop_history,
    drop_versioning,
)

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


LAYERS = ("hazard_zones",)

# Default privileges (0008) give the API role reads and writes on new tables; as there,
# it may discard scenario edits, and never rewrite history.
RIGHTS = """
DO $do$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'citygis_app') THEN
        GRANT DELETE ON city.{t}_scenario TO citygis_app;
        REVOKE UPDATE ON city.{t}_history FROM citygis_app;
    END IF;
END $do$;
"""


def upgrade() -> None:
    op.create_table(
        "hazard_zones",
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
        sa.Column("incident_id", sa.Text(), nullable=False, comment="Incident"),
        sa.Column("ring", sa.Text(), nullable=False, comment="Ring"),
        sa.Column("ring_index", sa.Integer(), nullable=True, comment="Ring order"),
        sa.Column("preset", sa.Text(), nullable=True, comment="Preset"),
        sa.Column("material", sa.Text(), nullable=True, comment="Material or device"),
        sa.Column("edition", sa.Text(), nullable=True, comment="Table edition"),
        sa.Column("wind_from_deg", sa.Double(), nullable=True, comment="Wind from"),
        sa.Column("distance_m", sa.Double(), nullable=True, comment="Distance"),
        sa.Column("inputs", sa.Text(), nullable=True, comment="Inputs"),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
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
            name="hazard_zones_no_overlap",
        ),
        sa.CheckConstraint(
            "preset IN ('erg', 'erg115', 'bomb', 'custom')", name="hazard_zones_preset_choice"
        ),
        sa.CheckConstraint(
            "ring IN ('isolation', 'protective_action', 'evacuation', 'shelter_in_place', "
            "'downwind_sector')",
            name="hazard_zones_ring_choice",
        ),
        sa.CheckConstraint("NOT isempty(valid)", name="hazard_zones_valid_not_empty"),
        sa.CheckConstraint("ST_IsValid(geom)", name="hazard_zones_geom_valid"),
        sa.CheckConstraint("distance_m >= 0", name="hazard_zones_distance_m_min"),
        sa.CheckConstraint("ring_index >= 1", name="hazard_zones_ring_index_min"),
        sa.CheckConstraint("wind_from_deg <= 360", name="hazard_zones_wind_from_deg_max"),
        sa.CheckConstraint("wind_from_deg >= 0", name="hazard_zones_wind_from_deg_min"),
        sa.PrimaryKeyConstraint("version_id"),
        schema="city",
        comment="Hazard zones (危险区域). An incident's hazard zones as recorded, one per ring (isolation, protective action, evacuation …), each with the table edition and the inputs that drew it; the emergency analyses read them by incident id as of an instant.",
    )
    op.create_index(
        "hazard_zones_asset_idx", "hazard_zones", ["asset_id"], unique=False, schema="city"
    )
    op.create_index(
        "hazard_zones_geom_idx",
        "hazard_zones",
        ["geom"],
        unique=False,
        schema="city",
        postgresql_using="gist",
    )
    op.create_index(
        "hazard_zones_valid_idx",
        "hazard_zones",
        ["valid"],
        unique=False,
        schema="city",
        postgresql_using="gist",
    )
    op.create_table(
        "hazard_zones_history",
        sa.Column(
            "superseded_at",
            postgresql.TIMESTAMP(timezone=True),
            nullable=False,
            comment="Transaction time this row state was replaced",
        ),
        sa.Column("version_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "asset_id", sa.Text(), nullable=False, comment="Stable id of the asset across versions"
        ),
        sa.Column(
            "valid",
            postgresql.TSTZRANGE(),
            nullable=False,
            comment="Valid time of this version: [from, to)",
        ),
        sa.Column("incident_id", sa.Text(), nullable=False, comment="Incident"),
        sa.Column("ring", sa.Text(), nullable=False, comment="Ring"),
        sa.Column("ring_index", sa.Integer(), nullable=True, comment="Ring order"),
        sa.Column("preset", sa.Text(), nullable=True, comment="Preset"),
        sa.Column("material", sa.Text(), nullable=True, comment="Material or device"),
        sa.Column("edition", sa.Text(), nullable=True, comment="Table edition"),
        sa.Column("wind_from_deg", sa.Double(), nullable=True, comment="Wind from"),
        sa.Column("distance_m", sa.Double(), nullable=True, comment="Distance"),
        sa.Column("inputs", sa.Text(), nullable=True, comment="Inputs"),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
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
            nullable=False,
            comment="Transaction time the version was written",
        ),
        schema="city",
        comment="Superseded row states of city.hazard_zones (transaction-time history)",
    )
    op.create_index(
        "hazard_zones_history_asset_idx",
        "hazard_zones_history",
        ["asset_id"],
        unique=False,
        schema="city",
    )
    op.create_index(
        "hazard_zones_history_superseded_idx",
        "hazard_zones_history",
        ["superseded_at"],
        unique=False,
        schema="city",
    )
    op.create_table(
        "hazard_zones_scenario",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("scenario_id", sa.Text(), nullable=False),
        sa.Column("op", sa.Text(), nullable=False, comment="put or delete"),
        sa.Column(
            "base_version_id",
            sa.BigInteger(),
            nullable=True,
            comment="The live version it replaces",
        ),
        sa.Column(
            "asset_id", sa.Text(), nullable=False, comment="Stable id of the asset across versions"
        ),
        sa.Column(
            "valid",
            postgresql.TSTZRANGE(),
            nullable=False,
            comment="Valid time of this version: [from, to)",
        ),
        sa.Column("incident_id", sa.Text(), nullable=False, comment="Incident"),
        sa.Column("ring", sa.Text(), nullable=False, comment="Ring"),
        sa.Column("ring_index", sa.Integer(), nullable=True, comment="Ring order"),
        sa.Column("preset", sa.Text(), nullable=True, comment="Preset"),
        sa.Column("material", sa.Text(), nullable=True, comment="Material or device"),
        sa.Column("edition", sa.Text(), nullable=True, comment="Table edition"),
        sa.Column("wind_from_deg", sa.Double(), nullable=True, comment="Wind from"),
        sa.Column("distance_m", sa.Double(), nullable=True, comment="Distance"),
        sa.Column("inputs", sa.Text(), nullable=True, comment="Inputs"),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
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
            nullable=False,
            comment="Transaction time the version was written",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("hashtextextended(asset_id, 0)"), "="),
            (sa.column("scenario_id"), "="),
            (sa.column("asset_id"), "="),
            (sa.column("valid"), "&&"),
            using="gist",
            name="hazard_zones_scenario_no_overlap",
        ),
        sa.CheckConstraint("op IN ('put', 'delete')", name="hazard_zones_scenario_op"),
        sa.ForeignKeyConstraint(["scenario_id"], ["city.scenarios.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        schema="city",
        comment="Scenario edits of city.hazard_zones",
    )
    op.create_index(
        "hazard_zones_scenario_asset_idx",
        "hazard_zones_scenario",
        ["scenario_id", "asset_id"],
        unique=False,
        schema="city",
    )
    for t in LAYERS:
        create_versioning(t)
        create_history(t)
        op.execute(RIGHTS.format(t=t))


def downgrade() -> None:
    for t in LAYERS:
        drop_history(t)
        drop_versioning(t)
    op.drop_index(
        "hazard_zones_scenario_asset_idx", table_name="hazard_zones_scenario", schema="city"
    )
    op.drop_table("hazard_zones_scenario", schema="city")
    op.drop_index(
        "hazard_zones_history_superseded_idx", table_name="hazard_zones_history", schema="city"
    )
    op.drop_index(
        "hazard_zones_history_asset_idx", table_name="hazard_zones_history", schema="city"
    )
    op.drop_table("hazard_zones_history", schema="city")
    op.drop_index(
        "hazard_zones_valid_idx", table_name="hazard_zones", schema="city", postgresql_using="gist"
    )
    op.drop_index(
        "hazard_zones_geom_idx", table_name="hazard_zones", schema="city", postgresql_using="gist"
    )
    op.drop_index("hazard_zones_asset_idx", table_name="hazard_zones", schema="city")
    op.drop_table("hazard_zones", schema="city")
