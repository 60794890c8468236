"""Mapbox Vector Tiles built in PostGIS: one MVT layer per catalog layer, joined.

Generalisation by zoom, all in the tile's own units (EXTENT per tile side):

- lines and polygons are simplified with a tolerance of SIMPLIFY_UNITS tile units, done in
  the storage CRS before the transform so fewer vertices are transformed;
- polygons whose bounding box is under MIN_POLYGON_PX screen pixels are dropped (they
  would draw as a speck); lines that collapse to a point on the tile's integer grid are
  dropped by ST_AsMVTGeom itself (a size test of our own cost 5% of a pipe tile);
- at most `max_features` per layer per tile, the largest first, so a dense low-zoom tile
  stays small and keeps what is most visible;
- a layer fetches only features that can draw into the tile: those within its symbol's
  half-size on screen (circle radius, half the line width, plus a pixel) of the edge.
  ST_AsMVTGeom still clips at BUFFER units, so what is fetched is drawn whole;
- outside the style's [min_zoom, max_zoom] a layer is not queried at all;
- attributes are those of `style.zoom_attributes` at the highest key ≤ z, plus asset_id;
  the MVT feature id is the version_id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache, lru_cache
from importlib.resources import files
from string import Template
from typing import Any

from psycopg import AsyncConnection
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

from layers import LayerSpec
from layers.query import DateTimeInterval, generalised_slack_deg
from layers.source import FeatureSource
from layers.spec import STORAGE_SRID
from tiles.filters import Value
from tiles.grid import BUFFER, EXTENT, MERCATOR_M_PER_DEG, SCREEN_PX, TileCoords
from tiles.shift import gcj02_affine, source_lonlat_bounds

SIMPLIFY_UNITS = 1.0
MIN_POLYGON_PX = 1.0
MAX_FEATURES = 20_000
MARGIN = BUFFER / EXTENT  # result layers (no style): everything the clip buffer keeps
_SIZE = (
    "greatest(ST_XMax(t._box) - ST_XMin(t._box), (ST_YMax(t._box) - ST_YMin(t._box)) * :stretch)"
)


@cache
def _template() -> Template:
    sql = files("tiles").joinpath("mvt.sql").read_text(encoding="utf-8")
    return Template("\n".join(line for line in sql.splitlines() if not line.startswith("--")))


def shape(spec: LayerSpec) -> str:
    """'point', 'line' or 'polygon': what generalisation applies."""
    name = spec.geometry_type.removeprefix("Multi")
    return {"Point": "point", "LineString": "line", "Polygon": "polygon"}[name]


def visible(source: FeatureSource, z: int) -> bool:
    spec = source.spec
    return spec is None or spec.style.min_zoom <= z <= spec.style.max_zoom


def fetch_margin(source: FeatureSource) -> float:
    """How far beyond the tile edge, in tile sides, a feature of this layer can still draw
    into the tile: its symbol's half-size in pixels (the web map's stroke included) plus one.
    A source with no style (a saved result) takes all the clip buffer keeps.
    """
    if source.spec is None:
        return MARGIN
    style = source.spec.style
    half = {"circle": style.radius + 1, "line": style.width / 2, "fill": 0.5}[style.kind]
    return min((half + 1) / SCREEN_PX, MARGIN)


def attributes_at(spec: LayerSpec, z: int) -> tuple[str, ...]:
    """The style's attribute list for the highest zoom key not above z (none below all)."""
    keys = [k for k in spec.style.zoom_attributes if k <= z]
    return spec.style.zoom_attributes[max(keys)] if keys else ()


def _unit_deg(z: int) -> float:
    """One tile unit at zoom z, in degrees of longitude."""
    return 2 * 20037508.342789244 / 2**z / EXTENT / MERCATOR_M_PER_DEG


def layer_sql(
    i: int,
    collection: FeatureSource,
    z: int,
    when: DateTimeInterval | None,
    filters: Mapping[str, Value],
    shifted: bool,
    largest_first: bool,
) -> tuple[str, dict]:
    """One layer's (mvt, candidates) query and its own bind parameters (bar the bounds).

    A source with no catalog style (a saved result, of any geometry) is drawn as stored:
    not simplified, no size test, every property it has.
    """
    spec = collection.spec
    kind = shape(spec) if spec is not None else None
    geom = "t.geom" if spec is not None and spec.dimension == 2 else "ST_Force2D(t.geom)"
    where, size_test, box = "", "", "NULL::box2d"
    if kind == "line":  # a two-point line (most pipe segments) has nothing to simplify
        geom = (
            f"CASE WHEN ST_NPoints(t.geom) > 2 THEN ST_Simplify({geom}, :tol, true) ELSE t.geom END"
        )
    elif kind == "polygon":
        geom = f"ST_SimplifyPreserveTopology({geom}, :tol)"
    source, params = collection.rows(when)
    if kind == "polygon":
        params[f"min_size_{i}"] = MIN_POLYGON_PX * EXTENT / SCREEN_PX * _unit_deg(z)
        size_test = f"\n    WHERE {_SIZE} >= :min_size_{i}"
    if kind == "polygon" or (largest_first and kind != "point"):
        box = "box2d(t.geom)"
    order = ""
    if largest_first:
        order = "\n    ORDER BY " + (
            f"{_SIZE} DESC, t.version_id" if kind != "point" else "t.version_id"
        )
    params[f"name_{i}"] = collection.id
    for name, value in filters.items():
        where += f"\n          AND t.{name} = :f{i}_{name}"
        params[f"f{i}_{name}"] = value
    mercator = f"ST_Transform({geom}, 3857)"
    if shifted:
        mercator = f"ST_Affine({mercator}, :sa, :sb, :sd, :se, :sx, :sy)"
    shown = collection.tile_columns(attributes_at(spec, z) if spec is not None else ())
    sql = _template().substitute(
        i=i,
        extent=EXTENT,
        buffer=BUFFER,
        mercator=mercator,
        srid=spec.storage_srid if spec is not None else STORAGE_SRID,
        columns="".join(f", {expr}" for _, expr in shown),
        kept="".join(f", {column}" for column, _ in shown),
        source=source,
        where=where,
        size_test=size_test,
        order=order,
        box=box,
        near="t.geom" if spec is None or spec.generalised_m is None else "t.raw_geom",
    )
    return sql, params


