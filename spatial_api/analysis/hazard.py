"""Hazard zones about a point, from the ERG 2016 and NCTC tables in `data/`, or drawn.

One feature per zone, its kind in `zone`:

- `erg`: the **initial isolation zone**, a circle whose radius is the initial isolation
  distance, "in ALL DIRECTIONS"; and the **protective action zone**, which ERG's
  "Introduction to the Table of Initial Isolation and Protective Action Distances" defines
  as follows: "For practical purposes, the Protective Action Zone … is a square, whose
  length and width are the same as the downwind distance shown in the Table." It is drawn
  as exactly that square, of side D = the protective action distance: its near edge passes
  through the spill point, across the wind and centred on it, and it reaches D downwind,
  so its axis is the downwind bearing and its centroid lies D/2 downwind. It is not cut by
  the isolation circle (Esri's ERG widget draws a fan; ERG's text says square). Small
  spills read Table 1; large spills of the six TIH gases read Table 3, by container and by
  ERG's wind class (low, moderate, high: the class is asked for, since the km/h
  thresholds are not in our sources).
- `erg115` (Guide 115, flammable gases): the isolation circle (small or large spill, a tank
  in fire, or a natural-gas pipeline leak: "at least" 100 m), and with a tank's capacity
  the BLEVE `evacuation` circle. Guide 115 has no protective action zone.
- `bomb` (NCTC stand-off): the mandatory `evacuation` circle and the `shelter_in_place`
  annulus out to the preferred (outdoor) evacuation distance.
- `custom`: an `isolation` circle or polygon, and an optional `downwind_sector`.

`wind_from_deg` is meteorological, where the wind comes from: the downwind bearing
(`wind_to_deg`) is wind_from_deg + 180°. Circles are `metric.buffer_m`, the buffers' own
azimuthal equidistant projection (AEQD) centred on the point; the square and the sector
are built in metres in that same AEQD and projected back, so every distance from the
point is a true geodesic distance. `area_m2` is geodesic, on the spheroid. Every feature
names the table's `edition` and `source`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers.errors import InvalidParameter
from layers.spec import STORAGE_SRID
from spatial_api.analysis import metric
from spatial_api.analysis.answer import feature
from spatial_api.analysis.buffer import check_distance
from spatial_api.analysis.geometry import (
    CrsChoice,
    parse_crs,
    parse_geometry,
    sql_geometry,
    sql_point,
)
from spatial_api.analysis.hazard_models import (
    BombRequest,
    CustomRequest,
    Erg115Request,
    ErgRequest,
    HazardRequest,
)
from spatial_api.analysis.hazard_tables import (
    bleve,
    bomb_device,
    erg_material,
    erg_table3,
    guide115,
    table,
)

EDGE_STEPS = 32  # vertices per side of the square; even, so the far edge's midpoint is one
ARC_STEPS = 128  # vertices along a full turn of a sector's arc, pro rata
_P = "p.geom"  # the point, in storage CRS, in the zone query


@dataclass(frozen=True)
class Circle:
    radius_m: float


@dataclass(frozen=True)
class Annulus:
    inner_m: float
    outer_m: float


@dataclass(frozen=True)
class Local:
    """A shape in metres in the point's AEQD: x east, y north, the point at the origin."""

    geom: shapely.Geometry


@dataclass(frozen=True)
class Drawn:
    geom: shapely.Geometry
    crs: CrsChoice


Shape = Circle | Annulus | Local | Drawn
Zones = list[tuple[dict[str, Any], Shape]]


def downwind(wind_from_deg: float) -> float:
    return (wind_from_deg + 180.0) % 360.0


def _to_local(along: np.ndarray, across: np.ndarray, bearing_deg: float) -> np.ndarray:
    """(downwind, to the right of downwind) metres → AEQD (x east, y north)."""
    b = math.radians(bearing_deg)
    return np.column_stack(
        [along * math.sin(b) + across * math.cos(b), along * math.cos(b) - across * math.sin(b)]
    )


def protective_square(side_m: float, wind_from_deg: float) -> Polygon:
    """ERG's protective action zone: side × side, near edge centred on the spill, downwind."""
    t = np.arange(EDGE_STEPS) / EDGE_STEPS * side_m
    h = side_m / 2
    along = np.concatenate([np.zeros(EDGE_STEPS), t, np.full(EDGE_STEPS, side_m), side_m - t])
    across = np.concatenate([t - h, np.full(EDGE_STEPS, h), h - t, np.full(EDGE_STEPS, -h)])
    return orient(Polygon(_to_local(along, across, downwind(wind_from_deg))), 1.0)


