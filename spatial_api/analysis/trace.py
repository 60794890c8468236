"""Upstream, downstream and connected traces on one utility's pipe network.

Flow direction of each link:
- Gravity drainage: from the higher invert to the lower. A pipe end's level is its Z
  (the layer's centreline elevation), or minus its cover depth when it has no Z; equal or
  unknown levels leave it from_node → to_node.
- Pressurised networks (water, gas, heating): away from the sources (tank, reservoir and
  source nodes). Each node gets its hop distance from the nearest source (breadth-first,
  pumps passable only from_node → to_node); a link flows from its nearer end to its
  farther end, from_node → to_node when both are equally far or neither is reached.
- Pumps (link_kind pump), in either kind of network, always flow from_node → to_node.
  The layer does not mark check valves, so no other link is directional.

Downstream from a pipe is the pipe and everything its outlet feeds; upstream, the pipe and
everything feeding its inlet; connected, every pipe of the utility reachable ignoring flow.
Only the network within max_radius_m of the start is read; `complete` says whether the
trace reached past it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog, LayerSpec
from layers.access import Principal
from layers.errors import InvalidParameter, NotFound
from layers.query import DateTimeInterval
from spatial_api.analysis import metric
from spatial_api.analysis.answer import feature
from spatial_api.analysis.isolation import find_break, network_inputs
from spatial_api.analysis.isolation_network import SOURCE_KINDS, capped_pipes
from spatial_api.analysis.models import Filter, IsolateRequest
from spatial_api.analysis.sources import Selection, select_features
from spatial_api.analysis.trace_models import TraceRequest

START_NODE = """
SELECT s.props, ST_X(s.geom) AS cx, ST_Y(s.geom) AS cy FROM ({nodes} WHERE t.asset_id = :node) s
"""
LINKS = """
SELECT p.props ->> 'asset_id' AS id, p.props ->> 'from_node' AS a, p.props ->> 'to_node' AS b,
       p.props ->> 'link_kind' AS kind,
       coalesce(ST_Z(ST_StartPoint(p.geom)), -(p.props ->> 'depth_start_m')::float8) AS z0,
       coalesce(ST_Z(ST_EndPoint(p.geom)), -(p.props ->> 'depth_end_m')::float8) AS z1,
       ST_X(ST_StartPoint(p.geom)) AS x0, ST_Y(ST_StartPoint(p.geom)) AS y0,
       ST_X(ST_EndPoint(p.geom)) AS x1, ST_Y(ST_EndPoint(p.geom)) AS y1,
       {length} AS length_m, {geojson} AS g, ST_Within(p.geom, {box}) AS inside
FROM ({pipes}) p
WHERE p.geom && {box} AND p.props ->> 'from_node' IS NOT NULL
  AND p.props ->> 'to_node' IS NOT NULL
LIMIT :max_pipes + 1
"""
NODES = """
SELECT n.props ->> 'asset_id' AS id, n.props ->> 'node_kind' AS kind,
       ST_X(n.geom) AS x, ST_Y(n.geom) AS y, {geojson} AS g