def tile_sql(
    specs: Sequence[FeatureSource],
    coords: TileCoords,
    when: DateTimeInterval | None,
    filters: Mapping[str, Mapping[str, Value]],
    limit: int,
    shift: str | None = None,
    largest_first: bool = False,
) -> tuple[str, dict[str, Any]]:
    """One statement giving (mvt, candidates) per layer, in order, each layer's at most
    `limit` features, as the scan finds them or `largest_first`.

    `shift="gcj02"` draws the features where a GCJ-02 basemap has them (tiles/shift.py).
    """
    parts: list[str] = []
    params: dict[str, Any] = {}
    affine = gcj02_affine(coords) if shift is not None else None
    for i, spec in enumerate(specs):
        sql, own = layer_sql(
            i, spec, coords.z, when, filters.get(spec.id, {}), affine is not None, largest_first
        )
        parts.append(f"({sql}) AS l{i}")
        margin = fetch_margin(spec)
        bounds = (
            coords.lonlat_bounds(margin)
            if affine is None
            else source_lonlat_bounds(coords, affine, margin)
        )
        if spec.spec is not None and spec.spec.generalised_m is not None:
            slack = generalised_slack_deg(spec.spec)
            bounds = (bounds[0] - slack, bounds[1] - slack, bounds[2] + slack, bounds[3] + slack)
        params |= own | dict(
            zip((f"west_{i}", f"south_{i}", f"east_{i}", f"north_{i}"), bounds, strict=True)
        )
        params[f"limit_{i}"] = limit
    if affine is not None:
        params |= affine.params()
    stretch = coords.lat_stretch()
    params |= {
        "z": coords.z,
        "x": coords.x,
        "y": coords.y,
        "stretch": stretch,
        "tol": SIMPLIFY_UNITS * _unit_deg(coords.z) / stretch,
    }
    columns = ", ".join(f"l{i}.mvt, l{i}.candidates" for i in range(len(specs)))
    return f"SELECT {columns}\nFROM " + "\nCROSS JOIN ".join(parts), params


@lru_cache(maxsize=1024)
def _psycopg(sql: str) -> str:
    """The statement with psycopg's %(name)s placeholders (and any % doubled)."""
    return str(text(sql).compile(dialect=psycopg_dialect()))


async def _layers(
    conn: AsyncConnection,
    specs: Sequence[FeatureSource],
    coords: TileCoords,
    when: DateTimeInterval | None,
    filters: Mapping[str, Mapping[str, Value]],
    limit: int,
    shift: str | None,
    largest_first: bool,
) -> list[tuple[bytes, int]]:
    sql, params = tile_sql(specs, coords, when, filters, limit, shift, largest_first)
    # Binary results: the tile arrives as its bytes, not as hex text to decode.
    row = await (await conn.execute(_psycopg(sql), params, binary=True)).fetchone()
    assert row is not None
    return [(bytes(row[k]), row[k + 1]) for k in range(0, len(row), 2)]


async def render(
    conn: AsyncConnection,
    specs: Sequence[FeatureSource],
    coords: TileCoords,
    when: DateTimeInterval | None,
    filters: Mapping[str, Mapping[str, Value]],
    max_features: int = MAX_FEATURES,
    shift: str | None = None,
) -> bytes:
    """The encoded tile; empty bytes when no feature is drawn.

    Each layer is first read unsorted with room for one feature too many. Only a layer
    that overflows is read again, largest first: sorting every tile by size cost a quarter
    of the tile time (measured), and most tiles hold every candidate anyway.
    """
    shown = [s for s in specs if visible(s, coords.z)]
    if not shown:
        return b""
    layers = await _layers(conn, shown, coords, when, filters, max_features + 1, shift, False)
    for k, (_, candidates) in enumerate(layers):
        if candidates > max_features:
            [layers[k]] = await _layers(
                conn, [shown[k]], coords, when, filters, max_features, shift, True
            )
    return b"".join(body for body, _ in layers)