def downwind_sector(length_m: float, angle_deg: float, wind_from_deg: float) -> Polygon:
    """A wedge from the point, `angle_deg` wide, centred on the downwind bearing."""
    steps = max(8, math.ceil(ARC_STEPS * angle_deg / 360))
    az = np.radians(downwind(wind_from_deg) + np.linspace(-angle_deg / 2, angle_deg / 2, steps + 1))
    arc = np.column_stack([length_m * np.sin(az), length_m * np.cos(az)])
    return orient(Polygon(np.vstack([[0.0, 0.0], arc])), 1.0)


def _draw(shape: Shape, key: str) -> tuple[str, dict[str, Any]]:
    """The SQL expression of a zone in storage CRS, from the point `p.geom`, and its binds."""
    match shape:
        case Circle(radius_m=r):
            return metric.buffer_m(_P, f":{key}"), {key: r}
        case Annulus(inner_m=inner, outer_m=outer):
            return (
                f"ST_Difference({metric.buffer_m(_P, f':{key}_o')}, "
                f"{metric.buffer_m(_P, f':{key}_i')})",
                {f"{key}_o": outer, f"{key}_i": inner},
            )
        case Local(geom=g):
            return (
                f"ST_Transform(ST_GeomFromWKB(:{key}), {metric.aeqd(_P)}, {STORAGE_SRID})",
                {key: shapely.to_wkb(g)},
            )
        case Drawn(geom=g, crs=crs):
            return sql_geometry(g, crs, key)
    raise AssertionError(shape)  # pragma: no cover: the match is exhaustive


def _meta(name: str) -> dict[str, str]:
    meta = table(name).meta
    return {"edition": meta["edition"], "source": meta["source"], "table": meta["title"]}


def _erg(req: ErgRequest) -> tuple[dict[str, Any], Zones]:
    m = erg_material(req.material, req.time_of_day)
    extra: dict[str, Any] = {}
    if req.spill == "small":
        if req.container is not None or req.wind_class is not None:
            raise InvalidParameter(
                "container and wind_class: they choose a large spill's row in ERG Table 3; "
                "a small spill is read from Table 1 without them"
            )
        isolation = m.small_isolation_m
        protective = m.small_day_m if req.time_of_day == "day" else m.small_night_m
        source = _meta("erg2016_table1")
    elif m.large_spill == "Table 3":
        row = erg_table3(m, req.container, req.wind_class, req.time_of_day)
        isolation, protective = row.isolation_m, row.protective_m
        source = _meta("erg2016_table3")
        extra = {
            "container": row.container,
            "container_title": row.container_title,
            "wind_class": req.wind_class,
        }
    else:  # pragma: no cover: every shipped Table 1 material is a Table 3 gas
        raise InvalidParameter(f"spill: large-spill values of {m.name} are not in the table")
    base = {
        "material": m.name,
        "un_number": f"UN{m.un_number}",
        "guide": m.guide,
        "spill": req.spill,
        "time_of_day": req.time_of_day,
        **extra,
        **source,
    }
    if m.atm_flag:
        base["note"] = table("erg2016_table1").meta["atm_note"]
    return base, [
        ({"zone": "isolation", "distance_m": isolation}, Circle(isolation)),
        (
            {
                "zone": "protective_action",
                "distance_m": protective,
                "wind_to_deg": downwind(req.wind_from_deg),
            },
            Local(protective_square(protective, req.wind_from_deg)),
        ),
    ]


def _erg115(req: Erg115Request) -> tuple[dict[str, Any], Zones]:
    rows = guide115(req.material)
    first = rows[0]
    if first["case"] == "pipeline_leak":
        if req.spill is not None or req.in_fire or req.tank_capacity_l is not None:
            raise InvalidParameter(
                "spill, in_fire and tank_capacity_l: they do not apply to a natural-gas "
                "pipeline leak, whose isolation distance is one value (at least 100 m)"
            )
        row, extra = first, {"minimum": True}
    else:
        if req.spill is None and not req.in_fire:
            raise InvalidParameter(
                f"spill: small or large is required for {first['name']} (isolation 100 m "
                "small, 800 m large), unless a tank is in fire (in_fire)"
            )
        case = "fire" if req.in_fire else req.spill
        row, extra = next(r for r in rows if r["case"] == case), {"in_fire": req.in_fire}
    base = {
        "material": row["name"],
        "un_number": f"UN{row['un_number']}" if row["un_number"] else None,
        "guide": row["guide"],
        "spill": req.spill,
        "edition": row["edition"],
        "source": row["source"],
        "table": table("erg2016_guide115").meta["title"],
    }
    isolation = float(row["isolation_m"])
    zones: Zones = [({"zone": "isolation", "distance_m": isolation, **extra}, Circle(isolation))]
    if req.tank_capacity_l is not None:
        capacity, distance = bleve(req.tank_capacity_l)
        props = {
            "zone": "evacuation",
            "distance_m": distance,
            "reason": "BLEVE",
            "tank_capacity_l": req.tank_capacity_l,
            "table_capacity_l": capacity,
            **_meta("erg2016_bleve"),
        }
        zones.append((props, Circle(distance)))
    return base, zones


