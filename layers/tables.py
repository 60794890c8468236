"""SQLAlchemy tables derived from the catalog: one row per asset version."""

from __future__ import annotations

from geoalchemy2 import Geometry, Raster
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    column,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import (
    ARRAY,
    JSONB,
    TIMESTAMP,
    TSTZRANGE,
    UUID,
    ExcludeConstraint,
)
from sqlalchemy.types import TypeEngine

from layers.spec import STORAGE_SRID, Attribute, AttrType, LayerSpec

SCHEMA = "city"

SQL_TYPES: dict[AttrType, type[TypeEngine] | TypeEngine] = {
    AttrType.text: Text,
    AttrType.integer: Integer,
    AttrType.real: Double,
    AttrType.boolean: Boolean,
    AttrType.date: Date,
    AttrType.timestamp: TIMESTAMP(timezone=True),
}


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def attribute_checks(layer_id: str, attr: Attribute) -> list[CheckConstraint]:
    """CHECK constraints so the database itself refuses values the catalog forbids."""
    checks = []
    col = attr.name
    if attr.choices:
        values = ", ".join(_quote_literal(c) for c in attr.choices)
        checks.append(CheckConstraint(f"{col} IN ({values})", name=f"{layer_id}_{col}_choice"))
    if attr.minimum is not None:
        op = ">" if attr.exclusive_minimum else ">="
        checks.append(CheckConstraint(f"{col} {op} {attr.minimum:g}", name=f"{layer_id}_{col}_min"))
    if attr.maximum is not None:
        checks.append(CheckConstraint(f"{col} <= {attr.maximum:g}", name=f"{layer_id}_{col}_max"))
    return checks


def _version_columns(spec: LayerSpec, history: bool) -> list[Column]:
    """A layer version's columns, in table order; the history copy has no identity/defaults."""
    attr_columns = [
        Column(a.name, SQL_TYPES[a.type], nullable=not a.required, comment=a.title)
        for a in spec.attributes
    ]
    return [
        Column("version_id", BigInteger, nullable=False)
        if history
        else Column("version_id", BigInteger, Identity(), primary_key=True),
        Column("asset_id", Text, nullable=False, comment="Stable id of the asset across versions"),
        Column(
            "valid",
            TSTZRANGE,
            nullable=False,
            server_default=None if history else text("tstzrange(now(), NULL)"),
            comment="Valid time of this version: [from, to)",
        ),
        *attr_columns,
        Column(
            "geom",
            Geometry(
                spec.postgis_type,
                srid=spec.storage_srid,
                dimension=spec.dimension,
                spatial_index=False,
            ),
            nullable=False,
        ),
        Column("source", Text, comment="Where this version came from (file, load id)"),
        Column(
            "recorded_at",
            TIMESTAMP(timezone=True),
            nullable=False,
            server_default=None if history else text("now()"),
            comment="Transaction time the version was written",
        ),
    ]


def layer_table(spec: LayerSpec, metadata: MetaData) -> Table:
    checks = [c for a in spec.attributes for c in attribute_checks(spec.id, a)]
    return Table(
        spec.id,
        metadata,
        *_version_columns(spec, history=False),
        CheckConstraint("NOT isempty(valid)", name=f"{spec.id}_valid_not_empty"),
        CheckConstraint("ST_IsValid(geom)", name=f"{spec.id}_geom_valid"),
        # Two versions of one asset may never be valid at the same instant. The int8 hash
        # leads because GiST on raw text is ~4x slower to maintain; asset_id keeps it exact.
        ExcludeConstraint(
            (func.hashtextextended(column("asset_id"), 0), "="),
            ("asset_id", "="),
            ("valid", "&&"),
            using="gist",
            name=f"{spec.id}_no_overlap",
        ),
        Index(f"{spec.id}_asset_idx", "asset_id"),
        # Space and valid time in one GiST: a bbox read of the current city checks
        # `valid @> now()` in the index; beside a separate time index the planner ANDs in a
        # bitmap of every current row (96 of 114 ms on 1M pipes, BENCHMARKS "Features").
        Index(f"{spec.id}_geom_idx", "geom", "valid", postgresql_using="gist"),
        # Nearest walks features in sphere-distance order (spatial_api/analysis/lbs.py).
        Index(f"{spec.id}_geog_idx", text("(geom::geography)"), "valid", postgresql_using="gist"),
        Index(f"{spec.id}_valid_idx", "valid", postgresql_using="gist"),
        # Lineage walks forward from an asset to what replaced it (spatial_api/features/lineage.py).
        *(
            [Index(f"{spec.id}_replaces_idx", "replaces")]
            if any(a.name == "replaces" for a in spec.attributes)
            else []
        ),
        *checks,
        schema=SCHEMA,
        comment=f"{spec.title} ({spec.title_zh}). {spec.description}",
    )


