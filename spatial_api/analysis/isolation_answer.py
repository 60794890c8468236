"""The isolation answer: a summary, the valves to close, the pipes out, the cut-off zones
and the customers out (isolation_customers.py counts them; the summary carries its fields).

Pipes are reported as stretches: a pipe split by a valve along it is out only between the
valve and the end in the segment, and its stretch is drawn as that part of the pipe (the
stored geometry is not cut). Volume is π d²/4 · L of each stretch with a known diameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from shapely.ops import substring

from spatial_api.analysis.answer import feature
from spatial_api.analysis.isolation_network import Network, Plane
from spatial_api.analysis.models import IsolateRequest
from spatial_api.analysis.segments import Isolation, Part, Segmentation

# What the gas-valve answer says of customers (it counts none); isolate counts them.
CUSTOMERS = (
    "not counted: no service_connections layer, and pipe_nodes hold no EPANET base demand "
    "to estimate them from"
)


@dataclass(frozen=True)
class Outcome:
    broken: str
    utility: str
    seg: Segmentation
    network: Network
    iso: Isolation
    zones: tuple[frozenset[int], ...]
    fed: set[int]


@dataclass(frozen=True)
class Stretch:
    role: str  # isolated_pipe | cut_off_pipe
    pipe: str
    start: float
    end: float
    added_by: str | None
    zone: int | None

    @property
    def length(self) -> float:
        return self.end - self.start


def features(
    out: Outcome,
    req: IsolateRequest,
    plane: Plane,
    customers: dict[str, Any],
    customer_features: list[dict],
) -> list[dict]:
    """`customers`: the summary's customer fields; `customer_features`: one per customer out."""
    seg, iso = out.seg, out.iso
    found = stretches(out)
    geoms = _geojson(out, found, plane)
    pipes = [
        feature(None, g, _pipe_props(out, s) | {"broken": s.pipe == out.broken})
        for s, g in zip(found, geoms, strict=True)
    ]
    valves = [feature(None, out.network.valve_geojson.get(v), p) for v, p in _valves(out, req)]
    isolated = [s for s in found if s.role == "isolated_pipe"]
    dry = [s for s in found if s.role == "cut_off_pipe"]
    zone_nodes = {n for z in out.zones for s in z for n in seg.segments[s].nodes}
    summary = {
        "role": "summary",
        "broken_pipe": out.broken,
        "utility": out.utility,
        "valves_to_close": len(iso.close),
        "close": list(iso.close),
        "already_closed": list(iso.closed),
        **_totals("isolated", out, isolated, iso.nodes),
        "cut_off_zones": len(out.zones),
        **_totals("cut_off", out, dry, zone_nodes),
        **_totals("total", out, found, iso.nodes | zone_nodes),
        "isolated_node_ids": sorted(iso.nodes),
        "cut_off_node_ids": sorted(zone_nodes),
        "inoperable_valves": sorted(req.inoperable_valves),
        "extensions": _extensions(out, req),
        "sources_in_reach": len(out.network.sources),
        "cut_off_checked": bool(out.network.sources or out.fed),
        "valve_tolerance_m": req.valve_tolerance_m,
        "valves_beyond_tolerance": [
            {"valve": u.valve, "nearest_pipe": u.pipe, "distance_m": round(u.distance, 3)}
            for u in seg.unplaced
        ],
        "pipes_without_topology": out.network.untopological,
        **customers,
        "complete": not any(p in out.network.beyond for p in iso.pipes),
    }
    for i, f in enumerate([*valves, *pipes, *customer_features], 1):
        f["id"] = i
    return [feature(0, None, summary), *valves, *pipes, *customer_features]


def stretches(out: Outcome) -> list[Stretch]:
    """Parts out, per pipe, joined where they touch; the break's segment, then each zone."""
    added = {s: v for v, segs in reversed(out.iso.widened_by.items()) for s in segs}
    tagged: list[tuple[str, Part, str | None, int | None]] = []
    for s in sorted(out.iso.segments):
        tagged += [("isolated_pipe", q, added.get(s), None) for q in out.seg.segments[s].parts]
    for z, segs in enumerate(out.zones, 1):
        tagged += [
            ("cut_off_pipe", q, None, z) for s in sorted(segs) for q in out.seg.segments[s].parts
        ]
    tagged = sorted(
        (t for t in tagged if t[1].length > 0),
        key=lambda t: (t[0] != "isolated_pipe", t[1].pipe, t[1].start),
    )
    found: list[Stretch] = []
    for role, q, by, zone in tagged:
        last = found[-1] if found else None
        if last and (last.role, last.pipe, last.added_by, last.zone, last.end) == (
            role,
            q.pipe,
            by,
            zone,
            q.start,
        ):
            found[-1] = Stretch(role, q.pipe, last.start, q.end, by, zone)
        else:
            found.append(Stretch(role, q.pipe, q.start, q.end, by, zone))
    return found


