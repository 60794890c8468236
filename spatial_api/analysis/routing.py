"""Routes and isochrones with pgRouting over the roads layer as of an instant.

The graph is built per request in temporary tables dropped at commit: only the roads in a
box around the query, vertices from their endpoints snapped to a 1e-7° grid (~1 cm; the
demo's roads are noded at intersections), cost = geodesic length / speed (road speed or a
default for its class), reverse_cost = −1 on one-way roads (digitised direction).

Points snap to the nearest road, not the nearest node: the edge is split at the point on it
closest to the query (within max_snap_m), so a route starts and ends where the user stands
and only the part of the edge driven counts. Splits are sequential, so from and to may
fall on the same edge. A point within SNAP_TO_NODE_M of an edge's end uses that node.

`closed_roads` leaves roads out. `avoid` (a hazard zone) cuts the roads crossing it at its
edge (AVOID) and marks the pieces in it: an isochrone drops them; a route runs on three
copies of the graph (LAYERED), so it drives in the zone only on the way out from a start
inside it (`departure`) and on the way in to a destination inside it (`approach`), each
returned as its own feature after the route, which then ends or starts at the zone's edge.
The whole part outside is a true fastest path: roads cut by the zone keep their outside
pieces up to the edge. /analysis/responders uses the same graph, from many starts.
"""

from __future__ import annotations

from sqlalchemy import ARRAY, Text, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import InvalidParameter, NotFound, TooLarge
from spatial_api.analysis import metric
from spatial_api.analysis.answer import feature
from spatial_api.analysis.buffer import check_distance
from spatial_api.analysis.geometry import parse_crs, sql_point
from spatial_api.analysis.models import IsochroneQuery, RouteQuery
from spatial_api.analysis.route_steps import LEGS, road_names, steps
from spatial_api.analysis.sources import parse_when, select_features
from spatial_api.analysis.zones import union_sql, zone_rings

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
SELECT s.props ->> 'asset_id' AS asset_id, s.props ->> 'name' AS name, ST_Force2D(s.geom) AS geom,
       ST_Length(s.geom::geography) AS len, {_SPEED} AS speed,
       COALESCE((s.props ->> 'oneway')::boolean, false) AS oneway,
       ST_AsBinary(ST_SnapToGrid(ST_StartPoint(s.geom), 1e-7)) AS sk,
       ST_AsBinary(ST_SnapToGrid(ST_EndPoint(s.geom), 1e-7)) AS ek, false AS inside
FROM ({{src}}) s WHERE s.geom && {{box}} AND s.props ->> 'asset_id' <> ALL(:closed)
LIMIT :max_edges + 1
"""
# Roads crossing an avoided zone are cut where they cross its edge, each piece inside it or
# not, in the road's digitised direction (one-way roads keep their way).
AVOID = """
WITH zone AS (SELECT {zone} AS geom),
hit AS (DELETE FROM _e e USING zone WHERE ST_Intersects(e.geom, zone.geom) RETURNING e.*),
pieces AS (
  SELECT h.asset_id, h.name, h.geom AS whole, h.speed, h.oneway, true AS inside, d.geom
  FROM hit h, zone, ST_Dump(ST_CollectionExtract(ST_Intersection(h.geom, zone.geom), 2)) d
  UNION ALL
  SELECT h.asset_id, h.name, h.geom, h.speed, h.oneway, false, d.geom
  FROM hit h, zone, ST_Dump(ST_CollectionExtract(ST_Difference(h.geom, zone.geom), 2)) d),
oriented AS (
  SELECT asset_id, name, speed, oneway, inside,
         CASE WHEN ST_LineLocatePoint(whole, ST_StartPoint(geom))
                   > ST_LineLocatePoint(whole, ST_EndPoint(geom))
              THEN ST_Reverse(geom) ELSE geom END AS geom
  FROM pieces WHERE ST_Length(geom) > 0)
INSERT INTO _e (asset_id, name, geom, len, speed, oneway, sk, ek, inside)
SELECT asset_id, name, geom, ST_Length(geom::geography), speed, oneway,
       ST_AsBinary(ST_SnapToGrid(ST_StartPoint(geom), 1e-7)),
       ST_AsBinary(ST_SnapToGrid(ST_EndPoint(geom), 1e-7)), inside
