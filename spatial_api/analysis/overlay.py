"""Overlay of two layers (or a layer and a geometry), like geopandas.overlay, in PostGIS.

Pieces are cut in lon/lat and measured geodesically (area_m2, length_m). Each piece carries
the attributes of both sides, prefixed a_ and b_ (null on the side that does not cover it).
An intersection keeps the lower dimension of its two inputs: pipes ∩ districts are lines.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter

from layers import Catalog, LayerSpec
from layers.access import Principal
from layers.errors import InvalidParameter, TooLarge
from layers.query import DateTimeInterval
from spatial_api.analysis import metric
from spatial_api.analysis.answer import feature
from spatial_api.analysis.coverage import select_coverage
from spatial_api.analysis.geometry import parse_crs, parse_geometry, sql_geometry
from spatial_api.analysis.models import CoverageInput, GeometryInput, LayerInput, OverlayRequest
from spatial_api.analysis.sources import (
    MAX_INPUT_FEATURES,
    Selection,
    parse_when,
    select_features,
)

PIECES = """
a AS (SELECT props, ST_Force2D(geom) AS geom FROM ({a}) a0),
b AS (SELECT props, ST_Force2D(geom) AS geom FROM ({b}) b0),
ix AS (SELECT a.props AS ap, b.props AS bp, ST_CollectionExtract(ST_Intersection(a.geom, b.geom),
              least(ST_Dimension(a.geom), ST_Dimension(b.geom)) + 1) AS geom
       FROM a JOIN b ON ST_Intersects(a.geom, b.geom)),
a_only AS (SELECT a.props AS ap, NULL::jsonb AS bp, ST_CollectionExtract(COALESCE(ST_Difference(
                  a.geom, (SELECT ST_Union(b.geom) FROM b WHERE ST_Intersects(a.geom, b.geom))),
                  a.geom), ST_Dimension(a.geom) + 1) AS geom FROM a),
b_only AS (SELECT NULL::jsonb AS ap, b.props AS bp, ST_CollectionExtract(COALESCE(ST_Difference(
                  b.geom, (SELECT ST_Union(a.geom) FROM a WHERE ST_Intersects(a.geom, b.geom))),
                  b.geom), ST_Dimension(b.geom) + 1) AS geom FROM b)
