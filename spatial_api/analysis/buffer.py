"""Buffers in metres around a geometry or a layer's features, optionally dissolved."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter

from layers import Catalog
from layers.access import Principal
from layers.errors import InvalidParameter, TooLarge
from spatial_api.analysis import metric
from spatial_api.analysis.answer import MAX_FEATURES, feature
from spatial_api.analysis.geometry import parse_crs, parse_geometry, sql_geometry
from spatial_api.analysis.models import BufferRequest
from spatial_api.analysis.sources import (
    MAX_INPUT_FEATURES,
    parse_when,
    select_features,
)

MAX_DISTANCE_M = 1_000_000.0


def check_distance(name: str, value: float, maximum: float = MAX_DISTANCE_M) -> float:
    if not 0 < value <= maximum:
        raise InvalidParameter(f"{name}: {value:g} m is not in (0, {maximum:g}] m")
    return value


async def buffer(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: BufferRequest
) -> tuple[list[dict], bool]:
    """Buffered features with area_m2, and whether they derive from a restricted layer."""
    check_distance("distance_m", req.distance_m)
    restricted = False
    binds: tuple[BindParameter[Any], ...] = ()
    if req.geometry is not None:
        crs = parse_crs(req.crs)
        expr, params = sql_geometry(parse_geometry(req.geometry, crs), crs)
        source = f"SELECT '{{}}'::jsonb AS props, {expr} AS geom"
    else:
        assert req.layer is not None  # BufferRequest validates exactly one of geometry, layer
        spec = principal.layer(catalog, req.layer)
        restricted = spec.access == "restricted"
        sel = select_features(spec, parse_when(req.datetime_, req.scenario), req.filter)
        source, params, binds = sel.sql, sel.params, sel.binds
    limit = MAX_INPUT_FEATURES if req.dissolve else MAX_FEATURES
    params |= {"d": req.distance_m, "max_in": limit}
    buffered = (
        f"SELECT s.props, {metric.buffer_m('s.geom', ':d')} AS geom"
        f" FROM (SELECT * FROM ({source}) s0 LIMIT :max_in + 1) s"
    )
    if req.dissolve:
        sql = (
            f"SELECT 0 AS fid, jsonb_build_object('count', count(*)) AS props, "
            f"ST_Union(geom) AS geom FROM ({buffered}) b"
        )
    else:
        sql = f"SELECT row_number() OVER () AS fid, props, geom FROM ({buffered}) b"
    sql = (
        f"SELECT fid, props, {metric.area_m2('geom')} AS area_m2, "
        f"{metric.geojson('geom')} AS g FROM ({sql}) r WHERE geom IS NOT NULL"
    )
    rows = (await conn.execute(text(sql).bindparams(*binds), params)).all()
    count = rows[0].props.get("count", 0) if req.dissolve and rows else len(rows)
    if count > limit:
        raise TooLarge(f"more than {limit} input features: add a filter")
    features = [feature(r.fid, r.g, r.props | {"area_m2": r.area_m2}) for r in rows]
    return features, restricted