FROM ({nodes}) n
WHERE n.geom && {box}
"""


@dataclass(frozen=True)
class Start:
    utility: str
    centre: tuple[float, float]
    pipe: str | None
    node: str | None


async def trace(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: TraceRequest
) -> tuple[list[dict], bool]:
    when, pipes_spec, nodes_spec = network_inputs(catalog, principal, req, "a trace")
    async with conn.begin():
        start = await _start(conn, req, pipes_spec, nodes_spec, when)
        only: Filter = {"utility": start.utility}
        links, nodes = await _read(
            conn,
            select_features(pipes_spec, when, only, "p"),
            select_features(nodes_spec, when, only, "n"),
            start.centre,
            req.max_radius_m,
        )
    flow = _flow(links, nodes, start.utility)
    reached = _walk(flow, links, start, req.direction)
    return _features(req, start, links, nodes, flow, reached), True


async def _start(
    conn: AsyncConnection,
    req: TraceRequest,
    pipes_spec: LayerSpec,
    nodes_spec: LayerSpec,
    when: DateTimeInterval | None,
) -> Start:
    if req.node is not None:
        sel = select_features(nodes_spec, when, None, "s")
        sql = START_NODE.format(nodes=sel.sql)
        row = (await conn.execute(text(sql), sel.params | {"node": req.node})).first()
        if row is None:
            raise NotFound(f"no node {req.node!r} valid at that time")
        _check_utility("node", row.props, req.utility)
        return Start(row.props["utility"], (row.cx, row.cy), None, req.node)
    filters = None if req.point is None else {"utility": req.utility}
    # The isolation's own lookup: by id, or the nearest pipe of the utility to a point.
    find = IsolateRequest(
        pipe=req.pipe, point=req.point, utility=req.utility, crs=req.crs, max_snap_m=req.max_snap_m
    )
    row = await find_break(conn, find, select_features(pipes_spec, when, filters, "c"))
    _check_utility("pipe", row.props, req.utility)
    if not row.props.get("from_node") or not row.props.get("to_node"):
        raise InvalidParameter(
            f"pipe {row.props['asset_id']!r} has no from_node/to_node: the network's "
            "topology is unknown there, so it cannot be traced"
        )
    return Start(row.props["utility"], (row.cx, row.cy), row.props["asset_id"], None)


def _check_utility(what: str, props: dict, utility: str | None) -> None:
    if utility is not None and props.get("utility") != utility:
        raise InvalidParameter(
            f"utility: {what} {props['asset_id']!r} is a {props.get('utility')} {what}, "
            f"not {utility}"
        )


async def _read(
    conn: AsyncConnection,
    pipes: Selection,
    nodes: Selection,
    centre: tuple[float, float],
    radius_m: float,
) -> tuple[dict[str, Any], dict[str, Any]]:
    box = metric.search_box("ST_SetSRID(ST_MakePoint(:cx, :cy), 4490)", ":radius")
    params = {"cx": centre[0], "cy": centre[1], "radius": radius_m}
    sql = LINKS.format(
        pipes=pipes.sql,
        box=box,
        length=metric.length_m("p.geom"),
        geojson=metric.geojson("ST_Force2D(p.geom)"),
    )
    rows = await capped_pipes(conn, sql, pipes, params)
    sql = NODES.format(nodes=nodes.sql, box=box, geojson=metric.geojson("ST_Force2D(n.geom)"))
    node_rows = (
        await conn.execute(text(sql).bindparams(*nodes.binds), nodes.params | params)
    ).all()
    return {r.id: r for r in rows}, {r.id: r for r in node_rows}


def _levels(link: Any, nodes: dict[str, Any]) -> tuple[float | None, float | None]:
    """Levels at from_node and to_node: a line drawn against its from/to is read reversed
    (the nodes' points say so; without them, as drawn)."""
    a, b = nodes.get(link.a), nodes.get(link.b)
    if a is not None and b is not None:

        def d(x: float, y: float, n: Any) -> float:
            return (x - n.x) ** 2 + (y - n.y) ** 2

        drawn = d(link.x0, link.y0, a) + d(link.x1, link.y1, b)
        if d(link.x0, link.y0, b) + d(link.x1, link.y1, a) < drawn:
            return link.z1, link.z0
    return link.z0, link.z1


def _flow(links: dict[str, Any], nodes: dict[str, Any], utility: str) -> dict[str, tuple[str, str]]:
    """Each link's (upstream node, downstream node), by the rules in the module docstring."""
    out: dict[str, tuple[str, str]] = {}
    if utility == "drainage":
        for k, link in links.items():
            za, zb = _levels(link, nodes)
            reverse = link.kind != "pump" and za is not None and zb is not None and zb > za
            out[k] = (link.b, link.a) if reverse else (link.a, link.b)
        return out
    passable = nx.DiGraph()
    for link in links.values():
        passable.add_edge(link.a, link.b)
        if link.kind != "pump":
            passable.add_edge(link.b, link.a)
    sources = [n for n, r in nodes.items() if r.kind in SOURCE_KINDS and n in passable]
    hops: dict[str, int] = {}
    if sources:
        hops = dict(nx.multi_source_dijkstra_path_length(passable, sources, weight=None))
    for k, link in links.items():
        da, db = hops.get(link.a), hops.get(link.b)
        reverse = link.kind != "pump" and db is not None and (da is None or db < da)
        out[k] = (link.b, link.a) if reverse else (link.a, link.b)
    return out


def _walk(
    flow: dict[str, tuple[str, str]], links: dict[str, Any], start: Start, direction: str
) -> dict[str, int]:
    """Each pipe reached, with its depth: pipes between it and the start (the start's 0)."""
    g = nx.MultiDiGraph()
    for k, (u, v) in flow.items():
        g.add_edge(u, v, key=k)
    if direction == "upstream":
        g = g.reverse(copy=False)
    elif direction == "connected":
        g = nx.MultiGraph(g)
    depth: dict[str, int] = {}
    if start.pipe is not None:
        if start.pipe not in flow:
            raise NotFound(f"pipe {start.pipe!r} is outside the network read")
        depth[start.pipe] = 0
        u, v = flow[start.pipe]
        frontier = [u, v] if direction == "connected" else [u if direction == "upstream" else v]
    else:
        assert start.node is not None
        if start.node not in g:
            raise InvalidParameter(
                f"node {start.node!r} is no pipe's from_node or to_node: nothing to trace"
            )
        frontier = [start.node]
    seen = set(frontier)
    level = 0 if start.pipe is None else 1
    while frontier:
        nxt = []
        for n in frontier:
            for _, m, k in g.edges(n, keys=True):
                if k not in depth:
                    depth[k] = level
                if m not in seen:
                    seen.add(m)
                    nxt.append(m)
        frontier, level = nxt, level + 1
    return depth


def _features(
    req: TraceRequest,
    start: Start,
    links: dict[str, Any],
    nodes: dict[str, Any],
    flow: dict[str, tuple[str, str]],
    reached: dict[str, int],
) -> list[dict]:
    order = sorted(reached, key=lambda k: (reached[k], k))
    touched = sorted({n for k in order for n in (links[k].a, links[k].b)})
    length = sum(links[k].length_m for k in order)
    summary = {
        "role": "summary",
        "direction": req.direction,
        "utility": start.utility,
        "start_pipe": start.pipe,
        "start_node": start.node,
        "pipes": len(order),
        "length_m": length,
        "nodes": len(touched),
        "max_depth": max(reached.values(), default=0),
        "complete": all(links[k].inside for k in order),
    }
    out = [feature("summary", None, summary)]
    for i, k in enumerate(order):
        link = links[k]
        props = {
            "role": "traced_pipe",
            "asset_id": k,
            "order": i,
            "depth": reached[k],
            "length_m": link.length_m,
            "link_kind": link.kind,
            "flow_from": flow[k][0],
            "flow_to": flow[k][1],
        }
        out.append(feature(k, link.g, props))
    for n in touched:
        row = nodes.get(n)
        props = {"role": "traced_node", "asset_id": n, "node_kind": row.kind if row else None}
        out.append(feature(n, row.g if row else None, props))
    return out
