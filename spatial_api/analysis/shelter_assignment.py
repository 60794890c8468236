"""People in a hazard zone assigned to shelters outside it, by road time, within capacity.

- **People** (`people_source` in the summary) are the `origins` typed in; without them,
  the population layer's cells in the zone, each an origin at a point of its part inside
  with its share of the people by area (as `impact` counts them; rounded to whole people
  by largest remainder, so the total is the rounded sum); with no cell there, the
  protected targets' occupants. With `include_visitors`, scenic sites' estimated visitors
  are origins too.
- **Shelters** are those within `search_m` of the zone, outside every ring, whose status
  is open (or not recorded). Capacity is the layer's, or when missing `area_m2` divided
  by the area per person of GB 50413-2007 8.2.8: at least 1 m² in an emergency shelter,
  2 m² in a fixed one (`shelter_class`).
- **Times** are road times over routing's graph, as of `datetime` (`travel_times`).
- **The assignment** is a min-cost flow (networkx network simplex, exact on integers): each
  origin sends its people to shelters (cost: whole deciseconds of driving) or to
  "unassigned" at a cost M above any saving rerouting could make, so it houses as many
  people as capacity and reach allow, then minimises the total person-seconds driven.
  Origins snapped to one road node are pooled for the solver (same roads, same costs).

Features: the `summary` (no geometry), each candidate `shelter` (usable or why not, with
assigned and remaining), each `origin` (assigned, unassigned and why), then each
`assignment`: a straight line from origin to shelter with its people and road time (the
road itself: /lbs/route).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from pyproj import Transformer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import InvalidParameter
from layers.spec import STORAGE_SRID
from spatial_api.analysis import incident_zones, metric, people
from spatial_api.analysis.answer import feature
from spatial_api.analysis.buffer import check_distance
from spatial_api.analysis.geometry import CrsChoice, parse_crs, parse_geometry
from spatial_api.analysis.impact import SECTIONS, find, people_of, visitors_of, zone_extent
from spatial_api.analysis.impact_models import ShelterAssignmentRequest
from spatial_api.analysis.routing import MAX_TIME_S, build_graph
from spatial_api.analysis.sources import parse_when, select_features
from spatial_api.analysis.travel_times import snap_all, travel_times
from spatial_api.analysis.zones import Ring, union_sql

AREA_PER_PERSON_M2 = {"emergency": 1.0, "fixed": 2.0}
AREA_SOURCE = "GB 50413-2007 8.2.8 (per-person effective area)"
SOLVER = "min-cost flow, networkx network_simplex"
SHELTERS = """
WITH z AS (SELECT {zone} AS geom)
SELECT s.props, ST_X(s.geom) AS x, ST_Y(s.geom) AS y, ST_Intersects(s.geom, z.geom) AS inside
FROM ({src}) s, z
WHERE s.geom && {box} AND ST_DWithin(s.geom::geography, z.geom::geography, :search)
ORDER BY s.props ->> 'asset_id'
"""
CENTRE = "ST_SetSRID(ST_MakePoint(:cx, :cy), 4490)"


@dataclass
class Place:
    """An origin (people) or a shelter (capacity) and what became of it."""

    layer: str
    props: dict[str, Any]
    lonlat: tuple[float, float]
    amount: int  # people, or capacity
    ring: str | None = None
    capacity_source: str | None = None
    reason: str | None = None  # why it is not used, if not
    node: int | None = None
    snap_m: float | None = None
    flows: dict[int, int] = field(default_factory=dict)  # other side's index → people


def min_cost_assignment(
    people: list[int], capacity: list[int], cost: dict[tuple[int, int], int]
) -> dict[tuple[int, int], int]:
    """People per (origin, shelter): as many housed as possible, then least total cost.

    Every path that reroutes people alternates origins and shelters, so it has at most
    2·min(origins, shelters) + 1 arcs and saves less than (min + 1)·max cost: M above that
    makes housing one more person always worth more than any saving in time.
    """
    if not people:
        return {}
    g = nx.DiGraph()
    top = max(cost.values(), default=0)
    m = (min(len(people), len(capacity)) + 1) * top + 1
    for i, n in enumerate(people):
        g.add_node(("o", i), demand=-n)
        g.add_edge(("o", i), "unassigned", weight=m)
    for j, c in enumerate(capacity):
        g.add_edge(("s", j), "sink", weight=0, capacity=c)
    g.add_edge("unassigned", "sink", weight=0)
    g.add_node("sink", demand=sum(people))
    for (i, j), c in cost.items():
        g.add_edge(("o", i), ("s", j), weight=c)
    _, flow = nx.network_simplex(g)
    return {
        (i, to[1]): f
        for i in range(len(people))
        for to, f in flow[("o", i)].items()
        if to != "unassigned" and f > 0
    }


async def _origins(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    rings: list[Ring],
    req: ShelterAssignmentRequest,
) -> tuple[list[Place], str]:
    """The origins and where their people came from."""
    when = parse_when(req.datetime_, req.scenario)
    layers = ["scenic_sites"] if req.include_visitors else []
    if req.origins is not None:
        out, source = _typed(req), "origins"
    else:
        parts = await people.cell_parts(conn, catalog, rings, when) or []
        out, source = _cells(parts, rings), "population"
        if not out:
            layers.insert(0, "protected_targets")
            source = "protected_targets"
    principal.refuse_hidden([catalog[layer] for layer in layers])
    for section in (s for s in SECTIONS if s.layer in layers):
        for hit in await find(conn, catalog, section, rings, when):
            n = (
                people_of(hit)
                if section.layer == "protected_targets"
                else visitors_of(hit.props, req.visitors) or 0
            )
            if n > 0:
                lonlat = tuple(hit.geometry["coordinates"][:2])
                out.append(Place(section.layer, hit.props, lonlat, n, rings[hit.ring].name))
    return out, source + (" + scenic_sites" if req.include_visitors else "")


def _typed(req: ShelterAssignmentRequest) -> list[Place]:
    assert req.origins is not None
    crs = parse_crs(req.crs)
    return [
        Place(
            "origins",
            {"asset_id": o.id or f"origin{i}"},
            _lonlat(o.point, crs),
            o.people,
        )
        for i, o in enumerate(req.origins, 1)
        if o.people > 0
    ]


def _lonlat(point: tuple[float, float], crs: CrsChoice) -> tuple[float, float]:
    g = parse_geometry({"type": "Point", "coordinates": list(point)}, crs)
    if crs.geographic:  # WGS 84 and CGCS2000 agree to centimetres
        return (g.x, g.y)
    x, y = Transformer.from_crs(crs.srid, STORAGE_SRID, always_xy=True).transform(g.x, g.y)
    return (float(x), float(y))


def _cells(parts: list[people.CellPart], rings: list[Ring]) -> list[Place]:
    """One origin per cell: its share in the zone, placed in its largest part inside."""
    cells: dict[str, list[people.CellPart]] = {}
    for p in parts:
        cells.setdefault(p.id, []).append(p)
    inside = {k: sum(p.inside for p in ps) for k, ps in cells.items()}
    whole = whole_people(inside)
    out = []
    for k, ps in cells.items():
        if whole[k] > 0:
            big = max(ps, key=lambda p: p.share)
            props = {
                "asset_id": k,
                "people_in_cell": big.people,
                "share": sum(p.share for p in ps),
                "basis": big.basis,
                "source_name": big.source,
            }
            out.append(Place("population", props, big.lonlat, whole[k], rings[big.ring].name))
    return out


def whole_people(amounts: dict[str, float]) -> dict[str, int]:
    """Whole people per key adding up to the rounded total (largest remainder)."""
    floors = {k: math.floor(v) for k, v in amounts.items()}
    left = round(sum(amounts.values())) - sum(floors.values())
    by_rest = sorted(amounts, key=lambda k: (floors[k] - amounts[k], k))
    for k in by_rest[: max(left, 0)]:
        floors[k] += 1
    return floors


def _capacity(props: dict[str, Any], shelter_class: str) -> tuple[int | None, str | None]:
    if props.get("capacity") is not None:
        return props["capacity"], "layer"
    if props.get("area_m2") is not None:
        per = AREA_PER_PERSON_M2[shelter_class]
        return math.floor(props["area_m2"] / per), f"area_m2 / {per:g} m² per person"
    return None, None


async def _shelters(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    zone: tuple[str, dict],
    centre: dict[str, float],
    radius_m: float,
    req: ShelterAssignmentRequest,
) -> list[Place]:
    sel = select_features(
        principal.layer(catalog, "shelters"), parse_when(req.datetime_, req.scenario), None
    )
    sql = SHELTERS.format(zone=zone[0], src=sel.sql, box=metric.search_box(CENTRE, ":radius"))
    params = sel.params | zone[1] | centre | {"radius": radius_m, "search": req.search_m}
    rows = (await conn.execute(text(sql).bindparams(*sel.binds), params)).all()
    out = []
    for r in rows:
        capacity, source = _capacity(r.props, req.shelter_class)
        status = r.props.get("status")
        reason = (
            "inside the zone"
            if r.inside
            else f"status {status}"
            if status not in (None, "open")
            else "no capacity or area_m2"
            if capacity is None
            else "capacity 0"
            if capacity == 0
            else None
        )
        out.append(Place("shelters", r.props, (r.x, r.y), capacity or 0, None, source, reason))
    return out


async def assign_shelters(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: ShelterAssignmentRequest
) -> list[dict]:
    """The summary, shelters, origins and assignments (see the module docstring)."""
    check_distance("search_m", req.search_m, 50_000)
    check_distance("max_snap_m", req.max_snap_m, 10_000)
    if req.max_time_s is not None and not 0 < req.max_time_s <= MAX_TIME_S:
        raise InvalidParameter(f"max_time_s: {req.max_time_s:g} is not in (0, {MAX_TIME_S}] s")
    rings = await incident_zones.rings_of(conn, catalog, principal, req)
    zone = union_sql(rings, "zn")
    async with conn.begin():
        ext = await zone_extent(conn, rings)
        centre = {"cx": ext.lon, "cy": ext.lat}
        origins, source = await _origins(conn, catalog, principal, rings, req)
        shelters = await _shelters(
            conn, catalog, principal, zone, centre, ext.radius_m + req.search_m, req
        )
        usable = [s for s in shelters if s.reason is None]
        times: dict[tuple[int, int], float] = {}
        if origins and usable:
            # Room for detours: roads twice the search distance beyond the zone.
            radius = ext.radius_m + 2 * req.search_m + req.max_snap_m
            await build_graph(conn, catalog, principal, req.datetime_, (CENTRE, centre), radius)
            usable, times = await _road_times(conn, origins, usable, req)
    for (i, j), n in _pooled_flows(origins, usable, times).items():
        origins[i].flows[j] = n
        usable[j].flows[i] = n
    return _features(req, origins, shelters, usable, times, source)


def _pooled_flows(
    origins: list[Place], usable: list[Place], times: dict[tuple[int, int], float]
) -> dict[tuple[int, int], int]:
    """The optimal flows, solved with the origins on one road node pooled: they drive the
    same roads at the same cost, so any split among them is as good (a population grid
    puts several cells on a node), and the solver sees one origin per node."""
    groups: dict[object, list[int]] = {}
    for i, o in enumerate(origins):
        groups.setdefault(o.node if o.node is not None else ("unplaced", i), []).append(i)
    pools = list(groups.values())
    cost = {
        (g, j): round(times[pool[0], j] * 10)
        for g, pool in enumerate(pools)
        for j in range(len(usable))
        if (pool[0], j) in times
    }
    pooled = min_cost_assignment(
        [sum(origins[i].amount for i in pool) for pool in pools], [s.amount for s in usable], cost
    )
    left = [o.amount for o in origins]
    out: dict[tuple[int, int], int] = {}
    for (g, j), n in sorted(pooled.items()):
        for i in pools[g]:
            take = min(n, left[i])
            if take:
                out[i, j] = take
                left[i] -= take
                n -= take
    return out


async def _road_times(
    conn: AsyncConnection,
    origins: list[Place],
    shelters: list[Place],
    req: ShelterAssignmentRequest,
) -> tuple[list[Place], dict[tuple[int, int], float]]:
    """The shelters on the roads, and seconds (origin index, shelter index) within max_time_s."""
    places = origins + shelters
    for p, snapped in zip(
        places, await snap_all(conn, [p.lonlat for p in places], req.max_snap_m), strict=True
    ):
        p.node, p.snap_m = snapped.node, snapped.distance_m
    for s in shelters:
        if s.node is None:
            s.reason = f"no road within {req.max_snap_m:g} m"
    shelters = [s for s in shelters if s.node is not None]
    by_node = await travel_times(
        conn,
        [o.node for o in origins if o.node is not None],
        [s.node for s in shelters if s.node is not None],
    )
    limit = req.max_time_s if req.max_time_s is not None else math.inf
    times = {}
    for i, o in enumerate(origins):
        for j, s in enumerate(shelters):
            t = by_node.get((o.node, s.node)) if o.node is not None and s.node is not None else None
            if t is not None and t <= limit:
                times[i, j] = t
    return shelters, times


def _features(
    req: ShelterAssignmentRequest,
    origins: list[Place],
    shelters: list[Place],
    usable: list[Place],
    times: dict[tuple[int, int], float],
    source: str,
) -> list[dict]:
    reach = {i for i, _ in times}
    for i, o in enumerate(origins):
        left = o.amount - sum(o.flows.values())
        if left:
            o.reason = (
                f"no road within {req.max_snap_m:g} m"
                if o.node is None
                else "no usable shelter within reach"
                if i not in reach
                else "reachable shelters are full"
            )
    total = sum(o.amount for o in origins)
    assigned = sum(sum(o.flows.values()) for o in origins)
    person_s = sum(n * times[i, j] for i, o in enumerate(origins) for j, n in o.flows.items())
    summary = {
        "role": "summary",
        "people": total,
        "people_source": source,
        "assigned": assigned,
        "unassigned": total - assigned,
        "shelters_considered": len(shelters),
        "shelters_usable": len(usable),
        "shelters_used": sum(1 for s in usable if s.flows),
        "capacity_usable": sum(s.amount for s in usable),
        "mean_time_s": person_s / assigned if assigned else None,
        "max_time_s": max(
            (times[i, j] for i, o in enumerate(origins) for j in o.flows), default=None
        ),
        "shelter_class": req.shelter_class,
        "area_per_person_m2": AREA_PER_PERSON_M2[req.shelter_class],
        "area_source": AREA_SOURCE,
        "solver": SOLVER,
    }
    out = [feature("summary", None, summary)]
    out += [_place(p) for p in shelters + origins]
    for i, o in enumerate(origins):
        for j, n in sorted(o.flows.items()):
            s = usable[j]
            out.append(
                feature(
                    f"assignment:{o.props['asset_id']}:{s.props['asset_id']}",
                    {"type": "LineString", "coordinates": [list(o.lonlat), list(s.lonlat)]},
                    {
                        "role": "assignment",
                        "origin": o.props["asset_id"],
                        "shelter": s.props["asset_id"],
                        "people": n,
                        "duration_s": times[i, j],
                    },
                )
            )
    return out


def _place(p: Place) -> dict:
    """A shelter (usable or why not) or an origin, with the people it took or sent."""
    done = sum(p.flows.values())
    if p.layer == "shelters":
        ok = p.reason is None
        extra: dict[str, Any] = {
            "role": "shelter",
            "usable": ok,
            "capacity_used": p.amount if ok else None,
            "capacity_source": p.capacity_source,
            "remaining": p.amount - done if ok else None,
        }
    else:
        extra = {
            "role": "origin",
            "layer": p.layer,
            "ring": p.ring,
            "people": p.amount,
            "unassigned": p.amount - done,
        }
    extra |= {"assigned": done, "reason": p.reason, "snap_m": p.snap_m}
    return feature(f"{p.layer}:{p.props['asset_id']}", _point(p.lonlat), p.props | extra)


def _point(lonlat: tuple[float, float]) -> dict:
    return {"type": "Point", "coordinates": list(lonlat)}
