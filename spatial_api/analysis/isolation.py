"""Which valves isolate a pipe break: a walk over the pipe network, stopped by valves.

From the broken pipe's two end nodes the walk follows pipes of the same utility (as of
`datetime`) through every node except operable valves: an open valve is where the crew
closes, a closed one already bounds the area, and a broken valve cannot close, so the walk
passes through it (and reports it, because it widens the shut-down). What the walk covers
is the isolated section: its pipes and their length. Connectivity is the from_node/to_node
of each pipe; the walk is limited to pipes within max_radius_m of the break, and says so
(`complete: false`) when the section reaches that limit.
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
from spatial_api.analysis.models import IsolateRequest
from spatial_api.analysis.sources import parse_when, select_features

MAX_RADIUS_M = 20_000.0
MAX_PIPES = 200_000

# The broken pipe: by asset id (on the indexed column, so {pipes} has no WHERE yet), or the
# nearest to a point (planar KNN on the GiST index, then geodesic re-rank).
BREAK_BY_ID = """
SELECT b.props, 0.0 AS d, ST_X(ST_Centroid(b.geom)) AS cx, ST_Y(ST_Centroid(b.geom)) AS cy
FROM ({pipes} WHERE t.asset_id = :pipe) b
"""
BREAK_NEAR = """
SELECT c.props, c.d, ST_X(ST_Centroid(c.geom)) AS cx, ST_Y(ST_Centroid(c.geom)) AS cy
FROM (SELECT p.*, ST_Distance(p.geom::geography, pt.g::geography) AS d
      FROM ({pipes}) p, (SELECT {pt} AS g) pt
      ORDER BY p.geom <-> (SELECT {pt}) LIMIT 16) c
ORDER BY c.d LIMIT 1
"""
EDGES = """
CREATE TEMP TABLE _pipes ON COMMIT DROP AS
SELECT p.props ->> 'asset_id' AS asset_id, p.props ->> 'from_node' AS a,
       p.props ->> 'to_node' AS b, ST_Force2D(p.geom) AS geom
FROM ({pipes}) p
WHERE p.props ->> 'utility' = :utility AND p.geom && {box}
LIMIT :max_pipes + 1
"""
VALVES = """
CREATE TEMP TABLE _valves ON COMMIT DROP AS
SELECT n.props ->> 'asset_id' AS asset_id, n.props ->> 'valve_state' AS state, n.geom
FROM ({nodes}) n
WHERE n.props ->> 'node_kind' = 'valve' AND n.props ->> 'utility' = :utility
  AND n.geom && {box}
"""
# Operable valves (open or closed) stop the walk; everything else, broken valves included,
# is passed through. UNION (not ALL) keeps each node once, so loops end.
WALK = """
WITH RECURSIVE walk(node) AS (
  SELECT unnest(ARRAY[:a, :b])
  UNION
  SELECT CASE WHEN e.a = w.node THEN e.b ELSE e.a END
  FROM walk w JOIN _pipes e ON e.a = w.node OR e.b = w.node
  WHERE NOT EXISTS (SELECT 1 FROM _valves v WHERE v.asset_id = w.node
                                              AND v.state IN ('open', 'closed')))
