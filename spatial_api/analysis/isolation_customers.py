"""Who is out when the valves close: the customers on the stretches shut, or an estimate.

Service connections of the broken pipe's utility hang on the pipe their `pipe_id` names,
or, without one, on the nearest pipe of the network within SNAP_M. Each is projected onto
its pipe in the break's plane (metres from the pipe's from_node, as stretches are
measured): a pipe split by a valve along it puts out only the customers on the stretch
shut. Customers on the break's stretches are `isolated`, those on a cut-off zone's
`cut_off`, with the zone.

Where the caller may not read service_connections, or none lie in reach, the people out
are estimated as WNTR does (`wntr.metrics.population`): each node's average EPANET demand
(pipe_nodes.demand_m3s) over R = 8.76157e-6 m³/s, 200 US gallons a day per person,
rounded per node. Without either, the answer says it did not count them, and why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import Text

from layers import Catalog
from layers.access import Principal
from layers.errors import TooLarge
from layers.query import DateTimeInterval
from spatial_api.analysis import metric
from spatial_api.analysis.answer import feature
from spatial_api.analysis.isolation_answer import Outcome, Stretch
from spatial_api.analysis.isolation_network import Plane, columns
from spatial_api.analysis.sources import Selection, select_features

LAYER = "service_connections"
SNAP_M = 30.0  # how far a connection without pipe_id may lie from the pipe it hangs on
# wntr.metrics.population's default R: 200 US gallons a day per person, in m³/s (US EPA).
R_M3S_PER_PERSON = 0.00000876157
MAX_CONNECTIONS = 200_000
LAYER_METHOD = "service_connections layer"
ESTIMATE = (
    "estimate: average EPANET demand of the nodes out (pipe_nodes.demand_m3s) over 200 US "
    "gallons a day per person (R = 8.76157e-6 m³/s, as wntr.metrics.population), rounded "
    "per node; customers are not known one by one"
)

_BOX = metric.search_box("ST_SetSRID(ST_MakePoint(:cx, :cy), 4490)", ":radius")
# Connections in reach that hang on a pipe out, or on no pipe yet (snapped here).
CONNECTIONS = f"""
SELECT c.props, ST_X(c.geom) AS x, ST_Y(c.geom) AS y,
       {metric.geojson("c.geom")} AS g
FROM ({{connections}}) c
WHERE c.geom && {_BOX}
  AND (c.props ->> 'pipe_id' IS NULL OR c.props ->> 'pipe_id' = ANY(:out_pipes))
ORDER BY c.props ->> 'asset_id'
LIMIT :max_connections + 1
"""
ANY_IN_REACH = f"""
SELECT EXISTS (SELECT FROM ({{connections}}) c WHERE c.geom && {_BOX})
"""
# The nodes out with a recorded demand; when none, whether any node in reach has one (the
# network carries demands, and those out use none) or none does (nothing to estimate from).
DEMANDS = f"""
SELECT n.asset_id AS id, n.demand_m3s AS demand
FROM ({{nodes}}) n
WHERE n.geom && {_BOX} AND n.demand_m3s IS NOT NULL AND n.asset_id = ANY(:out_nodes)
"""
ANY_DEMAND = f"""
SELECT EXISTS (
    SELECT FROM ({{nodes}}) n WHERE n.geom && {_BOX} AND n.demand_m3s IS NOT NULL
)
"""


@dataclass(frozen=True)
class Reach:
    """Where and when the network was read: the same box and instant for the customers."""

    when: DateTimeInterval | None
    utility: str
    plane: Plane
    centre: tuple[float, float]
    radius_m: float

    @property
    def params(self) -> dict[str, Any]:
        return {"cx": self.centre[0], "cy": self.centre[1], "radius": self.radius_m}


@dataclass(frozen=True)
class Customer:
    props: dict[str, Any]
    pipe: str
    position_m: float
    snapped_m: float | None  # how far it was snapped to its pipe; None when pipe_id named it
    out: str  # isolated | cut_off
    zone: int | None
    geometry: dict


@dataclass(frozen=True)
class Customers:
    """The summary's customer fields and one Point feature per customer out."""

    summary: dict[str, Any]
    features: list[dict] = field(default_factory=list)


