"""The catalog drives the schema: every layer has its table, typed columns, checks and views."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from layers import ALL_LAYERS, AttrType, Catalog, LayerNotFound, LayerSpec
from layers.tables import SCHEMA, build_metadata
from tests.support.factories import insert_sql, sample_row

PG_TYPES = {
    AttrType.text: "text",
    AttrType.integer: "integer",
    AttrType.real: "double precision",
    AttrType.boolean: "boolean",
    AttrType.date: "date",
    AttrType.timestamp: "timestamp with time zone",
}
LAYER_IDS = [spec.id for spec in ALL_LAYERS]


def test_catalog_has_the_platform_layers():
    assert set(LAYER_IDS) == {
        "districts",
        "pipelines",
        "pipe_nodes",
        "base_stations",
        "sectors",
        "scenic_sites",
        "logistics_parks",
        "roads",
        "incidents",
        "shelters",
        "hazard_sources",
        "protected_targets",
        "sensors",
        "population",
        "emergency_resources",
        "owners",
        "service_connections",
        "hazard_zones",
    }
    catalog = Catalog()
    assert catalog["pipelines"].access == "restricted"
    assert catalog["pipelines"].postgis_type == "LINESTRINGZ"
    assert catalog["sectors"].attribute("azimuth_deg").maximum == 360
    with pytest.raises(LayerNotFound, match="unknown layer 'nope'"):
        catalog["nope"]


def test_style_must_name_real_attributes():
    spec = Catalog()["roads"]
    data = spec.model_dump()
    data["style"]["color_by"] = "no_such_column"
    with pytest.raises(ValueError, match="unknown"):
        LayerSpec.model_validate(data)


def test_migrations_match_the_catalog(engine):
    """Alembic finds nothing to change: head is exactly what the catalog declares."""
    with engine.connect() as c:
        ctx = MigrationContext.configure(
            c,
            opts={
                "include_schemas": True,
                "version_table_schema": SCHEMA,
                "include_object": lambda o, n, t, r, ct: (
                    getattr(o, "schema", SCHEMA) == SCHEMA if t == "table" else True
                ),
            },
        )
        diff = compare_metadata(ctx, build_metadata(ALL_LAYERS))
    assert diff == []


@pytest.mark.parametrize("layer_id", LAYER_IDS)
def test_table_columns_and_geometry(conn, layer_id):
    spec = Catalog()[layer_id]
    cols = dict(
        conn.execute(
            text(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = :s AND table_name = :t"
            ),
            {"s": SCHEMA, "t": layer_id},
        ).all()
    )
    for attr in spec.attributes:
        assert cols[attr.name] == PG_TYPES[attr.type], attr.name
    assert cols["valid"] == "tstzrange"
    geom = conn.execute(
        text(
            "SELECT type, srid, coord_dimension FROM geometry_columns "
            "WHERE f_table_schema = :s AND f_table_name = :t"
        ),
        {"s": SCHEMA, "t": layer_id},
    ).one()
    assert tuple(geom) == (spec.geometry_type.upper(), 4490, spec.dimension)
    # The valid-time objects exist for every layer.
    assert (
        conn.execute(text("SELECT to_regclass(:v)"), {"v": f"{SCHEMA}.{layer_id}_current"}).scalar()
        is not None
    )
    assert (
        conn.execute(
            text("SELECT to_regprocedure(:f)"), {"f": f"{SCHEMA}.{layer_id}_as_of(timestamptz)"}
        ).scalar()
        is not None
    )


@pytest.mark.parametrize("layer_id", LAYER_IDS)
def test_a_valid_row_goes_in_and_reads_back(conn, layer_id):
    spec = Catalog()[layer_id]
    row = sample_row(spec)
    conn.execute(text(insert_sql(spec, row)), row)
    got = conn.execute(
        text(
            f"SELECT asset_id, upper_inf(valid), ST_AsEWKT(geom) = ST_AsEWKT(ST_GeomFromEWKT(:g)),"
            f" ST_NDims(geom) FROM city.{layer_id}_current"
        ),
        {"g": row["geom"]},
    ).one()
    assert tuple(got) == ("A1", True, True, spec.dimension)


WITH_CHOICES = [s.id for s in ALL_LAYERS if any(a.choices for a in s.attributes)]


@pytest.mark.parametrize("layer_id", WITH_CHOICES)
def test_database_refuses_values_outside_the_catalog(conn, layer_id):
    spec = Catalog()[layer_id]
    attr = next(a for a in spec.attributes if a.choices)
    row = sample_row(spec) | {attr.name: "not-a-choice"}
    with pytest.raises(IntegrityError, match=f"{layer_id}_{attr.name}_choice"):
        conn.execute(text(insert_sql(spec, row)), row)


@pytest.mark.parametrize(
    ("layer_id", "column", "value", "constraint"),
    [
        ("sectors", "azimuth_deg", 400.0, "sectors_azimuth_deg_max"),
        ("pipelines", "depth_start_m", -0.5, "pipelines_depth_start_m_min"),
        ("pipelines", "diameter_mm", 0.0, "pipelines_diameter_mm_min"),  # exclusive minimum
        ("shelters", "capacity", -1, "shelters_capacity_min"),
    ],
)
def test_ranges_are_enforced(conn, layer_id, column, value, constraint):
    spec = Catalog()[layer_id]
    row = sample_row(spec) | {column: value}
    with pytest.raises(IntegrityError, match=constraint):
        conn.execute(text(insert_sql(spec, row)), row)


def test_invalid_geometry_is_refused(conn):
    spec = Catalog()["districts"]
    bowtie = "SRID=4490;MULTIPOLYGON(((120 36,121 37,121 36,120 37,120 36)))"
    row = sample_row(spec) | {"geom": bowtie}
    with pytest.raises(IntegrityError, match="districts_geom_valid"):
        conn.execute(text(insert_sql(spec, row)), row)
