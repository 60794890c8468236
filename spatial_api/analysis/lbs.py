"""Location services: nearest features, features within a distance, reverse lookup.

Nearest is exact, not approximate. The geography GiST index walks features in order of
sphere distance s (`<->`); the first k give D, an upper bound on the k-th spheroid distance
g. Since g ≥ s·M/R (M the meridian radius of curvature, the smallest there is, over the
latitudes within D; R the sphere's radius), every feature with g ≤ D has s ≤ D·R/M, about
0.2 % beyond D at Qingdao. The walk fetches a few more than k; when its last one lies beyond
that bound the answer is complete, the k nearest by g among them. Otherwise (a dense ring at
D, rare) the planar path runs: k nearest by planar `<->`, then everything within their D.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import InvalidParameter
from spatial_api.analysis import metric
from spatial_api.analysis.answer import feature
from spatial_api.analysis.buffer import check_distance
from spatial_api.analysis.geometry import parse_crs, sql_point
from spatial_api.analysis.models import (
    NearestBody,
    NearestQuery,
    PointQuery,
    ReverseQuery,
    WithinBody,
    WithinQuery,
)
from spatial_api.analysis.sources import Selection, parse_when, select_features

MAX_K = 100
MAX_WITHIN = 10_000
# How far past the k-th the sphere walk reads before it gives up for the planar path.
WALK_PER_K, WALK_EXTRA = 4, 60
GEOG = "s.geom::geography"

# CGCS2000 (storage) ellipsoid: a, e², and the mean radius PostGIS's geography sphere uses.
A_M, E2, R_M = 6378137.0, 0.0066943800229, 6371008.7714
# The sphere-to-spheroid ratio R/M at the latitude nearest the equator that D reaches.
SPHERE_BOUND = f"""{R_M!r} / ({A_M!r} * (1 - {E2!r})
    / power(1 - {E2!r} * sin(radians(greatest(abs(ST_Y(pt.g)) - r.d / 110574.0 - 0.01, 0)))^2, 1.5))
    * 1.0001"""

NEAREST_SPHERE = """
WITH pt AS (SELECT {pt} AS g),
-- The point as a scalar subquery, not a join: only then does `<->` walk the GiST index.
cand AS (SELECT s.props, s.geom, s.geom::geography <-> (SELECT g::geography FROM pt) AS ds
         FROM ({src}) s ORDER BY ds LIMIT :n),
kth AS (SELECT ST_Distance(c.geom::geography, pt.g::geography) AS d
          FROM cand c, pt ORDER BY c.ds LIMIT :k),
r AS (SELECT least(max(d), :maxd) AS d, max(d) + 0.001 AS reach FROM kth),
bound AS (SELECT r.d * {ratio} + 0.001 AS s, least(r.reach, :maxd) AS g FROM r, pt),
walk AS (SELECT count(*) AS n, max(ds) AS last FROM cand)
SELECT f.props, f.distance_m, f.g, walk.n < :n OR walk.last > bound.s AS complete
FROM walk, bound LEFT JOIN LATERAL (
    SELECT s.props, ST_Distance({geog}, pt.g::geography) AS distance_m, {gj} AS g
    FROM cand s, pt
    WHERE s.ds <= bound.s AND ST_Distance({geog}, pt.g::geography) <= bound.g
    ORDER BY distance_m, s.props ->> 'asset_id' LIMIT :k) f ON true
"""
NEAREST = """
WITH pt AS (SELECT {pt} AS g),
-- The point as a scalar subquery, not a join: only then does `<->` walk the GiST index.
cand AS (SELECT ST_Distance({geog}, pt.g::geography) AS d FROM ({src}) s, pt
         ORDER BY s.geom <-> (SELECT g FROM pt) LIMIT :k),
-- A millimetre of slack: ST_DWithin and ST_Distance may round the k-th distance apart.
r AS (SELECT least(max(d) + 0.001, :maxd) AS d FROM cand)
SELECT s.props, ST_Distance({geog}, pt.g::geography) AS distance_m, {gj} AS g
FROM ({src}) s, pt, r
WHERE s.geom && {box} AND ST_DWithin({geog}, pt.g::geography, r.d)
ORDER BY distance_m, s.props ->> 'asset_id' LIMIT :k
"""
WITHIN = """
WITH pt AS (SELECT {pt} AS g)
SELECT s.props, ST_Distance({geog}, pt.g::geography) AS distance_m, {gj} AS g,
       count(*) OVER () AS matched
