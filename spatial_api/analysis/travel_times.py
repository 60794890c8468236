"""Road travel times from many places to many others, over routing's graph, in one go.

Every place snaps to its nearest road as routing's `snap_point` does (the edge is split at
the point nearest the place, or its end node is used within SNAP_TO_NODE_M), but at once:
one query finds each place's edge, one splits every edge at all of its places. Times are
then one pgr_dijkstraCost from the smaller side, on the reversed graph when that side is
the destinations, so 60 shelters cost 60 shortest-path trees whatever the origins.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from spatial_api.analysis.routing import GRAPH_SQL, SNAP_TO_NODE_M

Place = tuple[float, float]  # lon, lat in storage CRS (CGCS2000, as WGS 84)

NEAREST = """
SELECT p.k, c.id, c.source, c.target, c.len, c.f, c.d
FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS p(x, y, k),
LATERAL (SELECT * FROM (
    SELECT g.id, g.source, g.target, g.len,
           ST_LineLocatePoint(g.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4490)) AS f,
           ST_Distance(g.geom::geography, ST_SetSRID(ST_MakePoint(p.x, p.y), 4490)::geography)
             AS d
    FROM _g g ORDER BY g.geom <-> ST_SetSRID(ST_MakePoint(p.x, p.y), 4490) LIMIT 16) c0
  ORDER BY d, id LIMIT 1) c
ORDER BY p.k
"""
# Each cut edge becomes the pieces between its consecutive cuts, costed pro rata.
SPLIT_MANY = """
WITH c AS (SELECT * FROM unnest(CAST(:edges AS bigint[]), CAST(:fs AS float8[]),
                                CAST(:nodes AS bigint[])) AS c(edge, f, node)),
new_nodes AS (INSERT INTO _n (id, geom)
              SELECT c.node, ST_LineInterpolatePoint(g.geom, c.f)
              FROM c JOIN _g g ON g.id = c.edge),
cut AS (SELECT edge, f, node FROM c
        UNION ALL SELECT g.id, 0, g.source FROM _g g WHERE g.id IN (SELECT edge FROM c)
        UNION ALL SELECT g.id, 1, g.target FROM _g g WHERE g.id IN (SELECT edge FROM c)),
parts AS (SELECT edge, node AS a, lead(node) OVER w AS b, f AS f0, lead(f) OVER w AS f1
          FROM cut WINDOW w AS (PARTITION BY edge ORDER BY f)),
ins AS (
  INSERT INTO _g (id, source, target, asset_id, geom, len, cost_s, oneway, inside)
  SELECT (SELECT max(id) FROM _g) + row_number() OVER (), p.a, p.b, g.asset_id, x.part,
         ST_Length(x.part::geography), g.cost_s * ST_Length(x.part::geography) / g.len,
         g.oneway, g.inside
  FROM parts p JOIN _g g ON g.id = p.edge,
       LATERAL (SELECT ST_LineSubstring(g.geom, p.f0, p.f1) AS part) x
  WHERE p.b IS NOT NULL)
DELETE FROM _g WHERE id IN (SELECT edge FROM c)
"""
# The graph with every edge turned round: a tree from a destination gives times *to* it.
REVERSED_TIME = (
    "SELECT id, target AS source, source AS target, cost_s AS cost, "
    "CASE WHEN oneway THEN -1 ELSE cost_s END AS reverse_cost FROM _g"
)
COSTS = """
SELECT start_vid, end_vid, agg_cost
FROM pgr_dijkstraCost(:graph, CAST(:a AS bigint[]), CAST(:b AS bigint[]), directed => true)
"""


@dataclass(frozen=True)
class Snapped:
    node: int | None  # None: no road within max_snap_m
    distance_m: float


async def snap_all(conn: AsyncConnection, places: list[Place], max_snap_m: float) -> list[Snapped]:
    """Each place's graph node on its nearest road, splitting edges where places meet them."""
    if not places:
        return []
    await conn.execute(text("CREATE INDEX ON _g USING gist (geom)"))
    rows = (
        await conn.execute(
            text(NEAREST),
            {"xs": [float(p[0]) for p in places], "ys": [float(p[1]) for p in places]},
        )
    ).all()
    next_node = (await conn.execute(text("SELECT max(id) + 1 FROM _n"))).scalar_one()
    out: list[Snapped] = []
    cuts: dict[int, list[tuple[float, int]]] = defaultdict(list)  # edge → [(metres, node)]
    for r in rows:
        if r.d > max_snap_m:
            out.append(Snapped(None, r.d))
            continue
        at = r.f * r.len
        if at <= SNAP_TO_NODE_M:
            out.append(Snapped(r.source, r.d))
        elif r.len - at <= SNAP_TO_NODE_M:
            out.append(Snapped(r.target, r.d))
        else:
            # Places within SNAP_TO_NODE_M along one edge share a node.
            node = next((n for m, n in cuts[r.id] if abs(m - at) <= SNAP_TO_NODE_M), None)
            if node is None:
                node, next_node = next_node, next_node + 1
                cuts[r.id].append((at, node))
            out.append(Snapped(node, r.d))
    if cuts:
        lengths = {r.id: r.len for r in rows}
        flat = [(e, m / lengths[e], n) for e, ms in cuts.items() for m, n in ms]
        await conn.execute(
            text(SPLIT_MANY),
            {
                "edges": [c[0] for c in flat],
                "fs": [c[1] for c in flat],
                "nodes": [c[2] for c in flat],
            },
        )
    return out


async def travel_times(
    conn: AsyncConnection, origins: list[int], destinations: list[int]
) -> dict[tuple[int, int], float]:
    """Seconds from each origin node to each destination node it can reach (one-way roads
    respected); a node to itself is 0."""
    a, b = sorted(set(origins)), sorted(set(destinations))
    if not a or not b:
        return {}
    forward = len(a) <= len(b)
    params = (
        {"graph": GRAPH_SQL["time"], "a": a, "b": b}
        if forward
        else {"graph": REVERSED_TIME, "a": b, "b": a}
    )
    rows = (await conn.execute(text(COSTS), params)).all()
    times = {
        ((r.start_vid, r.end_vid) if forward else (r.end_vid, r.start_vid)): r.agg_cost
        for r in rows
    }
    times |= {(v, v): 0.0 for v in set(a) & set(b)}
    return times
