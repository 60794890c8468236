"""Three catalog layers: population (people for impact and coverage), emergency_resources
(responders and what they hold) and owners (whom a dig report says to call).

Generated from the layer catalog by `citygis db revision` (alembic autogenerate), then given
the valid-time and transaction-time objects and the API role's rights.

Revision ID: 0009
Revises: 0008
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

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


LAYERS = ("emergency_resources", "owners", "population")

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
        "emergency_resources",
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
        sa.Column("name", sa.Text(), nullable=False, comment="Name"),
        sa.Column("kind", sa.Text(), nullable=False, comment="Kind"),
        sa.Column("vehicles", sa.Integer(), nullable=True, comment="Vehicles"),
        sa.Column("staff", sa.Integer(), nullable=True, comment="Staff"),
        sa.Column("beds", sa.Integer(), nullable=True, comment="Beds"),
        sa.Column("holds", sa.Text(), nullable=True, comment="Holds"),
        sa.Column("phone", sa.Text(), nullable=True, comment="Phone"),
        sa.Column("owner", sa.Text(), nullable=True, comment="Owner"),
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
            name="emergency_resources_no_overlap",
        ),
        sa.CheckConstraint(
            "kind IN ('fire_station', 'hospital', 'police', 'ambulance', 'rescue_team', 'hazmat_team', 'supply_depot', 'other')",
            name="emergency_resources_kind_choice",
        ),
        sa.CheckConstraint(
            "status IN ('in_service', 'out_of_service')", name="emergency_resources_status_choice"
        ),
        sa.CheckConstraint("NOT isempty(valid)", name="emergency_resources_valid_not_empty"),
        sa.CheckConstraint("ST_IsValid(geom)", name="emergency_resources_geom_valid"),
        sa.CheckConstraint("beds >= 0", name="emergency_resources_beds_min"),
        sa.CheckConstraint("staff >= 0", name="emergency_resources_staff_min"),
        sa.CheckConstraint("vehicles >= 0", name="emergency_resources_vehicles_min"),
        sa.PrimaryKeyConstraint("version_id"),
        schema="city",
        comment="Emergency resources (应急资源). Responders and supplies: the nearest by road time, around a hazard zone, are what /analysis/responders sends.",
    )
    op.create_index(
        "emergency_resources_asset_idx",
        "emergency_resources",
        ["asset_id"],
        unique=False,
        schema="city",
    )
    op.create_index(
        "emergency_resources_geom_idx",
        "emergency_resources",
        ["geom"],
        unique=False,
        schema="city",
        postgresql_using="gist",
    )
    op.create_index(
        "emergency_resources_valid_idx",
        "emergency_resources",
        ["valid"],
        unique=False,
        schema="city",
        postgresql_using="gist",
    )
    op.create_table(
        "emergency_resources_history",
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
        sa.Column("name", sa.Text(), nullable=False, comment="Name"),
        sa.Column("kind", sa.Text(), nullable=False, comment="Kind"),
        sa.Column("vehicles", sa.Integer(), nullable=True, comment="Vehicles"),
        sa.Column("staff", sa.Integer(), nullable=True, comment="Staff"),
        sa.Column("beds", sa.Integer(), nullable=True, comment="Beds"),
        sa.Column("holds", sa.Text(), nullable=True, comment="Holds"),
        sa.Column("phone", sa.Text(), nullable=True, comment="Phone"),
        sa.Column("owner", sa.Text(), nullable=True, comment="Owner"),
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
            nullable=False,
            comment="Transaction time the version was written",
        ),
        schema="city",
        comment="Superseded row states of city.emergency_resources (transaction-time history)",
    )
    op.create_index(
        "emergency_resources_history_asset_idx",
        "emergency_resources_history",
        ["asset_id"],
        unique=False,
        schema="city",
    )
    op.create_index(
        "emergency_resources_history_superseded_idx",
        "emergency_resources_history",
        ["superseded_at"],
        unique=False,
        schema="city",
    )
    op.create_table(
        "owners",
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
        sa.Column("name", sa.Text(), nullable=False, comment="Name"),
        sa.Column("utility", sa.Text(), nullable=True, comment="Utilities"),
        sa.Column("phone_24h", sa.Text(), nullable=False, comment="24-hour phone"),
        sa.Column("email", sa.Text(), nullable=True, comment="Email"),
        sa.Column("contact", sa.Text(), nullable=True, comment="Contact person"),
        sa.Column("address", sa.Text(), nullable=True, comment="Address"),
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
            name="owners_no_overlap",
        ),
        sa.CheckConstraint("NOT isempty(valid)", name="owners_valid_not_empty"),
        sa.CheckConstraint("ST_IsValid(geom)", name="owners_geom_valid"),
        sa.PrimaryKeyConstraint("version_id"),
        schema="city",
        comment="Asset owners (管线权属单位). Utilities and operators that own network assets, with their 24-hour line; an asset's `owner` attribute names one of these by `name`. The point is the office.",
    )
    op.create_index("owners_asset_idx", "owners", ["asset_id"], unique=False, schema="city")
    op.create_index(
        "owners_geom_idx", "owners", ["geom"], unique=False, schema="city", postgresql_using="gist"
    )
    op.create_index(
        "owners_valid_idx",
        "owners",
        ["valid"],
        unique=False,
        schema="city",
        postgresql_using="gist",
    )
    op.create_table(
        "owners_history",
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
        sa.Column("name", sa.Text(), nullable=False, comment="Name"),
        sa.Column("utility", sa.Text(), nullable=True, comment="Utilities"),
        sa.Column("phone_24h", sa.Text(), nullable=False, comment="24-hour phone"),
        sa.Column("email", sa.Text(), nullable=True, comment="Email"),
        sa.Column("contact", sa.Text(), nullable=True, comment="Contact person"),
        sa.Column("address", sa.Text(), nullable=True, comment="Address"),
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
            nullable=False,
            comment="Transaction time the version was written",
        ),
        schema="city",
        comment="Superseded row states of city.owners (transaction-time history)",
    )
    op.create_index(
        "owners_history_asset_idx", "owners_history", ["asset_id"], unique=False, schema="city"
    )
    op.create_index(
        "owners_history_superseded_idx",
        "owners_history",
        ["superseded_at"],
        unique=False,
        schema="city",
    )
    op.create_table(
        "population",
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
        sa.Column("people", sa.Double(), nullable=False, comment="People"),
        sa.Column("basis", sa.Text(), nullable=True, comment="Basis"),
        sa.Column("source_name", sa.Text(), nullable=True, comment="Source"),
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
            name="population_no_overlap",
        ),
        sa.CheckConstraint(
            "basis IN ('residents', 'daytime', 'nighttime')", name="population_basis_choice"
        ),
        sa.CheckConstraint("NOT isempty(valid)", name="population_valid_not_empty"),
        sa.CheckConstraint("ST_IsValid(geom)", name="population_geom_valid"),
        sa.CheckConstraint("people >= 0", name="population_people_min"),
        sa.PrimaryKeyConstraint("version_id"),
        schema="city",
        comment="Population (人口分布). People per grid cell or polygon (e.g. a WorldPop GeoTIFF, loaded as one cell per pixel). A part of a cell counts its share of the people by area.",
    )
    op.create_index("population_asset_idx", "population", ["asset_id"], unique=False, schema="city")
    op.create_index(
        "population_geom_idx",
        "population",
        ["geom"],
        unique=False,
        schema="city",
        postgresql_using="gist",
    )
    op.create_index(
        "population_valid_idx",
        "population",
        ["valid"],
        unique=False,
        schema="city",
        postgresql_using="gist",
    )
    op.create_table(
        "population_history",
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
        sa.Column("people", sa.Double(), nullable=False, comment="People"),
        sa.Column("basis", sa.Text(), nullable=True, comment="Basis"),
        sa.Column("source_name", sa.Text(), nullable=True, comment="Source"),
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
        comment="Superseded row states of city.population (transaction-time history)",
    )
    op.create_index(
        "population_history_asset_idx",
        "population_history",
        ["asset_id"],
        unique=False,
        schema="city",
    )
    op.create_index(
        "population_history_superseded_idx",
        "population_history",
        ["superseded_at"],
        unique=False,
        schema="city",
    )
    op.create_table(
        "emergency_resources_scenario",
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
        sa.Column("name", sa.Text(), nullable=False, comment="Name"),
        sa.Column("kind", sa.Text(), nullable=False, comment="Kind"),
        sa.Column("vehicles", sa.Integer(), nullable=True, comment="Vehicles"),
        sa.Column("staff", sa.Integer(), nullable=True, comment="Staff"),
        sa.Column("beds", sa.Integer(), nullable=True, comment="Beds"),
        sa.Column("holds", sa.Text(), nullable=True, comment="Holds"),
        sa.Column("phone", sa.Text(), nullable=True, comment="Phone"),
        sa.Column("owner", sa.Text(), nullable=True, comment="Owner"),
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
            nullable=False,
            comment="Transaction time the version was written",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("hashtextextended(asset_id, 0)"), "="),
            (sa.column("scenario_id"), "="),
            (sa.column("asset_id"), "="),
            (sa.column("valid"), "&&"),
            using="gist",
            name="emergency_resources_scenario_no_overlap",
        ),
        sa.CheckConstraint("op IN ('put', 'delete')", name="emergency_resources_scenario_op"),
        sa.ForeignKeyConstraint(["scenario_id"], ["city.scenarios.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        schema="city",
        comment="Scenario edits of city.emergency_resources",
    )
    op.create_index(
        "emergency_resources_scenario_asset_idx",
        "emergency_resources_scenario",
        ["scenario_id", "asset_id"],
        unique=False,
        schema="city",
    )
    op.create_table(
        "owners_scenario",
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
        sa.Column("name", sa.Text(), nullable=False, comment="Name"),
        sa.Column("utility", sa.Text(), nullable=True, comment="Utilities"),
        sa.Column("phone_24h", sa.Text(), nullable=False, comment="24-hour phone"),
        sa.Column("email", sa.Text(), nullable=True, comment="Email"),
        sa.Column("contact", sa.Text(), nullable=True, comment="Contact person"),
        sa.Column("address", sa.Text(), nullable=True, comment="Address"),
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
            nullable=False,
            comment="Transaction time the version was written",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("hashtextextended(asset_id, 0)"), "="),
            (sa.column("scenario_id"), "="),
            (sa.column("asset_id"), "="),
            (sa.column("valid"), "&&"),
            using="gist",
            name="owners_scenario_no_overlap",
        ),
        sa.CheckConstraint("op IN ('put', 'delete')", name="owners_scenario_op"),
        sa.ForeignKeyConstraint(["scenario_id"], ["city.scenarios.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        schema="city",
        comment="Scenario edits of city.owners",
    )
    op.create_index(
        "owners_scenario_asset_idx",
        "owners_scenario",
        ["scenario_id", "asset_id"],
        unique=False,
        schema="city",
    )
    op.create_table(
        "population_scenario",
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
        sa.Column("people", sa.Double(), nullable=False, comment="People"),
        sa.Column("basis", sa.Text(), nullable=True, comment="Basis"),
        sa.Column("source_name", sa.Text(), nullable=True, comment="Source"),
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
            name="population_scenario_no_overlap",
        ),
        sa.CheckConstraint("op IN ('put', 'delete')", name="population_scenario_op"),
        sa.ForeignKeyConstraint(["scenario_id"], ["city.scenarios.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        schema="city",
        comment="Scenario edits of city.population",
    )
    op.create_index(
        "population_scenario_asset_idx",
        "population_scenario",
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
    op.drop_index("population_scenario_asset_idx", table_name="population_scenario", schema="city")
    op.drop_table("population_scenario", schema="city")
    op.drop_index("owners_scenario_asset_idx", table_name="owners_scenario", schema="city")
    op.drop_table("owners_scenario", schema="city")
    op.drop_index(
        "emergency_resources_scenario_asset_idx",
        table_name="emergency_resources_scenario",
        schema="city",
    )
    op.drop_table("emergency_resources_scenario", schema="city")
    op.drop_index(
        "population_history_superseded_idx", table_name="population_history", schema="city"
    )
    op.drop_index("population_history_asset_idx", table_name="population_history", schema="city")
    op.drop_table("population_history", schema="city")
    op.drop_index(
        "population_valid_idx", table_name="population", schema="city", postgresql_using="gist"
    )
    op.drop_index(
        "population_geom_idx", table_name="population", schema="city", postgresql_using="gist"
    )
    op.drop_index("population_asset_idx", table_name="population", schema="city")
    op.drop_table("population", schema="city")
    op.drop_index("owners_history_superseded_idx", table_name="owners_history", schema="city")
    op.drop_index("owners_history_asset_idx", table_name="owners_history", schema="city")
    op.drop_table("owners_history", schema="city")
    op.drop_index("owners_valid_idx", table_name="owners", schema="city", postgresql_using="gist")
    op.drop_index("owners_geom_idx", table_name="owners", schema="city", postgresql_using="gist")
    op.drop_index("owners_asset_idx", table_name="owners", schema="city")
    op.drop_table("owners", schema="city")
    op.drop_index(
        "emergency_resources_history_superseded_idx",
        table_name="emergency_resources_history",
        schema="city",
    )
    op.drop_index(
        "emergency_resources_history_asset_idx",
        table_name="emergency_resources_history",
        schema="city",
    )
    op.drop_table("emergency_resources_history", schema="city")
    op.drop_index(
        "emergency_resources_valid_idx",
        table_name="emergency_resources",
        schema="city",
        postgresql_using="gist",
    )
    op.drop_index(
        "emergency_resources_geom_idx",
        table_name="emergency_resources",
        schema="city",
        postgresql_using="gist",
    )
    op.drop_index("emergency_resources_asset_idx", table_name="emergency_resources", schema="city")
    op.drop_table("emergency_resources", schema="city")
