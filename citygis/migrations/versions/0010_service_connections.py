"""A catalog layer: service_connections (who a pipe serves, for /analysis/isolate's
customers out), and pipe_nodes.demand_m3s (a junction's average EPANET demand, to estimate
the people out where there are no connections).

Generated from the layer catalog by `citygis db revision` (alembic autogenerate), then given
the valid-time and transaction-time objects and the API role's rights, as in 0009.

Revision ID: 0010
Revises: 0009
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
    recreate_recorded,
)

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


LAYERS = ("service_connections",)

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

# Added last to the table and to its history alike, so the history trigger's
# `SELECT now(), o.*` still lines the columns up.
DEMAND_TABLES = ("pipe_nodes", "pipe_nodes_history", "pipe_nodes_scenario")


def upgrade() -> None:
    op.create_table(
        "service_connections",
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
        sa.Column("customer_id", sa.Text(), nullable=False, comment="Customer id"),
        sa.Column("kind", sa.Text(), nullable=False, comment="Kind"),
        sa.Column("name", sa.Text(), nullable=True, comment="Name"),
        sa.Column("utility", sa.Text(), nullable=False, comment="Utility"),
        sa.Column("pipe_id", sa.Text(), nullable=True, comment="Pipe"),
        sa.Column("people", sa.Integer(), nullable=True, comment="People"),
        sa.Column("critical_kind", sa.Text(), nullable=True, comment="Critical kind"),
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
            name="service_connections_no_overlap",
        ),
        sa.CheckConstraint(
            "kind IN ('residential', 'commercial', 'critical')",
            name="service_connections_kind_choice",
        ),
        sa.CheckConstraint(
            "utility IN ('water', 'drainage', 'gas', 'heating', 'telecom', 'power')",
            name="service_connections_utility_choice",
        ),
        sa.CheckConstraint("NOT isempty(valid)", name="service_connections_valid_not_empty"),
        sa.CheckConstraint("ST_IsValid(geom)", name="service_connections_geom_valid"),
        sa.CheckConstraint("people >= 0", name="service_connections_people_min"),
        sa.PrimaryKeyConstraint("version_id"),
        schema="city",
        comment="Service connections (供水用户接入点). Customers' service connections: where a building or site takes supply from a pipe (`pipe_id`), with the people it serves and, for critical customers, what they are (hospital, school, care home). An isolation counts those on the stretches it shuts.",
    )
    op.create_index(
        "service_connections_asset_idx",
        "service_connections",
        ["asset_id"],
        unique=False,
        schema="city",
    )
    op.create_index(
        "service_connections_geom_idx",
        "service_connections",
        ["geom"],
        unique=False,
        schema="city",
        postgresql_using="gist",
    )
    op.create_index(
        "service_connections_valid_idx",
        "service_connections",
        ["valid"],
        unique=False,
        schema="city",
        postgresql_using="gist",
    )
    op.create_table(
        "service_connections_history",
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
        sa.Column("customer_id", sa.Text(), nullable=False, comment="Customer id"),
        sa.Column("kind", sa.Text(), nullable=False, comment="Kind"),
        sa.Column("name", sa.Text(), nullable=True, comment="Name"),
        sa.Column("utility", sa.Text(), nullable=False, comment="Utility"),
        sa.Column("pipe_id", sa.Text(), nullable=True, comment="Pipe"),
        sa.Column("people", sa.Integer(), nullable=True, comment="People"),
        sa.Column("critical_kind", sa.Text(), nullable=True, comment="Critical kind"),
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
        comment="Superseded row states of city.service_connections (transaction-time history)",
    )
    op.create_index(
        "service_connections_history_asset_idx",
        "service_connections_history",
        ["asset_id"],
        unique=False,
        schema="city",
    )
    op.create_index(
        "service_connections_history_superseded_idx",
        "service_connections_history",
        ["superseded_at"],
        unique=False,
        schema="city",
    )
    op.create_table(
        "service_connections_scenario",
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
        sa.Column("customer_id", sa.Text(), nullable=False, comment="Customer id"),
        sa.Column("kind", sa.Text(), nullable=False, comment="Kind"),
        sa.Column("name", sa.Text(), nullable=True, comment="Name"),
        sa.Column("utility", sa.Text(), nullable=False, comment="Utility"),
        sa.Column("pipe_id", sa.Text(), nullable=True, comment="Pipe"),
        sa.Column("people", sa.Integer(), nullable=True, comment="People"),
        sa.Column("critical_kind", sa.Text(), nullable=True, comment="Critical kind"),
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
            name="service_connections_scenario_no_overlap",
        ),
        sa.CheckConstraint("op IN ('put', 'delete')", name="service_connections_scenario_op"),
        sa.ForeignKeyConstraint(["scenario_id"], ["city.scenarios.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        schema="city",
        comment="Scenario edits of city.service_connections",
    )
    op.create_index(
        "service_connections_scenario_asset_idx",
        "service_connections_scenario",
        ["scenario_id", "asset_id"],
        unique=False,
        schema="city",
    )
    for t in LAYERS:
        create_versioning(t)
        create_history(t)
        op.execute(RIGHTS.format(t=t))
    for t in DEMAND_TABLES:
        op.add_column(
            t,
            sa.Column("demand_m3s", sa.Double(), nullable=True, comment="Average demand"),
            schema="city",
        )
    op.create_check_constraint(
        "pipe_nodes_demand_m3s_min", "pipe_nodes", "demand_m3s >= 0", schema="city"
    )
    # The view's `*` was expanded when it was made, and the history function lists columns.
    create_versioning("pipe_nodes")
    recreate_recorded("pipe_nodes")


def downgrade() -> None:
    drop_versioning("pipe_nodes")
    for t in reversed(DEMAND_TABLES):
        op.drop_column(t, "demand_m3s", schema="city")
    create_versioning("pipe_nodes")
    recreate_recorded("pipe_nodes")
    for t in LAYERS:
        drop_history(t)
        drop_versioning(t)
    op.drop_index(
        "service_connections_scenario_asset_idx",
        table_name="service_connections_scenario",
        schema="city",
    )
    op.drop_table("service_connections_scenario", schema="city")
    op.drop_index(
        "service_connections_history_superseded_idx",
        table_name="service_connections_history",
        schema="city",
    )
    op.drop_index(
        "service_connections_history_asset_idx",
        table_name="service_connections_history",
        schema="city",
    )
    op.drop_table("service_connections_history", schema="city")
    op.drop_index(
        "service_connections_valid_idx",
        table_name="service_connections",
        schema="city",
        postgresql_using="gist",
    )
    op.drop_index(
        "service_connections_geom_idx",
        table_name="service_connections",
        schema="city",
        postgresql_using="gist",
    )
    op.drop_index("service_connections_asset_idx", table_name="service_connections", schema="city")
    op.drop_table("service_connections", schema="city")
