"""Which valves isolate a pipe break: the break's valve segment, as WNTR defines it.

The broken pipe is found by id, or as the nearest pipe of the utility named at a point.
That utility's network within max_radius_m is read from PostGIS (isolation_network.py) and
cut into valve segments (segments.py): the pipes shut off are exactly the break's segment,
and the valves to close exactly the operable valves bounding it. A stuck valve (named in
`inoperable_valves`, or recorded broken) is passed through to the next valves out, and the
answer says which stuck valve added what. After the closures, parts of the network left
without a path to a tank, reservoir or source are cut-off zones, counted in the totals.
The customers on the stretches shut and cut off are read in the same transaction, as of
the same instant (isolation_customers.py), or estimated from EPANET demand.
"""

from __future__ import annotations

from typing import Any

from shapely import Point
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog, LayerSpec
from layers.access import Principal
from layers.errors import InvalidParameter, NotFound
from layers.query import DateTimeInterval
from spatial_api.analysis.buffer import check_distance
from spatial_api.analysis.geometry import parse_crs, sql_point
from spatial_api.analysis.isolation_answer import Outcome, features, stretches
from spatial_api.analysis.isolation_customers import Reach, customers_out
from spatial_api.analysis.isolation_network import Network, Plane, read_network
from spatial_api.analysis.models import IsolateRequest
from spatial_api.analysis.segments import Segmentation, cut_off, segment_network
from spatial_api.analysis.segments import isolate as isolate_segment
from spatial_api.analysis.sources import Selection, parse_when, select_features

MAX_RADIUS_M = 20_000.0

# The broken pipe: by asset id (on the indexed column, so {pipes} has no WHERE yet; the hash
# lets the planner probe the valid-time exclusion index, which it prefers, in 0.15 ms rather
# than walk it), or the nearest to a point (planar KNN on the GiST index, then geodesic re-rank).
BREAK_BY_ID = """
SELECT b.props, 0.0 AS d, ST_X(ST_Centroid(b.geom)) AS cx, ST_Y(ST_Centroid(b.geom)) AS cy
FROM ({pipes} WHERE t.asset_id = :pipe
      AND hashtextextended(t.asset_id, 0) = hashtextextended(:pipe, 0)) b
"""
BREAK_NEAR = """
SELECT c.props, c.d, ST_X(pt.g) AS cx, ST_Y(pt.g) AS cy
FROM (SELECT p.*, ST_Distance(p.geom::geography, pt.g::geography) AS d
      FROM ({pipes}) p, (SELECT {pt} AS g) pt
      ORDER BY p.geom <-> (SELECT {pt}) LIMIT 16) c, (SELECT {pt} AS g) pt
ORDER BY c.d LIMIT 1
"""


def network_inputs(
    catalog: Catalog, principal: Principal, req: Any, what: str
) -> tuple[DateTimeInterval | None, LayerSpec, LayerSpec]:
    """A network walk's checks (reach, snap, one instant, the readers) and its two layers;
    `req` has max_radius_m, max_snap_m, datetime and scenario (isolation, traces)."""
    check_distance("max_radius_m", req.max_radius_m, MAX_RADIUS_M)
    check_distance("max_snap_m", req.max_snap_m, 1000)
    when = parse_when(req.datetime_, req.scenario)
    if when is not None and when.period:
        raise InvalidParameter(f"datetime: {what} needs an instant, not an interval")
    return when, principal.layer(catalog, "pipelines"), principal.layer(catalog, "pipe_nodes")


async def isolate(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: IsolateRequest
) -> tuple[list[dict], bool]:
    when, pipes_spec, nodes_spec = network_inputs(catalog, principal, req, "isolation")
    # A click snaps to the nearest pipe of the utility named: six may run within 3 m.
    filters = None if req.point is None else {"utility": req.utility}
    async with conn.begin():
        brk = await find_break(conn, req, select_features(pipes_spec, when, filters, "c"))
        props = brk.props
        utility = props.get("utility")
        _check_break(props, req.utility)
        plane = Plane(brk.cx, brk.cy)
        network = await read_network(
            conn,
            select_features(pipes_spec, when, {"utility": utility}, "p"),
            select_features(nodes_spec, when, {"utility": utility}, "n"),
            plane,
            (brk.cx, brk.cy),
            req.max_radius_m,
        )
        seg = segment_network(network.pipes, network.valves, req.valve_tolerance_m)
        _refuse_without_valves(seg, network, utility, req.max_radius_m)
        # A click is the projection's centre; a pipe id shuts the whole pipe.
        at = props["asset_id"] if req.point is None else (props["asset_id"], Point(0, 0))
        iso = isolate_segment(seg, at, _stuck(seg, req.inoperable_valves, req.max_radius_m))
        fed = {seg.part_segment[q] for k in network.beyond for q in seg.pipe_parts[k]}
        zones = cut_off(seg, iso, network.sources, fed)
        outcome = Outcome(props["asset_id"], utility, seg, network, iso, zones, fed)
        reach = Reach(when, utility, plane, (brk.cx, brk.cy), req.max_radius_m)
        who = await customers_out(conn, catalog, principal, reach, outcome, stretches(outcome))
    found = features(outcome, req, plane, who.summary, who.features)
    return found, True


def _check_break(props: dict, utility: str | None) -> None:
    if utility is not None and props.get("utility") != utility:
        raise InvalidParameter(
            f"utility: pipe {props['asset_id']!r} is a {props.get('utility')} pipe, not {utility}"
        )
    if not props.get("from_node") or not props.get("to_node"):
        raise InvalidParameter(
            f"pipe {props['asset_id']!r} has no from_node/to_node: the network's topology "
            "is unknown there, so no valves can be found to isolate it"
        )


def _refuse_without_valves(
    seg: Segmentation, network: Network, utility: str, radius_m: float
) -> None:
    """Valves isolate a break only where there are valves that work: say so, rather than
    answer 'close 0 valves' with half a network shut off (a power network has none)."""
    placed = seg.placements.keys() | set(seg.valve_nodes.values())
    if any(seg.states[v] != "broken" for v in placed):
        return
    far = f" ({len(seg.unplaced)} valve points lie farther than valve_tolerance_m from any pipe)"
    raise InvalidParameter(
        f"no operable valve of the {utility} network within {radius_m:g} m of the break: "
        "it cannot be isolated by valves here" + (far if seg.unplaced else "")
    )


def _stuck(seg: Segmentation, names: list[str], radius_m: float) -> frozenset[str]:
    placed = seg.placements.keys() | set(seg.valve_nodes.values())
    unknown = sorted(set(names) - placed)
    if unknown:
        raise InvalidParameter(
            f"inoperable_valves: {', '.join(unknown)} not among the network's valves within "
            f"{radius_m:g} m of the break"
        )
    return frozenset(names)


async def find_break(conn: AsyncConnection, req: IsolateRequest, pipes: Selection) -> Any:
    """The pipe a request names, or the nearest of its utility to its point (traces too)."""
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
            else f"no {req.utility} pipe found near the point"
        )
    if req.point is not None and row.d > req.max_snap_m:
        raise NotFound(
            f"no {req.utility} pipe within {req.max_snap_m:g} m of the point "
            f"(nearest is {row.d:.0f} m away)"
        )
    return row