async def customers_out(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    reach: Reach,
    out: Outcome,
    stretches: list[Stretch],
) -> Customers:
    """The customers out from the layer, else the estimate from demands, else why not."""
    spec = catalog.get(LAYER)
    if spec is None or not principal.may_see(spec):
        why = f"role {principal.role.name!r} may not read {LAYER}"
    else:
        found = await _from_layer(
            conn, select_features(spec, reach.when, _of(reach), "k"), reach, out, stretches
        )
        if found is not None:
            return found
        why = f"no {LAYER} of the {reach.utility} network within {reach.radius_m:g} m"
    return await _estimate(conn, catalog, principal, reach, out, why)


def _of(reach: Reach) -> dict[str, Any]:
    return {"utility": reach.utility}


async def _from_layer(
    conn: AsyncConnection,
    connections: Selection,
    reach: Reach,
    out: Outcome,
    stretches: list[Stretch],
) -> Customers | None:
    pipes = sorted({s.pipe for s in stretches})
    query = text(CONNECTIONS.format(connections=connections.sql)).bindparams(
        *connections.binds, bindparam("out_pipes", type_=ARRAY(Text))
    )
    params = connections.params | reach.params
    rows = list(
        await conn.execute(query, params | {"out_pipes": pipes, "max_connections": MAX_CONNECTIONS})
    )
    if len(rows) > MAX_CONNECTIONS:
        raise TooLarge(
            f"more than {MAX_CONNECTIONS} service connections in reach: lower max_radius_m"
        )
    if not rows:
        sql = text(ANY_IN_REACH.format(connections=connections.sql)).bindparams(*connections.binds)
        if not (await conn.execute(sql, params)).scalar():
            return None
    placed, unplaced = _place(rows, reach.plane, out, stretches)
    return Customers(_layer_summary(placed, unplaced), [_feature(c) for c in placed])


def _place(
    rows: list[Any], plane: Plane, out: Outcome, stretches: list[Stretch]
) -> tuple[list[Customer], int]:
    """The customers on a stretch out, and how many had no pipe within SNAP_M."""
    seg = out.seg
    on_pipe: dict[str, list[Stretch]] = {}
    for s in stretches:
        on_pipe.setdefault(s.pipe, []).append(s)
    xy = np.array([(r.x, r.y) for r in rows], dtype=float).reshape(-1, 2)
    points = plane.forward(shapely.points(xy))
    nearest = _nearest(seg.tree, seg.drawn, points, [r.props.get("pipe_id") is None for r in rows])
    found: list[Customer] = []
    unplaced = 0
    for i, (r, pt) in enumerate(zip(rows, points, strict=True)):
        pipe, snapped = r.props.get("pipe_id"), None
        if pipe is None:
            if i not in nearest:
                unplaced += 1
                continue
            snapped, pipe = nearest[i]
        line = seg.pipes[pipe].geometry if pipe in seg.pipes else None
        if line is None:  # on a pipe beyond reach, or a pump drawn as a point
            continue
        pos = float(line.project(pt))
        hit = next((s for s in on_pipe.get(pipe, ()) if s.start <= pos <= s.end), None)
        if hit is None:
            continue
        role = "isolated" if hit.role == "isolated_pipe" else "cut_off"
        found.append(Customer(r.props, pipe, pos, snapped, role, hit.zone, r.g))
    found.sort(key=lambda c: (c.out != "isolated", c.zone or 0, c.pipe, c.position_m))
    return found, unplaced


def _nearest(
    tree: shapely.STRtree, drawn: tuple[str, ...], points: np.ndarray, wanted: list[bool]
) -> dict[int, tuple[float, str]]:
    """Row → (distance, pipe) of the nearest drawn pipe within SNAP_M, for the rows wanted
    (a point on a junction touches all its pipes: the lowest id, as valves snap)."""
    which = np.flatnonzero(wanted)
    if not which.size or not drawn:
        return {}
    (i, j), d = tree.query_nearest(
        points[which], max_distance=SNAP_M, return_distance=True, all_matches=True
    )
    best: dict[int, tuple[float, str]] = {}
    for a, b, dist in zip(i, j, d, strict=True):
        row, hit = int(which[a]), (round(float(dist), 3), drawn[b])
        best[row] = min(best.get(row, hit), hit)
    return best