def history_table(spec: LayerSpec, metadata: MetaData) -> Table:
    """Transaction time: each row state a write replaced, with the instant it stopped being
    what the database said. Filled by a trigger (citygis/migrations/versioning.py), so
    loads and API writes alike keep it; `{layer}_recorded(at)` reads the two tables as of
    a past transaction time."""
    return Table(
        spec.history_table,
        metadata,
        Column(
            "superseded_at",
            TIMESTAMP(timezone=True),
            nullable=False,
            comment="Transaction time this row state was replaced",
        ),
        *_version_columns(spec, history=True),
        Index(f"{spec.history_table}_superseded_idx", "superseded_at"),
        Index(f"{spec.history_table}_asset_idx", "asset_id"),
        schema=SCHEMA,
        comment=f"Superseded row states of {SCHEMA}.{spec.id} (transaction-time history)",
    )


def scenarios_table(metadata: MetaData) -> Table:
    """What-if branches of the city: edits kept apart until committed (or discarded)."""
    return Table(
        "scenarios",
        metadata,
        Column("id", Text, primary_key=True),
        Column("title", Text, nullable=False),
        Column("owner", Text, comment="Name of the token that made it"),
        Column("role", Text, nullable=False, comment="Role that may read and edit it"),
        Column(
            "created_at", TIMESTAMP(timezone=True), nullable=False, server_default=text("now()")
        ),
        Column(
            "branched_at",
            TIMESTAMP(timezone=True),
            nullable=False,
            server_default=text("now()"),
            comment="Live data changed after this instant conflicts at commit",
        ),
        Column("committed_at", TIMESTAMP(timezone=True)),
        schema=SCHEMA,
        comment="Scenarios (what-if): each layer's edits are in {layer}_scenario",
    )


