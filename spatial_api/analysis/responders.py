"""The k resources nearest a scene by road time (fire stations, hospitals …), around a zone.

Candidates are the layer's points within `search_m` of the scene (nearest first, at most
MAX_CANDIDATES). Each snaps to its road as routing does; then one shortest-path tree from
the scene on routing's layered graph, turned round, gives every candidate's time to it,
keeping out of the `avoid` zone but for the last approach (and a start inside it, the way
out). The k fastest get their routes (`routing.path_around`): the route to the zone's edge
and the approach, as /lbs/route answers with `avoid`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import InvalidParameter, NotFound
from spatial_api.analysis import incident_zones, metric, routing
from spatial_api.analysis.answer import feature
from spatial_api.analysis.buffer import check_distance
from spatial_api.analysis.geometry import parse_crs, sql_point
from spatial_api.analysis.impact_models import RespondersRequest
from spatial_api.analysis.sources import parse_when, select_features
from spatial_api.analysis.travel_times import snap_all
from spatial_api.analysis.zones import union_sql, zone_rings

MAX_CANDIDATES = 500
CANDIDATES = """
WITH pt AS (SELECT {pt} AS g)
SELECT s.props, ST_X(s.geom) AS x, ST_Y(s.geom) AS y
FROM ({src}) s, pt
WHERE s.geom && {box} AND ST_DWithin(s.geom::geography, pt.g::geography, :search)
ORDER BY ST_Distance(s.geom::geography, pt.g::geography), s.props ->> 'asset_id'
LIMIT :most
"""
TIMES = """
SELECT end_vid AS v, agg_cost FROM pgr_dijkstraCost(:graph, CAST(:scene AS bigint[]),
                                                     CAST(:starts AS bigint[]), directed => true)
"""


@dataclass(frozen=True)
class Candidate:
    props: dict[str, Any]
    lonlat: tuple[float, float]
    node: int
    snap_m: float
    time_s: float


async def responders(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: RespondersRequest
) -> tuple[list[dict], bool]:
    """Per responder, fastest first: its point (rank, duration_s), its route, its approach."""
    search = check_distance("search_m", req.search_m, 50_000)
    check_distance("max_snap_m", req.max_snap_m, 10_000)
    req = await incident_zones.responders_request(conn, catalog, principal, req)
    assert req.scene is not None  # given, or the incident's (RespondersRequest validates)
    spec = principal.layer(catalog, req.layer)
    if spec.geometry_type != "Point":
        raise InvalidParameter(f"layer: {spec.id!r} holds {spec.geometry_type}s, not points")
    sel = select_features(spec, parse_when(req.datetime_, req.scenario), req.filter)
    pt = sql_point(*req.scene, parse_crs(req.crs))
    avoid = union_sql(zone_rings(req.avoid, req.crs), "av") if req.avoid is not None else None
    out: list[dict] = []
    async with conn.begin():
        sql = CANDIDATES.format(pt=pt[0], src=sel.sql, box=metric.search_box("pt.g", ":search"))
        params = sel.params | pt[1] | {"search": search, "most": MAX_CANDIDATES}
        found = (await conn.execute(text(sql).bindparams(*sel.binds), params)).all()
        if not found:
            raise NotFound(f"no {spec.id} within {search:g} m of the scene")
        zone_m = 0.0
        if avoid is not None:
            diagonal = f"SELECT ST_Length(ST_BoundingDiagonal({avoid[0]})::geography)"
            zone_m = (await conn.execute(text(diagonal), avoid[1])).scalar_one()
        radius = 1.5 * search + zone_m + req.max_snap_m
        await routing.build_graph(
            conn, catalog, principal, req.datetime_, pt, radius, avoid, req.closed_roads
        )
        scene, ds = await routing.snap_point(conn, req.scene, req, "the scene")
        snapped = await snap_all(conn, [(r.x, r.y) for r in found], req.max_snap_m)
        n = await routing.build_layers(conn)
        ends = await routing.layer_ends(conn, scene, n, True)
        placed = [(r, s.node, s.distance_m) for r, s in zip(found, snapped, strict=True) if s.node]
        starts = await routing.layer_ends_many(conn, [p[1] for p in placed], n, False)
        ranked = await _ranked(conn, placed, starts, scene, ends)
        for rank, c in enumerate(ranked[: req.k], 1):
            asset = c.props["asset_id"]
            props = {"role": "responder", "rank": rank, "duration_s": c.time_s, "snap_m": c.snap_m}
            out.append(
                feature(asset, {"type": "Point", "coordinates": list(c.lonlat)}, c.props | props)
            )
            if c.node == scene:
                continue
            snaps = {"snap_from_m": c.snap_m, "snap_to_m": ds}
            for f in await routing.path_around(conn, starts[c.node], ends, snaps):
                extra = {"responder": asset, "rank": rank, "avoided": avoid is not None}
                role = f["properties"]["role"]
                out.append(f | {"id": f"{asset}:{role}", "properties": f["properties"] | extra})
    if not out:
        raise NotFound(f"no {spec.id} within {search:g} m can reach the scene by road")
    return out, spec.access == "restricted"


async def _ranked(
    conn: AsyncConnection,
    placed: list[tuple[Any, int, float]],
    starts: dict[int, list[int]],
    scene: int,
    ends: list[int],
) -> list[Candidate]:
    """Those that reach the scene, fastest first (ties by asset_id): one reversed tree."""
    every = sorted({v for vs in starts.values() for v in vs})
    rows = (
        await conn.execute(
            text(TIMES), {"graph": routing.LAYERED_REVERSED_SQL, "scene": ends, "starts": every}
        )
    ).all()
    best: dict[int, float] = {}
    for r in rows:
        best[r.v] = min(best.get(r.v, r.agg_cost), r.agg_cost)
    out = []
    for row, node, snap_m in placed:
        times = [0.0] if node == scene else [best[v] for v in starts.get(node, []) if v in best]
        if times:
            out.append(Candidate(row.props, (row.x, row.y), node, snap_m, min(times)))
    return sorted(out, key=lambda c: (c.time_s, c.props["asset_id"]))