def _bomb(req: BombRequest) -> tuple[dict[str, Any], Zones]:
    d = bomb_device(req.device)
    base = {"device": d.device, "device_title": d.title, "tnt_kg": d.tnt_kg}
    return base | _meta("nctc_bomb_standoff"), [
        ({"zone": "evacuation", "distance_m": d.mandatory_m}, Circle(d.mandatory_m)),
        (
            {
                "zone": "shelter_in_place",
                "distance_m": d.preferred_m,
                "inner_distance_m": d.mandatory_m,
            },
            Annulus(d.mandatory_m, d.preferred_m),
        ),
    ]


def _custom(req: CustomRequest) -> tuple[dict[str, Any], Zones]:
    zones: Zones = []
    if req.radius_m is not None:
        r = check_distance("radius_m", req.radius_m)
        zones.append(({"zone": "isolation", "distance_m": r}, Circle(r)))
    else:
        assert req.polygon is not None  # CustomRequest validates exactly one of the two
        crs = parse_crs(req.crs)
        polygon = parse_geometry(req.polygon, crs)
        if polygon.geom_type not in ("Polygon", "MultiPolygon"):
            raise InvalidParameter("polygon: expected a Polygon or MultiPolygon")
        zones.append(({"zone": "isolation", "distance_m": None}, Drawn(polygon, crs)))
    if req.sector is not None:
        assert req.wind_from_deg is not None  # CustomRequest validates it with a sector
        length = check_distance("sector.length_m", req.sector.length_m)
        angle = req.sector.angle_deg
        shape: Shape = (
            Circle(length)
            if angle >= 360
            else Local(downwind_sector(length, angle, req.wind_from_deg))
        )
        props = {
            "zone": "downwind_sector",
            "distance_m": length,
            "sector_angle_deg": angle,
            "wind_to_deg": downwind(req.wind_from_deg),
        }
        zones.append((props, shape))
    return {"edition": None, "source": "custom: drawn by the requester"}, zones


def plan(req: HazardRequest) -> tuple[dict[str, Any], Zones]:
    """The properties every zone shares, and each zone's own with its shape."""
    match req:
        case ErgRequest():
            base, zones = _erg(req)
        case Erg115Request():
            base, zones = _erg115(req)
        case BombRequest():
            base, zones = _bomb(req)
        case CustomRequest():
            base, zones = _custom(req)
    common = dict.fromkeys(
        ("material", "un_number", "device", "spill", "time_of_day", "edition", "source")
    )
    return common | base | {"preset": req.preset, "wind_from_deg": req.wind_from_deg}, zones


async def hazard_zone(conn: AsyncConnection, req: HazardRequest) -> list[dict]:
    """One feature per zone, in CRS84, with zone, distance_m and geodesic area_m2."""
    if req.point is None:  # an incident's point is found first (incident_zones)
        raise InvalidParameter("point: the zones need a point, or an incident's")
    base, zones = plan(req)
    pt, params = sql_point(req.point[0], req.point[1], parse_crs(req.crs))
    parts = []
    for i, (_, shape) in enumerate(zones):
        expr, binds = _draw(shape, f"z{i}")
        params |= binds
        parts.append(f"SELECT {i} AS i, {expr} AS geom FROM p")
    sql = (
        f"WITH p AS (SELECT {pt} AS geom) "
        f"SELECT z.i, {metric.area_m2('z.geom')} AS area_m2, {metric.geojson('z.geom')} AS g "
        f"FROM ({' UNION ALL '.join(parts)}) z ORDER BY z.i"
    )
    rows = (await conn.execute(text(sql), params)).all()
    return [
        feature(
            r.i + 1,
            r.g,
            {"zone": zones[r.i][0]["zone"], "distance_m": None, "area_m2": r.area_m2}
            | base
            | zones[r.i][0],
        )
        for r in rows
    ]