def scenario_table(spec: LayerSpec, metadata: MetaData) -> Table:
    """A scenario's versions of each asset it touched, against the live version it branched
    from (`base_version_id`, NULL for a new asset). From its first version's valid_from
    on, the asset is what the scenario says; `delete` marks a live asset deleted there."""
    name = spec.scenario_table
    columns = [c for c in _version_columns(spec, history=True) if c.name != "version_id"]
    return Table(
        name,
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column(
            "scenario_id",
            Text,
            ForeignKey(f"{SCHEMA}.scenarios.id", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("op", Text, nullable=False, comment="put or delete"),
        Column("base_version_id", BigInteger, comment="The live version it replaces"),
        *columns,
        CheckConstraint("op IN ('put', 'delete')", name=f"{name}_op"),
        # Versions of an asset in one scenario never overlap, as live versions.
        ExcludeConstraint(
            (func.hashtextextended(column("asset_id"), 0), "="),
            ("scenario_id", "="),
            ("asset_id", "="),
            ("valid", "&&"),
            using="gist",
            name=f"{name}_no_overlap",
        ),
        Index(f"{name}_asset_idx", "scenario_id", "asset_id"),
        schema=SCHEMA,
        comment=f"Scenario edits of {SCHEMA}.{spec.id}",
    )


def load_runs_table(metadata: MetaData) -> Table:
    """The load log: one row per committed load, its report as JSON."""
    return Table(
        "load_runs",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("layer_id", Text, nullable=False),
        Column("source", Text, nullable=False),
        Column("source_sha256", Text),
        Column("mode", Text, nullable=False),
        Column(
            "started_at", TIMESTAMP(timezone=True), server_default=text("now()"), nullable=False
        ),
        Column("finished_at", TIMESTAMP(timezone=True)),
        Column("report", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        schema=SCHEMA,
        comment="One row per committed load; the report holds counts and rejects",
    )


def result_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Saved analysis answers: one row per result, its features beside it (any geometry)."""
    results = Table(
        "results",
        metadata,
        Column("id", UUID, primary_key=True, server_default=text("gen_random_uuid()")),
        Column("kind", Text, nullable=False, comment="buffer, overlay, nearest, route…"),
        Column("params", JSONB, nullable=False, comment="The request that produced it"),
        Column(
            "restricted",
            Boolean,
            nullable=False,
            server_default=text("false"),
            comment="Derived from a restricted layer: only token holders may read it",
        ),
        Column(
            "sources",
            ARRAY(Text),
            nullable=False,
            server_default=text("'{}'::text[]"),
            comment="Restricted layers whose readers may read it (all of them needed)",
        ),
        Column("feature_count", Integer, nullable=False),
        Column(
            "created_at", TIMESTAMP(timezone=True), nullable=False, server_default=text("now()")
        ),
        Column("expires_at", TIMESTAMP(timezone=True), nullable=False),
        Index("results_expires_idx", "expires_at"),
        schema=SCHEMA,
        comment="Saved analysis results (temporary layers); gone after expires_at",
    )
    features = Table(
        "result_features",
        metadata,
        Column(
            "result_id",
            UUID,
            ForeignKey(f"{SCHEMA}.results.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("fid", Integer, primary_key=True),
        Column("properties", JSONB, nullable=False),
        Column("geom", Geometry("GEOMETRY", srid=STORAGE_SRID, spatial_index=False)),
        Index("result_features_geom_idx", "geom", postgresql_using="gist"),
        schema=SCHEMA,
        comment="Features of saved results, in storage CRS",
    )
    return results, features


def sensor_readings_table(metadata: MetaData) -> Table:
    """Sensor time series: one row per sensor per instant, not versioned (a reading that is
    corrected is replaced). Keyed by the sensor's asset_id, which outlives its versions."""
    return Table(
        "sensor_readings",
        metadata,
        Column("sensor_id", Text, primary_key=True, comment="asset_id of the sensor"),
        Column("observed_at", TIMESTAMP(timezone=True), primary_key=True),
        Column("value", Double, nullable=False, comment="In the sensor's unit"),
        Column("load_id", BigInteger, comment="city.load_runs row that wrote it"),
        CheckConstraint(
            "value NOT IN ('NaN', 'Infinity', '-Infinity')", name="sensor_readings_value_finite"
        ),
        # Readings arrive in time order, so a BRIN stays tiny and serves "all sensors in
        # this hour"; one sensor's series is the primary key's prefix.
        Index("sensor_readings_time_idx", "observed_at", postgresql_using="brin"),
        schema=SCHEMA,
        comment="Readings of city.sensors (time series of the pipe-network monitoring)",
    )


def access_tables(metadata: MetaData) -> tuple[Table, Table]:
    """API tokens (stored hashed) and the audit log of writes and restricted reads."""
    tokens = Table(
        "tokens",
        metadata,
        Column("name", Text, primary_key=True),
        Column("role", Text, nullable=False),
        Column("sha256", Text, nullable=False, unique=True, comment="Hex SHA-256 of the token"),
        Column(
            "created_at", TIMESTAMP(timezone=True), nullable=False, server_default=text("now()")
        ),
        Column("expires_at", TIMESTAMP(timezone=True)),
        Column("revoked_at", TIMESTAMP(timezone=True)),
        Column("last_used_at", TIMESTAMP(timezone=True)),
        schema=SCHEMA,
        comment="API tokens: only their hash is kept; the token is shown once, at creation",
    )
    audit = Table(
        "audit",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("at", TIMESTAMP(timezone=True), nullable=False, server_default=text("now()")),
        Column("token_name", Text, comment="NULL: anonymous"),
        Column("role", Text, nullable=False),
        Column("action", Text, nullable=False, comment="read, create, replace, update, delete…"),
        Column("layer_id", Text),
        Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Index("audit_at_idx", "at"),
        schema=SCHEMA,
        comment="Who wrote what, and who read restricted layers (bbox)",
    )
    return tokens, audit


def dem_table(metadata: MetaData) -> Table:
    """A terrain model (DEM) as PostGIS raster tiles in a metric CRS, for radio paths.

    One DEM at a time: a load replaces every tile in one transaction (its load_runs row
    versions what coverage computed with it). `extent` is each tile's outline in storage
    lon/lat, indexed, so a window is found without reading rasters."""
    return Table(
        "dem_tiles",
        metadata,
        Column("tile_id", BigInteger, Identity(), primary_key=True),
        Column("rast", Raster(spatial_index=False), nullable=False),
        Column("epsg", Integer, nullable=False, comment="CRS of the raster (metres)"),
        Column(
            "extent",
            Geometry("POLYGON", srid=STORAGE_SRID, spatial_index=False),
            nullable=False,
            comment="The tile's outline in storage lon/lat",
        ),
        Column("load_id", BigInteger, nullable=False, comment="city.load_runs row that wrote it"),
        Index("dem_tiles_extent_idx", "extent", postgresql_using="gist"),
        schema=SCHEMA,
        comment="Ground heights (DEM), metres, as raster tiles: terrain for coverage",
    )


def build_metadata(layers: tuple[LayerSpec, ...]) -> MetaData:
    metadata = MetaData(schema=SCHEMA)
    load_runs_table(metadata)
    access_tables(metadata)
    result_tables(metadata)
    sensor_readings_table(metadata)
    scenarios_table(metadata)
    dem_table(metadata)
    for spec in layers:
        layer_table(spec, metadata)
        history_table(spec, metadata)
        scenario_table(spec, metadata)
    return metadata
