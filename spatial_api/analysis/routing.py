"""Routes and isochrones with pgRouting over the roads layer as of an instant.

The graph is built per request in temporary tables dropped at commit: only the roads in a
box around the query, vertices from their endpoints snapped to a 1e-7° grid (~1 cm; the
demo's roads are noded at intersections), cost = geodesic length / speed (road speed or a
default for its class), reverse_cost = −1 on one-way roads (digitised direction).

Points snap to the nearest road, not the nearest node: the edge is split at the point on it
closest to the query (within max_snap_m), so a route starts and ends where the user stands
and only the part of the edge driven counts. Splits are sequential, so from and to may
fall on the same edge. A point within SNAP_TO_NODE_M of an edge's end uses that node.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import InvalidParameter, NotFound, TooLarge
from spatial_api.analysis import metric
from spatial_api.analysis.answer import feature
from spatial_api.analysis.buffer import check_distance
from spatial_api.analysis.geometry import parse_crs, sql_point
from spatial_api.analysis.models import IsochroneQuery, RouteQuery
from spatial_api.analysis.sources import parse_when, select_features

DEFAULT_SPEED_KMH = {
    "motorway": 100,
    "trunk": 80,
    "primary": 60,
    "secondary": 50,
    "tertiary": 40,
    "residential": 30,
    "service": 20,
    "unclassified": 30,
}
MAX_EDGES = 200_000
MAX_ROUTE_M = 300_000
MAX_TIME_S = 3 * 3600
MAX_NETWORK_M = 100_000
_SPEED = (
    "COALESCE((s.props ->> 'speed_kmh')::float8, CASE s.props ->> 'road_class' "
    + " ".join(f"WHEN '{k}' THEN {v}" for k, v in DEFAULT_SPEED_KMH.items())
    + " ELSE 30 END)"
)
EDGES = f"""
CREATE TEMP TABLE _e ON COMMIT DROP AS
SELECT s.props ->> 'asset_id' AS asset_id, ST_Force2D(s.geom) AS geom,
       ST_Length(s.geom::geography) AS len, {_SPEED} AS speed,
       COALESCE((s.props ->> 'oneway')::boolean, false) AS oneway,
       ST_AsBinary(ST_SnapToGrid(ST_StartPoint(s.geom), 1e-7)) AS sk,
       ST_AsBinary(ST_SnapToGrid(ST_EndPoint(s.geom), 1e-7)) AS ek
FROM ({{src}}) s WHERE s.geom && {{box}} LIMIT :max_edges + 1
"""
NODES = """
CREATE TEMP TABLE _n ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY k) AS id, ST_GeomFromWKB(k, 4490) AS geom
FROM (SELECT sk AS k FROM _e UNION SELECT ek FROM _e) x
"""
GRAPH = """
CREATE TEMP TABLE _g ON COMMIT DROP AS
SELECT row_number() OVER () AS id, a.id AS source, b.id AS target, e.asset_id, e.geom, e.len,
       e.len / (e.speed / 3.6) AS cost_s, e.oneway
FROM _e e JOIN _n a ON a.geom = ST_GeomFromWKB(e.sk, 4490)
          JOIN _n b ON b.geom = ST_GeomFromWKB(e.ek, 4490)
"""
# pgRouting runs these strings itself; they are constants, never built from a request.
GRAPH_SQL = {
    "time": "SELECT id, source, target, cost_s AS cost, "
    "CASE WHEN oneway THEN -1 ELSE cost_s END AS reverse_cost FROM _g",
    "distance": "SELECT id, source, target, len AS cost, "
    "CASE WHEN oneway THEN -1 ELSE len END AS reverse_cost FROM _g",
}
SNAP_TO_NODE_M = 0.5
# The 16 planar-nearest edges, re-ranked on the spheroid (degrees are not metres).
SNAP = """
SELECT id, source, target, len, f, d FROM (
  SELECT g.id, g.source, g.target, g.len, ST_LineLocatePoint(g.geom, p.g) AS f,
         ST_Distance(g.geom::geography, p.g::geography) AS d
  FROM _g g, (SELECT {pt} AS g) p ORDER BY g.geom <-> p.g LIMIT 16) c
ORDER BY d, id LIMIT 1
"""
SPLIT = """
WITH e AS (SELECT * FROM _g WHERE id = :edge),
parts AS (
  SELECT e.source AS a, CAST(:node AS bigint) AS b, ST_LineSubstring(e.geom, 0, :f) AS part,
         e.asset_id, e.cost_s, e.len, e.oneway FROM e
  UNION ALL
  SELECT :node, e.target, ST_LineSubstring(e.geom, :f, 1), e.asset_id, e.cost_s, e.len,
         e.oneway FROM e),
