"""The gas valves to close to cut supply into a zone: one isolation of every gas pipe in it.

The gas network within `reach_m` of the zone is read once and cut into valve segments
once (segments.py: WNTR's rule, as /analysis/isolate uses), however many pipes cross the
zone. Each crossing pipe is isolated as a break on the whole pipe, stuck and broken valves
passed through to the next ones out; a pipe whose segments are already shut needs no walk
of its own. What is shut is the union of those isolations, and the valves to close are the
operable ones bounding it: a valve with shut segments on every side needs no closing.
Parts left with no path to a source after the closures are cut off, as isolate reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.errors import TooLarge
from layers.query import DateTimeInterval
from spatial_api.analysis.answer import feature
from spatial_api.analysis.impact_models import GasIsolation
from spatial_api.analysis.isolation_answer import CUSTOMERS
from spatial_api.analysis.isolation_network import Network, Plane, read_network
from spatial_api.analysis.segments import Isolation, Segmentation, cut_off, isolate, segment_network
from spatial_api.analysis.sources import Scalar, select_features

GAS: dict[str, Scalar] = {"utility": "gas"}


@dataclass(frozen=True)
class Extent:
    """The zone's centroid (lon, lat) and its farthest vertex from it, in metres."""

    lon: float
    lat: float
    radius_m: float


def _union(seg: Segmentation, pipes: list[str], stuck: frozenset[str]) -> Isolation:
    """One isolation shutting every pipe of `pipes`: the union of theirs, and its boundary."""
    region: set[int] = set()
    close: set[str] = set()
    closed: set[str] = set()
    widened: dict[str, tuple[int, ...]] = {}
    for pipe in pipes:
        if {seg.part_segment[q] for q in seg.pipe_parts[pipe]} <= region:
            continue  # its isolation lies inside one already walked (stuck ones included)
        iso = isolate(seg, pipe, stuck)
        region |= iso.segments
        close |= set(iso.close)
        closed |= set(iso.closed)
        widened |= iso.widened_by
    chosen = [seg.segments[s] for s in sorted(region)]
    # A valve node's own body (the node alone, no pipe) is a segment of its own: it does
    # not count as a side left open.
    body = {v: seg.node_segment[n] for n, v in seg.valve_nodes.items()}

    def bounds(v: str) -> bool:
        return not set(seg.sides[v]) - {body.get(v)} <= region

    return Isolation(
        segments=frozenset(region),
        close=tuple(sorted(v for v in close if bounds(v))),
        closed=tuple(sorted(v for v in closed if bounds(v))),
        widened_by=widened,
        parts=tuple(p for s in chosen for p in s.parts),
        nodes=frozenset(n for s in chosen for n in s.nodes),
    )


async def gas_valves(
    conn: AsyncConnection,
    catalog: Catalog,
    crossing: list[str],
    when: DateTimeInterval | None,
    extent: Extent,
    opts: GasIsolation,
) -> tuple[dict[str, Any], list[dict]]:
    """The `gas_*` counts of the zone's total, and one feature per valve to close."""
    if when is not None and when.period:
        return unknown("isolation needs an instant, not an interval"), []
    if not crossing:
        return _summary([], 0, None, None), []
    plane = Plane(extent.lon, extent.lat)
    try:
        network = await read_network(
            conn,
            select_features(catalog["pipelines"], when, GAS, "p"),
            select_features(catalog["pipe_nodes"], when, GAS, "n"),
            plane,
            (extent.lon, extent.lat),
            extent.radius_m + opts.reach_m,
        )
    except TooLarge as exc:  # the rest of the impact still stands
        return unknown(f"gas network not isolated: {exc}"), []
    seg = segment_network(network.pipes, network.valves, opts.valve_tolerance_m)
    linked = sorted(p for p in set(crossing) if p in seg.pipes)
    untopological = len(set(crossing)) - len(linked)
    if not linked:
        return _summary(crossing, untopological, None, None), []
    iso = _union(seg, linked, frozenset(opts.inoperable_valves))
    fed = {seg.part_segment[q] for k in network.beyond for q in seg.pipe_parts[k]}
    zones = cut_off(seg, iso, network.sources, fed)
    valves = [
        _valve(network, seg, v, action)
        for v, action in [(v, "close") for v in iso.close]
        + [(v, "already_closed") for v in iso.closed]
        + [(v, "stuck_passed") for v in sorted(iso.widened_by)]
    ]
    return _summary(crossing, untopological, (seg, network, iso), zones), valves