FROM ({src}) s, pt
WHERE s.geom && {box} AND ST_DWithin({geog}, pt.g::geography, :maxd)
ORDER BY distance_m, s.props ->> 'asset_id' LIMIT :limit
"""


def _selection(catalog: Catalog, principal: Principal, q: PointQuery) -> Selection:
    spec = principal.layer(catalog, q.layer)
    filters = q.filter if isinstance(q, NearestBody | WithinBody) else None
    return select_features(spec, parse_when(q.datetime_, q.scenario), filters)


async def _run(
    conn: AsyncConnection, template: str, sel: Selection, q: PointQuery, params: dict[str, Any]
) -> Sequence[Row[Any]]:
    pt, pt_params = sql_point(q.lon, q.lat, parse_crs(q.crs))
    sql = template.format(
        pt=pt,
        src=sel.sql,
        geog=GEOG,
        gj=metric.geojson("s.geom"),
        box=metric.search_box("pt.g", ":maxd" if "r.d" not in template else "r.d"),
        ratio=SPHERE_BOUND,
    )
    return (
        await conn.execute(text(sql).bindparams(*sel.binds), sel.params | pt_params | params)
    ).all()


def _features(rows: Sequence[Row[Any]]) -> list[dict]:
    return [
        feature(r.props.get("asset_id"), r.g, r.props | {"distance_m": r.distance_m}) for r in rows
    ]


async def nearest(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, q: NearestQuery
) -> tuple[list[dict], bool]:
    """Up to k features by geodesic distance, nearest first (ties by asset_id)."""
    if not 1 <= q.k <= MAX_K:
        raise InvalidParameter(f"k: {q.k} is not between 1 and {MAX_K}")
    maxd = metric_limit(q.max_distance_m)
    sel = _selection(catalog, principal, q)
    params = {"k": q.k, "maxd": maxd, "n": WALK_EXTRA + WALK_PER_K * q.k}
    rows = await _run(conn, NEAREST_SPHERE, sel, q, params)
    if rows and rows[0].complete:
        rows = [r for r in rows if r.props is not None]
    else:
        rows = await _run(conn, NEAREST, sel, q, params)
    return _features(rows), sel.spec.access == "restricted"


def metric_limit(value: float | None) -> float:
    return 1e9 if value is None else check_distance("max_distance_m", value)


async def within(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, q: WithinQuery
) -> tuple[list[dict], bool, int]:
    """Features within distance_m, nearest first, and how many matched in all."""
    check_distance("distance_m", q.distance_m)
    if not 1 <= q.limit <= MAX_WITHIN:
        raise InvalidParameter(f"limit: {q.limit} is not between 1 and {MAX_WITHIN}")
    sel = _selection(catalog, principal, q)
    rows = await _run(conn, WITHIN, sel, q, {"maxd": q.distance_m, "limit": q.limit})
    matched = rows[0].matched if rows else 0
    return _features(rows), sel.spec.access == "restricted", matched


async def reverse(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, q: ReverseQuery
) -> list[dict]:
    """The district and logistics park covering a point, nearby scenic sites, nearest road."""
    site_r = check_distance("site_radius_m", q.site_radius_m, 50_000)
    road_r = check_distance("road_radius_m", q.road_radius_m, 50_000)
    when = q.datetime_
    out: list[dict] = []
    # Containing areas are the nearest within a millimetre; sites and the road, within reach.
    for layer, role, k, radius in (
        ("districts", "district", 1, 0.001),
        ("logistics_parks", "logistics_park", 1, 0.001),
        ("scenic_sites", "scenic_site", 5, site_r),
        ("roads", "nearest_road", 1, road_r),
    ):
        rows = await nearest(
            conn,
            catalog,
            principal,
            NearestQuery(
                layer=layer,
                lon=q.lon,
                lat=q.lat,
                crs=q.crs,
                k=k,
                max_distance_m=radius,
                datetime=when,
            ),
        )
        out += [f | {"properties": f["properties"] | {"role": role}} for f in rows[0]]
    return out