"""
PARTS = {
    "intersection": ("ix",),
    "union": ("ix", "a_only", "b_only"),
    "difference": ("a_only",),
    "symmetric_difference": ("a_only", "b_only"),
    "identity": ("ix", "a_only"),
}


def _side(
    catalog: Catalog,
    principal: Principal,
    side: LayerInput | CoverageInput | GeometryInput,
    prefix: str,
    when: DateTimeInterval | None,
) -> tuple[Selection | None, str, dict[str, Any], tuple[BindParameter[Any], ...]]:
    if isinstance(side, CoverageInput):
        sel = select_coverage(catalog, principal, side.coverage, side.filter, when, prefix)
        return sel, sel.sql, sel.params, sel.binds
    if isinstance(side, GeometryInput):
        crs = parse_crs(side.crs)
        expr, params = sql_geometry(parse_geometry(side.geometry, crs), crs, prefix)
        return None, f"SELECT '{{}}'::jsonb AS props, {expr} AS geom", params, ()
    spec = principal.layer(catalog, side.layer)
    sel = select_features(spec, when, side.filter, prefix)
    return sel, sel.sql, sel.params, sel.binds


def _group_keys(group_by: list[str], a: LayerSpec, b: LayerSpec | None) -> list[tuple[str, str]]:
    """[(output name, SQL expression)] for a_<attr>/b_<attr>, checked against the catalog."""
    keys = []
    for name in group_by:
        side, _, attr = name.partition("_")
        spec = {"a": a, "b": b}.get(side)
        known = spec is not None and (
            attr == "asset_id" or attr in {x.name for x in spec.attributes}
        )
        if not known:
            raise InvalidParameter(
                f"group_by: {name!r} is not a_<attribute of a> or b_<attribute of b>"
            )
        keys.append((name, f"{side}p -> '{attr}'"))
    return keys


async def _check_sizes(
    conn: AsyncConnection,
    a: str,
    b: str,
    params: dict[str, Any],
    binds: tuple[BindParameter[Any], ...],
) -> None:
    sql = (
        f"SELECT (SELECT count(*) FROM ({a} LIMIT :max_in + 1) x) AS na, "
        f"(SELECT count(*) FROM ({b} LIMIT :max_in + 1) y) AS nb"
    )
    row = (await conn.execute(text(sql).bindparams(*binds), params)).one()
    if max(row.na, row.nb) > MAX_INPUT_FEATURES:
        raise TooLarge(f"more than {MAX_INPUT_FEATURES} features on one side: add a filter")


def _prefixed(props: dict | None, prefix: str) -> dict[str, Any]:
    return {f"{prefix}{k}": v for k, v in (props or {}).items()}


async def overlay(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: OverlayRequest
) -> tuple[list[dict], bool]:
    when = parse_when(req.datetime_, req.scenario)
    a_sel, a_sql, a_params, a_binds = _side(catalog, principal, req.a, "a", when)
    b_sel, b_sql, b_params, b_binds = _side(catalog, principal, req.b, "b", when)
    assert a_sel is not None  # side a is a layer or a coverage, never a bare geometry
    params = a_params | b_params | {"max_in": MAX_INPUT_FEATURES}
    binds = a_binds + b_binds
    b_spec = b_sel.spec if b_sel is not None else None
    keys = _group_keys(req.group_by, a_sel.spec, b_spec) if req.group_by else []
    # Count what each side is made from (a dissolved coverage: its sectors).
    b_inputs = b_sel.inputs if b_sel is not None else None
    await _check_sizes(conn, a_sel.inputs or a_sql, b_inputs or b_sql, params, binds)
    union = " UNION ALL ".join(f"SELECT ap, bp, geom FROM {p}" for p in PARTS[req.operation])
    pieces = (
        f"SELECT ap, bp, geom, {metric.area_m2('geom')} AS area_m2, "
        f"{metric.length_m('geom')} AS length_m FROM ({union}) u "
        "WHERE geom IS NOT NULL AND NOT ST_IsEmpty(geom)"
    )
    with_ = "WITH " + PIECES.format(a=a_sql, b=b_sql)
    if keys:
        cols = ", ".join(f"{expr} AS k{i}" for i, (_, expr) in enumerate(keys))
        groups = ", ".join(f"k{i}" for i in range(len(keys)))
        sql = (
            f"{with_} SELECT {groups}, count(*) AS n, sum(area_m2) AS area_m2, "
            f"sum(length_m) AS length_m, {metric.geojson('ST_Collect(geom)')} AS g "
            f"FROM (SELECT {cols}, * FROM ({pieces}) p) q GROUP BY {groups} "
            f"ORDER BY {groups}"
        )
    else:
        sql = f"{with_} SELECT *, {metric.geojson('geom')} AS g FROM ({pieces}) p"
    rows = (await conn.execute(text(sql).bindparams(*binds), params)).all()
    if keys:
        features = [
            feature(
                i,
                r.g,
                {name: getattr(r, f"k{j}") for j, (name, _) in enumerate(keys)}
                | {"count": r.n, "area_m2": r.area_m2, "length_m": r.length_m},
            )
            for i, r in enumerate(rows, 1)
        ]
    else:
        features = [
            feature(
                i,
                r.g,
                _prefixed(r.ap, "a_")
                | _prefixed(r.bp, "b_")
                | {"area_m2": r.area_m2, "length_m": r.length_m},
            )
            for i, r in enumerate(rows, 1)
        ]
    restricted = any(s is not None and s.spec.access == "restricted" for s in (a_sel, b_sel))
    return features, restricted