SELECT node FROM walk WHERE node IS NOT NULL
"""


async def isolate(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: IsolateRequest
) -> tuple[list[dict], bool]:
    check_distance("max_radius_m", req.max_radius_m, MAX_RADIUS_M)
    check_distance("max_snap_m", req.max_snap_m, 1000)
    when = parse_when(req.datetime_)
    if when is not None and not when.instant:
        raise InvalidParameter("datetime: isolation needs an instant, not an interval")
    pipes = select_features(principal.layer(catalog, "pipelines"), when, None, "p")
    nodes = select_features(principal.layer(catalog, "pipe_nodes"), when, None, "n")
    # A click snaps to the nearest pipe of the utility named: six may run within 3 m.
    candidates = (
        pipes
        if req.point is None
        else select_features(
            principal.layer(catalog, "pipelines"), when, {"utility": req.utility}, "c"
        )
    )
    async with conn.begin():
        brk = await _find_break(conn, req, candidates)
        utility, a, b = (brk.props.get(k) for k in ("utility", "from_node", "to_node"))
        if req.utility is not None and utility != req.utility:
            raise InvalidParameter(
                f"utility: pipe {brk.props['asset_id']!r} is a {utility} pipe, not {req.utility}"
            )
        if not a or not b:
            raise InvalidParameter(
                f"pipe {brk.props['asset_id']!r} has no from_node/to_node: "
                "its connectivity is unknown"
            )
        box = metric.search_box("ST_SetSRID(ST_MakePoint(:cx, :cy), 4490)", ":radius")
        params = (
            pipes.params
            | nodes.params
            | {
                "utility": utility,
                "radius": req.max_radius_m,
                "max_pipes": MAX_PIPES,
                "cx": brk.cx,
                "cy": brk.cy,
            }
        )
        await conn.execute(
            text(EDGES.format(pipes=pipes.sql, box=box)).bindparams(*pipes.binds), params
        )
        if (await conn.execute(text("SELECT count(*) FROM _pipes"))).scalar_one() > MAX_PIPES:
            raise TooLarge(f"more than {MAX_PIPES} pipes within max_radius_m: lower it")
        await conn.execute(
            text(VALVES.format(nodes=nodes.sql, box=box)).bindparams(*nodes.binds), params
        )
        await _refuse_without_valves(conn, utility, req.max_radius_m)
        await conn.execute(
            text("CREATE TEMP TABLE _walk ON COMMIT DROP AS " + WALK), {"a": a, "b": b}
        )
        rows = (
            await conn.execute(
                text(f"""
            SELECT 'valve' AS kind, v.asset_id, v.state, NULL::float8 AS length_m,
                   {metric.geojson("v.geom")} AS g
            FROM _valves v JOIN _walk w ON w.node = v.asset_id
            UNION ALL
            SELECT 'pipe', e.asset_id, NULL, {metric.length_m("e.geom")},
                   {metric.geojson("e.geom")}
            FROM _pipes e
            WHERE e.asset_id = :break_id
               OR e.a IN (SELECT node FROM _walk EXCEPT SELECT asset_id FROM _valves
                          WHERE state IN ('open', 'closed'))
               OR e.b IN (SELECT node FROM _walk EXCEPT SELECT asset_id FROM _valves
                          WHERE state IN ('open', 'closed'))
            ORDER BY 1 DESC, 2"""),
                {"break_id": brk.props["asset_id"]},
            )
        ).all()
        # The section is complete unless it touches the search box's edge.
        edge = (
            await conn.execute(
                text(
                    f"SELECT count(*) FROM _pipes e WHERE e.asset_id = ANY(:ids) AND NOT ST_Within("
                    f"e.geom, ST_Buffer({box}, -0.000001))"
                ),
                params | {"ids": [r.asset_id for r in rows if r.kind == "pipe"]},
            )
        ).scalar_one()
    role = {"open": "close", "closed": "already_closed", "broken": "broken_passed"}
    features = [
        feature(
            i,
            r.g,
            {
                "asset_id": r.asset_id,
                "valve_state": r.state,
                "length_m": r.length_m,
                "role": role.get(r.state, "passed") if r.kind == "valve" else "isolated_pipe",
                "broken": r.asset_id == brk.props["asset_id"],
            },
        )
        for i, r in enumerate(rows, 1)
    ]
    isolated = [f for f in features if f["properties"]["role"] == "isolated_pipe"]
    summary = {
        "role": "summary",
        "broken_pipe": brk.props["asset_id"],
        "utility": utility,
        "valves_to_close": sum(f["properties"]["role"] == "close" for f in features),
        "isolated_pipes": len(isolated),
        "isolated_length_m": sum(f["properties"]["length_m"] for f in isolated),
        "complete": edge == 0,
    }
    return [feature(0, None, summary), *features], True


async def _refuse_without_valves(conn: AsyncConnection, utility: str, radius_m: float) -> None:
    """Valves isolate a break only where there are valves that work: say so, rather than
    answer 'close 0 valves' with half a network shut off (a power network has none)."""
    operable = (
        await conn.execute(text("SELECT count(*) FROM _valves WHERE state IN ('open', 'closed')"))
    ).scalar_one()
    if operable == 0:
        raise InvalidParameter(
            f"no operable valve of the {utility} network within {radius_m:g} m of the break: "
            "it cannot be isolated by valves here"
        )


async def _find_break(conn: AsyncConnection, req: IsolateRequest, pipes):
    if req.pipe is not None:
        sql, params = BREAK_BY_ID.format(pipes=pipes.sql), pipes.params | {"pipe": req.pipe}
    else:
        assert req.point is not None
        pt, pp = sql_point(*req.point, parse_crs(req.crs))
        sql, params = BREAK_NEAR.format(pipes=pipes.sql, pt=pt), pipes.params | pp
    row = (await conn.execute(text(sql).bindparams(*pipes.binds), params)).first()
    if row is None:
        raise NotFound(
            f"no pipe {req.pipe!r} valid at that time"
            if req.pipe is not None
            else "no pipe found near the point"
        )
    if req.point is not None and row.d > req.max_snap_m:
        raise NotFound(
            f"no pipe within {req.max_snap_m:g} m of the point (nearest is {row.d:.0f} m away)"
        )
    return row