FROM oriented
"""
NODES = """
CREATE TEMP TABLE _n ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY k) AS id, ST_GeomFromWKB(k, 4490) AS geom
FROM (SELECT sk AS k FROM _e UNION SELECT ek FROM _e) x
"""
GRAPH = """
CREATE TEMP TABLE _g ON COMMIT DROP AS
SELECT row_number() OVER () AS id, a.id AS source, b.id AS target, e.asset_id, e.geom, e.len,
       e.len / (e.speed / 3.6) AS cost_s, e.oneway, e.inside
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
         e.asset_id, e.cost_s, e.len, e.oneway, e.inside FROM e
  UNION ALL
  SELECT :node, e.target, ST_LineSubstring(e.geom, :f, 1), e.asset_id, e.cost_s, e.len,
         e.oneway, e.inside FROM e),
ins_node AS (INSERT INTO _n (id, geom) SELECT :node, ST_LineInterpolatePoint(geom, :f) FROM e)
INSERT INTO _g (id, source, target, asset_id, geom, len, cost_s, oneway, inside)
SELECT (SELECT max(id) FROM _g) + row_number() OVER (), a, b, asset_id, part,
       ST_Length(part::geography), cost_s * ST_Length(part::geography) / len, oneway, inside
FROM parts
"""
ROUTE = """
WITH p AS (
  SELECT d.seq, g.asset_id, g.len, g.cost_s,
         CASE WHEN d.node = g.source THEN g.geom ELSE ST_Reverse(g.geom) END AS geom
  FROM pgr_dijkstra(:graph, :s, :t, directed => true) d JOIN _g g ON g.id = d.edge)
SELECT {gj} AS g, sum(len) AS length_m, sum(cost_s) AS duration_s,
       array_agg(asset_id ORDER BY seq) AS roads, {legs}
FROM (SELECT seq, asset_id, len, cost_s, geom FROM p ORDER BY seq) q
HAVING count(*) > 0
"""
# Around a zone: three copies of the graph. Layer 1 is the roads outside the zone; layer 0,
# the roads inside it, to leave it when the start is inside (departure); layer 2, the roads
# inside it, for the approach to a destination inside. Free one-way hops at the zone's
# edge lead 0 → 1 → 2 only, so a route never drives in the zone but to leave or arrive.
LAYERED = """
CREATE TEMP TABLE _l ON COMMIT DROP AS
WITH edge_nodes AS (
  (SELECT source AS id FROM _g WHERE inside UNION SELECT target FROM _g WHERE inside)
  INTERSECT
  (SELECT source FROM _g WHERE NOT inside UNION SELECT target FROM _g WHERE NOT inside))
SELECT row_number() OVER () AS id, x.* FROM (
  SELECT g.id AS gid, 1 AS layer, g.source + :n AS source, g.target + :n AS target,
         g.cost_s AS cost, CASE WHEN g.oneway THEN -1 ELSE g.cost_s END AS reverse_cost
  FROM _g g WHERE NOT g.inside
  UNION ALL
  SELECT g.id, k.k, g.source + k.k * :n, g.target + k.k * :n, g.cost_s,
         CASE WHEN g.oneway THEN -1 ELSE g.cost_s END
  FROM _g g, (VALUES (0), (2)) k(k) WHERE g.inside
  UNION ALL
  SELECT NULL, -1, b.id + k.k * :n, b.id + (k.k + 1) * :n, 0, -1
  FROM edge_nodes b, (VALUES (0), (1)) k(k)) x
"""
LAYERED_SQL = "SELECT id, source, target, cost, reverse_cost FROM _l"
SIDES = """
SELECT v, bool_or(inside) AS ins, bool_or(NOT inside) AS outs
FROM (SELECT source AS v, inside FROM _g UNION ALL SELECT target, inside FROM _g) x
WHERE v = ANY(CAST(:vs AS bigint[])) GROUP BY v
"""
# The layered graph turned round: one tree from a destination gives every time to it.
LAYERED_REVERSED_SQL = "SELECT id, target AS source, source AS target, cost, reverse_cost FROM _l"
AROUND = """
WITH d AS (SELECT * FROM pgr_dijkstra(:graph, CAST(:starts AS bigint[]),
                                      CAST(:ends AS bigint[]), directed => true)),
best AS (SELECT start_vid, end_vid FROM d WHERE edge = -1
         ORDER BY agg_cost, start_vid, end_vid LIMIT 1),
p AS (SELECT d.path_seq, l.layer, g.asset_id, g.len, g.cost_s,
             CASE WHEN d.node = l.source THEN g.geom ELSE ST_Reverse(g.geom) END AS geom
      FROM d JOIN best b USING (start_vid, end_vid) JOIN _l l ON l.id = d.edge
      JOIN _g g ON g.id = l.gid)
