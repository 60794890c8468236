"""What a hazard zone holds, ring by ring: people, targets, sites, shelters, assets, roads.

The zone's rings are exclusive, innermost first (see `zones`): a point is counted in the
first ring that holds it (boundary included), a pipe or road by the part of it inside
each ring. Lengths are geodesic (`ST_Length` on geography) of the parts cut in lon/lat.

The answer's first features are the rings (role `ring`, the exclusive polygon), then the
whole zone (role `total`), each with counts; then one feature per item found, with its
layer's attributes and `ring`:

- `protected_target`: `people`, the target's `population` (people present; null when not
  recorded, and counted in the ring's `people_unknown`);
- `scenic_site`: `visitors_estimate`, the instantaneous capacity of LB/T 034-2014, daily
  capacity × visit_h / open_h (an upper bound: the site full);
- `shelter_unusable`: a shelter inside the zone, whatever its status;
- `hazard_source`: a domino risk; `base_station`: communications at risk;
- `pipeline` and `road_closed`: the part inside the ring (clipped), with `length_m`.

`people` are the protected targets' occupants (`PEOPLE` names each layer that counts them
and its attribute). `population` are the population layer's people (grid cells or
polygons, e.g. a WorldPop raster), each cell counting its share by geodesic area
(`people`), with the cells counted, their basis and sources; null when the layer holds
no cell at that time, since 0 would read as "nobody there".

The zone's total also says which gas valves to close to cut supply into it: one isolation
of every gas pipe crossing it (`gas_valves`), each valve a `gas_valve` item.

Restricted layers (pipelines, hazard sources) are read only for callers who may: by
default the others are `withheld` and their counts are null, never zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.common import UTILITIES
from layers.query import DateTimeInterval
from spatial_api.analysis import incident_zones, metric, people
from spatial_api.analysis.answer import feature
from spatial_api.analysis.gas_valves import Extent, gas_valves, unknown
from spatial_api.analysis.impact_models import ImpactLayer, ImpactRequest, Visitors
from spatial_api.analysis.sources import parse_when, select_features
from spatial_api.analysis.zones import Ring, rings_cte, union_sql


@dataclass(frozen=True)
class Section:
    layer: ImpactLayer
    role: str
    kind: Literal["point", "line"]
    count: str  # the count's name in a ring's summary


SECTIONS = (
    Section("protected_targets", "protected_target", "point", "protected_targets"),
    Section("scenic_sites", "scenic_site", "point", "scenic_sites"),
    Section("shelters", "shelter_unusable", "point", "shelters_unusable"),
    Section("hazard_sources", "hazard_source", "point", "hazard_sources"),
    Section("pipelines", "pipeline", "line", "pipelines"),
    Section("base_stations", "base_station", "point", "base_stations"),
    Section("roads", "road_closed", "line", "roads_closed"),
)
PEOPLE = {"protected_targets": "population"}  # layer → its attribute of people present

POINTS = """
WITH {rings}
SELECT DISTINCT ON (s.props ->> 'asset_id') r.i, s.props, {gj} AS g
FROM ({src}) s JOIN r ON ST_Intersects(s.geom, r.geom)
ORDER BY s.props ->> 'asset_id', r.i
"""
LINES = """
WITH {rings}
SELECT r.i, s.props, {gj} AS g, {length} AS length_m
FROM ({src}) s JOIN r ON ST_Intersects(s.geom, r.geom),
     LATERAL (SELECT ST_CollectionExtract(ST_Intersection(ST_Force2D(s.geom), r.geom), 2)
              AS part) x
WHERE {length} > 0
ORDER BY r.i, s.props ->> 'asset_id'
"""
# The zone's centroid and its farthest vertex, which bound the searches around it.
EXTENT = """
WITH z AS (SELECT {zone} AS geom), c AS (SELECT ST_Centroid(geom) AS c, geom FROM z)
SELECT ST_X(c.c) AS x, ST_Y(c.c) AS y,
       (SELECT max(ST_Distance(c.c::geography, d.geom::geography)) FROM ST_DumpPoints(c.geom) d)
         AS r