def _geojson(out: Outcome, stretches: list[Stretch], plane: Plane) -> list[dict]:
    """The stretches as CRS84 GeoJSON (lon/lat to 1e-9°, as the SQL answers give)."""
    parts = []
    for s in stretches:
        line = out.seg.pipes[s.pipe].geometry
        assert line is not None  # pipes from PostGIS are always drawn
        whole = (s.start, s.end) == (0.0, line.length)
        parts.append(line if whole else substring(line, s.start, s.end))
    if not parts:
        return []
    lonlat = plane.inverse(np.array(parts, dtype=object))
    return [shapely.geometry.mapping(shapely.set_precision(g, 1e-9)) for g in lonlat]


def _volume(diameter_mm: float | None, length: float) -> float | None:
    return None if diameter_mm is None else math.pi * (diameter_mm / 1000) ** 2 / 4 * length


def _pipe_props(out: Outcome, s: Stretch) -> dict[str, Any]:
    line = out.seg.pipes[s.pipe].geometry
    whole = line is not None and math.isclose(s.length, line.length)
    d = out.network.diameter_mm.get(s.pipe)
    return {
        "asset_id": s.pipe,
        "role": s.role,
        "length_m": s.length,
        "from_m": s.start,
        "to_m": s.end,
        "whole_pipe": whole,
        "diameter_mm": d,
        "volume_m3": _volume(d, s.length),
        "added_by": s.added_by,
        "zone": s.zone,
    }


def _totals(
    prefix: str, out: Outcome, stretches: list[Stretch], nodes: frozenset[str] | set[str]
) -> dict[str, Any]:
    volumes = [_volume(out.network.diameter_mm.get(s.pipe), s.length) for s in stretches]
    return {
        f"{prefix}_pipes": len({s.pipe for s in stretches}),
        f"{prefix}_length_m": sum(s.length for s in stretches),
        f"{prefix}_volume_m3": sum(v for v in volumes if v is not None),
        f"{prefix}_pipes_without_diameter": len(
            {s.pipe for s, v in zip(stretches, volumes, strict=True) if v is None}
        ),
        f"{prefix}_nodes": len(nodes),
    }


def _valves(out: Outcome, req: IsolateRequest) -> list[tuple[str, dict[str, Any]]]:
    seg, iso = out.seg, out.iso
    first = _first(iso)
    dry = {s for z in out.zones for s in z}
    added = {s: v for v, segs in iso.widened_by.items() for s in segs}
    inoperable = set(req.inoperable_valves)
    roles = [(v, "close") for v in iso.close] + [(v, "already_closed") for v in iso.closed]
    roles += [
        (v, "stuck_passed" if v in inoperable else "broken_passed") for v in sorted(iso.widened_by)
    ]
    found = []
    for v, role in roles:
        pl = seg.placements.get(v)
        sides = set(seg.sides[v])
        by = sorted({added[s] for s in sides & iso.segments if s in added})
        found.append(
            (
                v,
                {
                    "asset_id": v,
                    "valve_state": seg.states[v],
                    "role": role,
                    "placed": "node" if pl is None else "pipe_end" if pl.node else "along_pipe",
                    "pipe": None if pl is None else pl.pipe,
                    "node": v if pl is None else pl.node,
                    "position_m": None if pl is None else pl.position,
                    "snap_distance_m": None if pl is None else round(pl.distance, 3),
                    "alternate_for": by if role == "close" and not sides & first else [],
                    "leads_to_cut_off": role == "close" and bool(sides & dry),
                },
            )
        )
    return found


def _first(iso: Isolation) -> set[int]:
    """The break's own segments, before any stuck valve was passed."""
    return set(iso.segments) - {s for segs in iso.widened_by.values() for s in segs}


def _extensions(out: Outcome, req: IsolateRequest) -> list[dict[str, Any]]:
    """Each stuck or broken valve passed: what it added and the valves that now close."""
    seg, iso = out.seg, out.iso
    first = _first(iso)
    found = []
    for v, segs in sorted(iso.widened_by.items()):
        parts = [q for s in segs for q in seg.segments[s].parts]
        found.append(
            {
                "valve": v,
                "cause": "inoperable" if v in req.inoperable_valves else "broken",
                "pipes": sorted({q.pipe for q in parts if q.length > 0}),
                "length_m": sum(q.length for q in parts),
                "next_valves": [
                    c
                    for c in iso.close
                    if set(seg.sides[c]) & set(segs) and not set(seg.sides[c]) & first
                ],
                "already_closed": [c for c in iso.closed if set(seg.sides[c]) & set(segs)],
            }
        )
    return found