def _valve(network: Network, seg: Segmentation, v: str, action: str) -> dict:
    pl = seg.placements.get(v)
    props = {
        "role": "gas_valve",
        "layer": "pipe_nodes",
        "asset_id": v,
        "action": action,
        "valve_state": seg.states[v],
        "placed": "node" if pl is None else "pipe_end" if pl.node else "along_pipe",
        "pipe": None if pl is None else pl.pipe,
        "ring": None,
    }
    return feature(f"gas_valve:{v}", network.valve_geojson.get(v), props)


def unknown(reason: str) -> dict[str, Any]:
    """Every `gas_*` count null (not known, never 0), and why."""
    out: dict[str, Any] = dict.fromkeys(KEYS)
    return out | {"gas_note": reason}


KEYS = (
    "gas_pipes_crossing",
    "gas_valves_to_close",
    "gas_close",
    "gas_already_closed",
    "gas_stuck_passed",
    "gas_shut_off_pipes",
    "gas_shut_off_m",
    "gas_shut_off_nodes",
    "gas_cut_off_zones",
    "gas_cut_off_nodes",
    "gas_cut_off_pipes",
    "gas_cut_off_m",
    "gas_pipe_ids",
    "gas_pipes_without_topology",
    "gas_complete",
    "gas_customers",
    "gas_note",
)


def _summary(
    crossing: list[str],
    untopological: int,
    found: tuple[Segmentation, Network, Isolation] | None,
    zones: tuple[frozenset[int], ...] | None,
) -> dict[str, Any]:
    out = unknown("") | {
        "gas_pipes_crossing": len(set(crossing)),
        "gas_pipes_without_topology": untopological,
    }
    if found is None or zones is None:
        if not crossing:
            return out | {
                "gas_valves_to_close": 0,
                "gas_close": [],
                "gas_shut_off_pipes": 0,
                "gas_shut_off_m": 0.0,
                "gas_complete": True,
                "gas_note": "no gas pipe crosses the zone",
            }
        return out | {
            "gas_note": "the gas pipes crossing the zone have no from_node/to_node: the "
            "network's topology is unknown there, so no valves can be found"
        }
    seg, network, iso = found
    dry = [q for z in zones for s in sorted(z) for q in seg.segments[s].parts]
    dry_nodes = {n for z in zones for s in z for n in seg.segments[s].nodes}
    pipes = sorted({q.pipe for q in iso.parts if q.length > 0})
    note = "" if iso.close or iso.closed else "no operable gas valve bounds these pipes in reach"
    return out | {
        "gas_valves_to_close": len(iso.close),
        "gas_close": list(iso.close),
        "gas_already_closed": list(iso.closed),
        "gas_stuck_passed": sorted(iso.widened_by),
        "gas_shut_off_pipes": len(pipes),
        "gas_shut_off_m": sum(q.length for q in iso.parts),
        "gas_shut_off_nodes": len(iso.nodes),
        "gas_cut_off_zones": len(zones),
        "gas_cut_off_nodes": len(dry_nodes),
        "gas_cut_off_pipes": len({q.pipe for q in dry if q.length > 0}),
        "gas_cut_off_m": sum(q.length for q in dry),
        "gas_pipe_ids": pipes,
        "gas_complete": untopological == 0 and not any(p in network.beyond for p in pipes),
        "gas_customers": CUSTOMERS,
        "gas_note": note or None,
    }