ins_node AS (INSERT INTO _n (id, geom) SELECT :node, ST_LineInterpolatePoint(geom, :f) FROM e)
INSERT INTO _g (id, source, target, asset_id, geom, len, cost_s, oneway)
SELECT (SELECT max(id) FROM _g) + row_number() OVER (), a, b, asset_id, part,
       ST_Length(part::geography), cost_s * ST_Length(part::geography) / len, oneway
FROM parts
"""
ROUTE = """
WITH p AS (
  SELECT d.seq, g.asset_id, g.len, g.cost_s,
         CASE WHEN d.node = g.source THEN g.geom ELSE ST_Reverse(g.geom) END AS geom
  FROM pgr_dijkstra(:graph, :s, :t, directed => true) d JOIN _g g ON g.id = d.edge)
SELECT {gj} AS g, sum(len) AS length_m, sum(cost_s) AS duration_s,
       array_agg(asset_id ORDER BY seq) AS roads
FROM (SELECT seq, asset_id, len, cost_s, geom FROM p ORDER BY seq) q
HAVING count(*) > 0
"""
REACHED = """
CREATE TEMP TABLE _r ON COMMIT DROP AS
SELECT node, agg_cost FROM pgr_drivingDistance(:graph, :s, :budget, directed => true)
"""
# Each edge is covered from each reached end it may be driven from, as far as the budget
# left at that end allows (a fraction of the edge).
AREA = """
WITH c AS (SELECT g.*, CASE WHEN :metric = 'time' THEN g.cost_s ELSE g.len END AS cost
           FROM _g g),
parts AS (
  SELECT ST_LineSubstring(c.geom, 0, least(1, (:budget - r.agg_cost) / c.cost)) AS geom
  FROM c JOIN _r r ON r.node = c.source WHERE c.cost > 0
  UNION ALL
  SELECT ST_LineSubstring(c.geom, 1 - least(1, (:budget - r.agg_cost) / c.cost), 1)
  FROM c JOIN _r r ON r.node = c.target WHERE NOT c.oneway AND c.cost > 0),