SELECT layer, {gj} AS g, sum(len) AS length_m, sum(cost_s) AS duration_s,
       array_agg(asset_id ORDER BY path_seq) AS roads, {legs}
FROM p GROUP BY layer ORDER BY layer
"""
ROLES = {0: "departure", 1: "route", 2: "approach"}
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


async def build_graph(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    datetime_: str | None,
    centre: tuple[str, dict],
    radius_m: float,
    avoid: tuple[str, dict] | None = None,
    closed_roads: list[str] | None = None,
) -> None:
    """The road graph `_g` within radius_m of the centre, as of datetime_ (an instant).

    `avoid` (a SQL geometry and its binds) cuts the roads crossing it at its edge and marks
    the pieces in it `inside`; `closed_roads` (asset ids) are left out.
    """
    when = parse_when(datetime_)
    if when is not None and when.period:
        raise InvalidParameter("datetime: routing needs an instant, not an interval")
    sel = select_features(principal.layer(catalog, "roads"), when, None)
    box = metric.search_box(centre[0], ":radius")
    await conn.execute(
        text(EDGES.format(src=sel.sql, box=box)).bindparams(
            *sel.binds, bindparam("closed", type_=ARRAY(Text))
        ),
        sel.params
        | centre[1]
        | {"radius": radius_m, "max_edges": MAX_EDGES, "closed": closed_roads or []},
    )
    n = (await conn.execute(text("SELECT count(*) FROM _e"))).scalar_one()
    if n > MAX_EDGES:
        raise TooLarge(
            f"more than {MAX_EDGES} road segments around the query: bring the "
            "points closer or lower the budget"
        )
    if n == 0:
        raise NotFound("no route: the roads layer has no segments here at that time")
    if avoid is not None:
        await conn.execute(text(AVOID.format(zone=avoid[0])), avoid[1])
    await conn.execute(text(NODES))
    await conn.execute(text(GRAPH))


async def _fastest_kmh(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, q: IsochroneQuery
) -> float:
    """The top speed on the roads, which bounds how far a time budget can reach."""
    sel = select_features(
        principal.layer(catalog, "roads"), parse_when(q.datetime_, q.scenario), None
    )
    sql = f"SELECT max({_SPEED}) FROM ({sel.sql}) s"
    return (await conn.execute(text(sql).bindparams(*sel.binds), sel.params)).scalar() or 1.0


async def snap_point(
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
    """Fastest route (by time) between two points; length_m and duration_s.

    With `avoid`, the route keeps out of the zone: it ends at the zone's edge when `to` is
    inside (the `approach` from there is a second feature) and, from a start inside,
    begins where the fastest way out meets the edge (the `departure` before it).
    """
    check_distance("max_snap_m", q.max_snap_m, 10_000)
    crs = parse_crs(q.crs)
    a, pa = sql_point(*q.from_, crs)
    b, pb = sql_point(*q.to, crs, "pb")
    avoid = union_sql(zone_rings(q.avoid, q.crs), "av") if q.avoid is not None else None
    async with conn.begin():
        span, zone_m = (
            await conn.execute(
                text(
                    f"SELECT ST_Distance(({a})::geography, ({b})::geography), "
                    + (f"ST_Length(ST_BoundingDiagonal({avoid[0]})::geography)" if avoid else "0")
                ),
                pa | pb | (avoid[1] if avoid else {}),
            )
        ).one()
        if span > MAX_ROUTE_M:
            raise InvalidParameter(
                f"from/to are {span / 1000:.0f} km apart, at most {MAX_ROUTE_M // 1000} km"
            )
        centre = (f"ST_Centroid(ST_Collect({a}, {b}))", pa | pb)
        radius = span / 2 + max(2000.0, span / 2) + q.max_snap_m + zone_m
        await build_graph(
            conn, catalog, principal, q.datetime_, centre, radius, avoid, q.closed_roads
        )
        s, ds = await snap_point(conn, q.from_, q, "from")
        t, dt = await snap_point(conn, q.to, q, "to")
        if s == t:
            raise NotFound("no route: from and to meet the road at the same point")
        snaps = {"snap_from_m": ds, "snap_to_m": dt}
        if avoid is not None:
            return await _around(conn, s, t, snaps)
        row = (
            await conn.execute(
                text(
                    ROUTE.format(
                        gj=metric.geojson("ST_MakeLine(geom)"), legs=LEGS.format(seq="seq")
                    )
                ),
                {"graph": GRAPH_SQL["time"], "s": s, "t": t},
            )
        ).one_or_none()
        if row is None:
            raise NotFound(
                "no route: the two points are not connected (one-way roads respected"
                + (", closed roads left out)" if q.closed_roads else ")")
            )
        names = await road_names(conn, row.roads)
    props = {"length_m": row.length_m, "duration_s": row.duration_s, "roads": row.roads}
    return [feature(1, row.g, props | snaps | {"steps": steps(row.legs, names)})]


async def _around(conn: AsyncConnection, s: int, t: int, snaps: dict) -> list[dict]:
    n = await build_layers(conn)
    starts, ends = await layer_ends(conn, s, n, False), await layer_ends(conn, t, n, True)
    return await path_around(conn, starts, ends, snaps)


async def build_layers(conn: AsyncConnection) -> int:
    """The layered graph `_l` (LAYERED) over `_g`; node v of layer k is v + k·n, n returned."""
    n = (await conn.execute(text("SELECT max(id) + 1 FROM _n"))).scalar_one()
    await conn.execute(text(LAYERED), {"n": n})
    return n


async def layer_ends(conn: AsyncConnection, v: int, n: int, arriving: bool) -> list[int]:
    """Where a route may start (or end, `arriving`) at node v: outside, or inside the zone
    (departure layer 0, approach layer 2), as the roads that meet at v are."""
    return (await layer_ends_many(conn, [v], n, arriving)).get(v, [])


async def layer_ends_many(
    conn: AsyncConnection, nodes: list[int], n: int, arriving: bool
) -> dict[int, list[int]]:
    inner = 2 if arriving else 0
    rows = (await conn.execute(text(SIDES), {"vs": nodes})).all()
    return {r.v: [r.v + k * n for k, ok in ((inner, r.ins), (1, r.outs)) if ok] for r in rows}


async def path_around(
    conn: AsyncConnection, starts: list[int], ends: list[int], snaps: dict
) -> list[dict]:
    """The fastest route on the layered graph: its part outside the zone, the departure
    and the approach."""
    rows = (
        await conn.execute(
            text(
                AROUND.format(
                    gj=metric.geojson("ST_MakeLine(geom ORDER BY path_seq)"),
                    legs=LEGS.format(seq="path_seq"),
                )
            ),
            {"graph": LAYERED_SQL, "starts": starts, "ends": ends},
        )
    ).all()
    if not rows:
        raise NotFound(
            "no route: the two points are not connected outside the avoided zone "
            "(one-way roads respected)"
        )
    parts = {ROLES[r.layer]: r for r in rows}
    names = await road_names(conn, [a for r in rows for a in r.roads])
    main = parts.get("route")
    props: dict = {
        "role": "route",
        "length_m": main.length_m if main else 0.0,
        "duration_s": main.duration_s if main else 0.0,
        "roads": main.roads if main else [],
        "steps": steps(main.legs, names) if main else [],
        "avoided": True,
        "ends_at_zone_edge": "approach" in parts,
        "starts_at_zone_edge": "departure" in parts,
    }
    for role in ("departure", "approach"):
        r = parts.get(role)
        props |= {f"{role}_m": r.length_m if r else 0.0, f"{role}_s": r.duration_s if r else 0.0}
    out = [feature(1, main.g if main else None, props | snaps)]
    for i, role in enumerate(("departure", "approach"), 2):
        if (r := parts.get(role)) is not None:
            out.append(
                feature(
                    i,
                    r.g,
                    {
                        "role": role,
                        "length_m": r.length_m,
                        "duration_s": r.duration_s,
                        "roads": r.roads,
                        "steps": steps(r.legs, names),
                        "inside_zone": True,
                    },
                )
            )
    return out


async def _keep_out(conn: AsyncConnection, s: int) -> None:
    """Drop the roads inside the avoided zone, refusing a start that is on one of them."""
    side = (await conn.execute(text(SIDES), {"vs": [s]})).one_or_none()
    if side is None or not side.outs:
        raise NotFound(
            "no isochrone: `from` meets the road inside the avoided zone; start outside it"
        )
    await conn.execute(text("DELETE FROM _g WHERE inside"))


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
        avoid = union_sql(zone_rings(q.avoid, q.crs), "av") if q.avoid is not None else None
        await build_graph(
            conn, catalog, principal, q.datetime_, pt, radius + q.max_snap_m, avoid, q.closed_roads
        )
        s, ds = await snap_point(conn, q.from_, q, "from")
        if avoid is not None:
            await _keep_out(conn, s)
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