FROM c
"""
RINGS = "WITH {rings} SELECT r.i, {gj} AS g, {area} AS area_m2 FROM r ORDER BY r.i"
TOTAL = "SELECT {gj} AS g, {area} AS area_m2 FROM (SELECT {union} AS geom) u"


@dataclass(frozen=True)
class Hit:
    """One item found: the ring it is counted in (0-based), its attributes and geometry."""

    section: Section
    ring: int
    props: dict[str, Any]
    geometry: dict
    length_m: float | None = None


async def zone_extent(conn: AsyncConnection, rings: list[Ring]) -> Extent:
    zone, params = union_sql(rings, "ze")
    row = (await conn.execute(text(EXTENT.format(zone=zone)), params)).one()
    return Extent(row.x, row.y, row.r)


def choose_sections(
    catalog: Catalog, principal: Principal, layers: list[ImpactLayer] | None
) -> tuple[list[Section], list[str]]:
    """The sections to report and the layers withheld from this caller."""
    if layers is not None:
        principal.refuse_hidden([catalog[layer] for layer in layers])
        return [s for s in SECTIONS if s.layer in layers], []
    seen = [s for s in SECTIONS if principal.may_see(catalog[s.layer])]
    return seen, [s.layer for s in SECTIONS if s not in seen]


def _wants_population(
    catalog: Catalog, principal: Principal, layers: list[ImpactLayer] | None
) -> bool:
    return principal.may_see(catalog["population"]) and (layers is None or "population" in layers)


async def _gas(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    req: ImpactRequest,
    rings: list[Ring],
    sections: list[Section],
    hits: list[Hit],
) -> tuple[dict[str, Any], list[dict]]:
    """The gas isolation, when the pipelines are reported (so read by this caller)."""
    if not any(s.layer == "pipelines" for s in sections):
        return unknown("pipelines not reported"), []
    if not principal.may_see(catalog["pipe_nodes"]):
        return unknown("pipe_nodes withheld from this role"), []
    crossing = [
        h.props["asset_id"]
        for h in hits
        if h.section.layer == "pipelines" and h.props.get("utility") == "gas"
    ]
    when = parse_when(req.datetime_, req.scenario)
    extent = await zone_extent(conn, rings)
    return await gas_valves(conn, catalog, crossing, when, extent, req.gas)


async def find(
    conn: AsyncConnection,
    catalog: Catalog,
    section: Section,
    rings: list[Ring],
    when: DateTimeInterval | None,
) -> list[Hit]:
    """The section's items in the rings (access is the caller's to check)."""
    sel = select_features(catalog[section.layer], when, None)
    cte, params = rings_cte(rings)
    if section.kind == "point":
        sql = POINTS.format(rings=cte, src=sel.sql, gj=metric.geojson("s.geom"))
    else:
        sql = LINES.format(
            rings=cte, src=sel.sql, gj=metric.geojson("x.part"), length=metric.length_m("x.part")
        )
    rows = (await conn.execute(text(sql).bindparams(*sel.binds), sel.params | params)).all()
    hits = [
        Hit(section, r.i - 1, r.props, r.g, getattr(r, "length_m", None))
        for r in sorted(rows, key=lambda r: (r.i, r.props["asset_id"]))
    ]
    return hits


def people_of(hit: Hit) -> int:
    attr = PEOPLE.get(hit.section.layer)
    return int(hit.props.get(attr) or 0) if attr else 0


def visitors_of(props: dict[str, Any], basis: Visitors) -> int | None:
    """LB/T 034-2014's instantaneous capacity from the daily one (None without a capacity)."""
    capacity = props.get("capacity")
    return None if capacity is None else round(capacity * basis.visit_h / basis.open_h)


def _item(hit: Hit, rings: list[Ring], basis: Visitors) -> dict:
    s = hit.section
    extra: dict[str, Any] = {"role": s.role, "layer": s.layer, "ring": rings[hit.ring].name}
    if s.layer in PEOPLE:
        extra["people"] = hit.props.get(PEOPLE[s.layer])  # None: not known
    if s.layer == "scenic_sites":
        extra["visitors_estimate"] = visitors_of(hit.props, basis)
    if s.layer == "shelters":
        extra |= {"usable": False, "reason": "inside the zone"}
    if hit.length_m is not None:
        extra["length_m"] = hit.length_m
    fid = f"{s.layer}:{hit.props['asset_id']}" + (f":{hit.ring + 1}" if s.kind == "line" else "")
    return feature(fid, hit.geometry, hit.props | extra)