area AS (SELECT {buffer} AS geom FROM (SELECT ST_Collect(geom) AS geom FROM parts) x)
SELECT {gj} AS g, {area} AS area_m2, (SELECT count(*) FROM _r) AS nodes FROM area
"""


async def _build_graph(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    q: RouteQuery | IsochroneQuery,
    centre: tuple[str, dict],
    radius_m: float,
) -> None:
    when = parse_when(q.datetime_)
    if when is not None and not when.instant:
        raise InvalidParameter("datetime: routing needs an instant, not an interval")
    sel = select_features(principal.layer(catalog, "roads"), when, None)
    box = metric.search_box(centre[0], ":radius")
    await conn.execute(
        text(EDGES.format(src=sel.sql, box=box)).bindparams(*sel.binds),
        sel.params | centre[1] | {"radius": radius_m, "max_edges": MAX_EDGES},
    )
    n = (await conn.execute(text("SELECT count(*) FROM _e"))).scalar_one()
    if n > MAX_EDGES:
        raise TooLarge(
            f"more than {MAX_EDGES} road segments around the query: bring the "
            "points closer or lower the budget"
        )
    if n == 0:
        raise NotFound("no route: the roads layer has no segments here at that time")
    await conn.execute(text(NODES))
    await conn.execute(text(GRAPH))


async def _fastest_kmh(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, q: IsochroneQuery
) -> float:
    """The top speed on the roads, which bounds how far a time budget can reach."""
    sel = select_features(principal.layer(catalog, "roads"), parse_when(q.datetime_), None)
    sql = f"SELECT max({_SPEED}) FROM ({sel.sql}) s"
    return (await conn.execute(text(sql).bindparams(*sel.binds), sel.params)).scalar() or 1.0


async def _snap(
    conn: AsyncConnection, lonlat: tuple[float, float], q, name: str
) -> tuple[int, float]:
    """The graph node where the point meets the nearest road (made by splitting the edge)."""
    pt, params = sql_point(lonlat[0], lonlat[1], parse_crs(q.crs))
    row = (await conn.execute(text(SNAP.format(pt=pt)), params)).one()
    if row.d > q.max_snap_m:
        raise NotFound(
            f"no route: no road within {q.max_snap_m:g} m of {name} (nearest is {row.d:.0f} m away)"
        )
    if row.f * row.len <= SNAP_TO_NODE_M:
        return row.source, row.d
    if (1 - row.f) * row.len <= SNAP_TO_NODE_M:
        return row.target, row.d
    node = (await conn.execute(text("SELECT max(id) + 1 FROM _n"))).scalar_one()
    await conn.execute(text(SPLIT), {"edge": row.id, "node": node, "f": row.f})
    await conn.execute(text("DELETE FROM _g WHERE id = :edge"), {"edge": row.id})
    return node, row.d


async def route(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, q: RouteQuery
) -> list[dict]:
    """Fastest route (by time) between two points; length_m and duration_s."""
    check_distance("max_snap_m", q.max_snap_m, 10_000)
    crs = parse_crs(q.crs)
    a, pa = sql_point(*q.from_, crs)
    b, pb = sql_point(*q.to, crs, "pb")
    async with conn.begin():
        span = (
            await conn.execute(
                text(f"SELECT ST_Distance(({a})::geography, ({b})::geography)"), pa | pb
            )
        ).scalar_one()
        if span > MAX_ROUTE_M:
            raise InvalidParameter(
                f"from/to are {span / 1000:.0f} km apart, at most {MAX_ROUTE_M // 1000} km"
            )
        centre = (f"ST_Centroid(ST_Collect({a}, {b}))", pa | pb)
        await _build_graph(
            conn, catalog, principal, q, centre, span / 2 + max(2000.0, span / 2) + q.max_snap_m
        )
        s, ds = await _snap(conn, q.from_, q, "from")
        t, dt = await _snap(conn, q.to, q, "to")
        if s == t:
            raise NotFound("no route: from and to meet the road at the same point")
        row = (
            await conn.execute(
                text(ROUTE.format(gj=metric.geojson("ST_MakeLine(geom)"))),
                {"graph": GRAPH_SQL["time"], "s": s, "t": t},
            )
        ).one_or_none()
    if row is None:
        raise NotFound("no route: the two points are not connected (one-way roads respected)")
    return [
        feature(
            1,
            row.g,
            {
                "length_m": row.length_m,
                "duration_s": row.duration_s,
                "roads": row.roads,
                "snap_from_m": ds,
                "snap_to_m": dt,
            },
        )
    ]


async def isochrone(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, q: IsochroneQuery
) -> list[dict]:
    """Area reachable within a time or network-distance budget, as a polygon with area_m2."""
    check_distance("max_snap_m", q.max_snap_m, 10_000)
    check_distance("edge_buffer_m", q.edge_buffer_m, 1_000)
    if q.time_s is not None:
        metric_name, budget = "time", q.time_s
        if not 0 < budget <= MAX_TIME_S:
            raise InvalidParameter(f"time_s: {budget:g} is not in (0, {MAX_TIME_S}] s")
    else:
        metric_name, budget = (
            "distance",
            check_distance("distance_m", q.distance_m or 0, MAX_NETWORK_M),
        )
    crs = parse_crs(q.crs)
    pt = sql_point(*q.from_, crs)
    async with conn.begin():
        radius = (
            budget
            if metric_name == "distance"
            else budget * await _fastest_kmh(conn, catalog, principal, q) / 3.6
        )
        await _build_graph(conn, catalog, principal, q, pt, radius + q.max_snap_m)
        s, ds = await _snap(conn, q.from_, q, "from")
        await conn.execute(
            text(REACHED), {"graph": GRAPH_SQL[metric_name], "s": s, "budget": budget}
        )
        buffer = metric.buffer_about("x.geom", pt[0], ":w")
        row = (
            await conn.execute(
                text(
                    AREA.format(
                        buffer=buffer, gj=metric.geojson("geom"), area=metric.area_m2("geom")
                    )
                ),
                pt[1] | {"metric": metric_name, "budget": budget, "w": q.edge_buffer_m},
            )
        ).one()
        nodes = (
            (
                await conn.execute(
                    text(
                        f"SELECT r.node, r.agg_cost, {metric.geojson('n.geom')} AS g FROM _r r "
                        "JOIN _n n ON n.id = r.node ORDER BY r.agg_cost, r.node"
                    )
                )
            ).all()
            if q.include_nodes
            else []
        )
    props = {
        "area_m2": row.area_m2,
        "metric": metric_name,
        "budget": budget,
        "reached_nodes": row.nodes,
        "snap_from_m": ds,
    }
    return [feature(0, row.g, props)] + [
        feature(i, n.g, {"role": "node", "cost": n.agg_cost}) for i, n in enumerate(nodes, 1)
    ]