def _layer_summary(placed: list[Customer], unplaced: int) -> dict[str, Any]:
    isolated = [c for c in placed if c.out == "isolated"]
    cut = [c for c in placed if c.out == "cut_off"]
    return {
        "customers_method": LAYER_METHOD,
        "customers_note": None,
        "customers_out": len(placed),
        "customers_out_by_kind": dict(sorted(Counter(c.props["kind"] for c in placed).items())),
        "isolated_customers": len(isolated),
        "cut_off_customers": len(cut),
        "people_out": _people(placed),
        "isolated_people": _people(isolated),
        "cut_off_people": _people(cut),
        "customers_without_people": sum(c.props.get("people") is None for c in placed),
        "critical_customers": [
            {
                "customer_id": c.props["customer_id"],
                "name": c.props.get("name"),
                "critical_kind": c.props.get("critical_kind"),
                "pipe": c.pipe,
                "role": c.out,
                "zone": c.zone,
            }
            for c in placed
            if c.props["kind"] == "critical"
        ],
        "customers_snapped": sum(c.snapped_m is not None for c in placed),
        "customers_unplaced": unplaced,
        "customers_snap_m": SNAP_M,
    }


def _people(customers: list[Customer]) -> int:
    return sum(int(c.props.get("people") or 0) for c in customers)


def _feature(c: Customer) -> dict:
    p = c.props
    return feature(
        None,
        c.geometry,
        {
            "role": "customer",
            "asset_id": p["asset_id"],
            "customer_id": p["customer_id"],
            "kind": p["kind"],
            "name": p.get("name"),
            "critical_kind": p.get("critical_kind"),
            "people": p.get("people"),
            "address": p.get("address"),
            "pipe": c.pipe,
            "position_m": c.position_m,
            "snap_distance_m": c.snapped_m,
            "out": c.out,
            "zone": c.zone,
        },
    )


def _unknown(method: str, note: str) -> dict[str, Any]:
    """The customer fields when customers are not known one by one."""
    return {
        "customers_method": method,
        "customers_note": note,
        "customers_out": None,
        "customers_out_by_kind": {},
        "isolated_customers": None,
        "cut_off_customers": None,
        "people_out": None,
        "isolated_people": None,
        "cut_off_people": None,
        "customers_without_people": None,
        "critical_customers": [],
        "customers_snapped": None,
        "customers_unplaced": None,
        "customers_snap_m": SNAP_M,
    }


async def _estimate(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    reach: Reach,
    out: Outcome,
    why: str,
) -> Customers:
    seg, iso = out.seg, out.iso
    zone_nodes = {n for z in out.zones for s in z for n in seg.segments[s].nodes}
    nodes = select_features(principal.layer(catalog, "pipe_nodes"), reach.when, _of(reach), "d")
    params = nodes.params | reach.params
    # The two columns only: building every node's attribute object cost 100-260 ms.
    just = columns(nodes, "t.asset_id, t.demand_m3s")
    sql = text(DEMANDS.format(nodes=just)).bindparams(
        *nodes.binds, bindparam("out_nodes", type_=ARRAY(Text))
    )
    rows = await conn.execute(sql, params | {"out_nodes": sorted(iso.nodes | zone_nodes)})
    demand: dict[str, float] = {r.id: r.demand for r in rows}
    known = bool(demand)
    if not known:
        sql = text(ANY_DEMAND.format(nodes=just)).bindparams(*nodes.binds)
        known = bool((await conn.execute(sql, params)).scalar())
    if not known:
        return Customers(
            _unknown(
                f"not counted: {why}, and the {reach.utility} pipe_nodes in reach hold no "
                "EPANET demand (demand_m3s) to estimate them from",
                why,
            )
        )
    isolated = _persons(demand, iso.nodes)
    cut = _persons(demand, zone_nodes - iso.nodes)
    return Customers(
        _unknown(ESTIMATE, why)
        | {"people_out": isolated + cut, "isolated_people": isolated, "cut_off_people": cut}
    )


def _persons(demand: dict[str, float], nodes: set[str] | frozenset[str]) -> int:
    """wntr.metrics.population over these nodes: demand / R, rounded per node."""
    return int(sum(round(demand[n] / R_M3S_PER_PERSON) for n in nodes if n in demand))