def _counts(hits: list[Hit], sections: list[Section], basis: Visitors) -> dict[str, Any]:
    """A summary's counts; those of sections not reported stay null (unknown, not zero)."""
    out: dict[str, Any] = {s.count: None for s in SECTIONS}
    out |= dict.fromkeys(
        [
            "people",
            "people_unknown",
            "visitors_estimate",
            "shelter_capacity_lost",
            "roads_closed_m",
        ],
        None,
    )
    out |= {f"pipelines_{u}_{m}": None for u in UTILITIES for m in ("count", "m")}
    for s in sections:
        mine = [h for h in hits if h.section == s]
        out[s.count] = len({h.props["asset_id"] for h in mine})
        if s.layer in PEOPLE:
            out["people"] = (out["people"] or 0) + sum(people_of(h) for h in mine)
            unknown = sum(1 for h in mine if h.props.get(PEOPLE[s.layer]) is None)
            out["people_unknown"] = (out["people_unknown"] or 0) + unknown
        elif s.layer == "scenic_sites":
            out["visitors_estimate"] = sum(visitors_of(h.props, basis) or 0 for h in mine)
        elif s.layer == "shelters":
            out["shelter_capacity_lost"] = sum(h.props.get("capacity") or 0 for h in mine)
        elif s.layer == "roads":
            out["roads_closed_m"] = sum(h.length_m or 0.0 for h in mine)
        elif s.layer == "pipelines":
            for u in UTILITIES:
                pipes = [h for h in mine if h.props.get("utility") == u]
                out[f"pipelines_{u}_count"] = len({h.props["asset_id"] for h in pipes})
                out[f"pipelines_{u}_m"] = sum(h.length_m or 0.0 for h in pipes)
    return out


async def impact(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: ImpactRequest
) -> tuple[list[dict], bool]:
    """Ring summaries, the zone's total, then the items; and whether restricted layers fed it."""
    sections, withheld = choose_sections(catalog, principal, req.layers)
    rings = await incident_zones.rings_of(conn, catalog, principal, req)
    when = parse_when(req.datetime_, req.scenario)
    hits: list[Hit] = []
    for s in sections:
        hits += await find(conn, catalog, s, rings, when)
    wanted = _wants_population(catalog, principal, req.layers)
    parts = await people.cell_parts(conn, catalog, rings, when) if wanted else None
    ring_people, zone_people = people.by_ring(parts or [], len(rings))
    gas, valves = await _gas(conn, catalog, principal, req, rings, sections, hits)
    cte, params = rings_cte(rings)
    gj, area = metric.geojson("r.geom"), metric.area_m2("r.geom")
    ring_rows = (await conn.execute(text(RINGS.format(rings=cte, gj=gj, area=area)), params)).all()
    union, uparams = union_sql(rings)
    total = (
        await conn.execute(
            text(
                TOTAL.format(
                    union=union, gj=metric.geojson("u.geom"), area=metric.area_m2("u.geom")
                )
            ),
            uparams,
        )
    ).one()
    common = {
        "withheld": withheld,
        "visit_h": req.visitors.visit_h,
        "open_h": req.visitors.open_h,
        "population_method": (
            people.METHOD if parts is not None else people.NO_DATA if wanted else None
        ),
    }
    out = [
        feature(
            f"ring:{rings[k].name}",
            row.g,
            {"role": "ring", "ring": rings[k].name, "ring_index": k + 1, "area_m2": row.area_m2}
            | _counts([h for h in hits if h.ring == k], sections, req.visitors)
            | (people.NONE if parts is None else ring_people[k].counts())
            | common,
        )
        for k, row in enumerate(ring_rows)
    ]
    out.append(
        feature(
            "total",
            total.g,
            {"role": "total", "ring": None, "ring_index": None, "area_m2": total.area_m2}
            | _counts(hits, sections, req.visitors)
            | (people.NONE if parts is None else zone_people.counts())
            | gas
            | common,
        )
    )
    out += [_item(h, rings, req.visitors) for h in hits] + valves
    restricted = any(catalog[s.layer].access == "restricted" for s in sections)
    return out, restricted
