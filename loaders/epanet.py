"""Read an EPANET .inp water network into pipe_nodes and pipelines frames."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from itertools import pairwise

import geopandas as gpd
import pandas as pd
import wntr
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely import LineString, Point

from layers.pipe_nodes import PIPE_NODES
from layers.pipelines import PIPELINES
from loaders.valve_layer import read_valve_layer, valve_points

NO_CRS = "EPANET .inp files carry no CRS: pass one with --crs (e.g. EPSG:4549)"

Point3 = tuple[float, float, float]


def read_epanet(
    path: str | os.PathLike[str],
    crs: CRS | str | int | None,
    valves: str | os.PathLike[str] | pd.DataFrame | None = None,
    valve_offset_m: float = 0.5,
) -> dict[str, gpd.GeoDataFrame]:
    """Nodes and links of the network, in catalog units, in the declared CRS.

    wntr converts hydraulics to SI whatever the file's flow units, but leaves
    coordinates as written: only the caller knows what they mean. `valves` is a WNTR
    valve layer (a `link,node` CSV or frame); its valves become points on their links,
    `valve_offset_m` from their node (see loaders/valve_layer.py).
    """
    crs = _parse_crs(crs)
    wn = _read_model(path)
    links, point_links = _links(wn, crs)
    frames = [_nodes(wn, crs), point_links]
    if valves is not None:
        layer = valves if isinstance(valves, pd.DataFrame) else read_valve_layer(valves)
        joined = joined_nodes(wn)  # a valve protecting a node joined away protects its stand-in
        layer = layer.assign(node=[joined.get(n, n) for n in layer.node])
        points, refused = valve_points(layer, links, valve_offset_m)
        if len(refused):
            rows = "; ".join(f"row {r.row}: {r.reason}" for r in refused.head(5).itertuples())
            raise ValueError(f"{len(refused)} valve rows cannot be drawn: {rows}")
        frames.append(points)
    nodes = pd.concat([f for f in frames if len(f)], ignore_index=True)
    return {PIPE_NODES.id: gpd.GeoDataFrame(nodes, crs=crs), PIPELINES.id: links}


def joined_nodes(wn: wntr.network.WaterNetworkModel) -> dict[str, str]:
    """Each end node of a pump or valve drawn with no length → the node that stands for it.

    Such a device becomes a point, so it cannot be a link: its end nodes become one node
    (a tank or reservoir if there is one, else the first in the file), and the pipes on
    both sides meet there. The network stays as connected as EPANET draws it.
    """
    root = {name: name for name, _ in wn.nodes()}
    rank = {name: (node.node_type == "Junction", i) for i, (name, node) in enumerate(wn.nodes())}

    def find(n: str) -> str:
        while root[n] != n:
            root[n] = root[root[n]]
            n = root[n]
        return n

    for _, link in wn.links():
        if link.link_type != "Pipe" and _drawn_at_one_spot(link):
            a, b = find(link.start_node_name), find(link.end_node_name)
            first, second = sorted((a, b), key=rank.__getitem__)
            root[second] = first
    return {n: find(n) for n in root if find(n) != n}


def _drawn_at_one_spot(link) -> bool:
    ends = {tuple(link.start_node.coordinates), *map(tuple, link.vertices)}
    return ends == {tuple(link.end_node.coordinates)}


def _parse_crs(crs: CRS | str | int | None) -> CRS:
    if crs is None:
        raise ValueError(NO_CRS)
    try:
        return CRS.from_user_input(crs)
    except CRSError as e:
        raise ValueError(f"invalid CRS {crs!r}: {e}") from e


def _read_model(path: str | os.PathLike[str]) -> wntr.network.WaterNetworkModel:
    try:
        wn = wntr.network.WaterNetworkModel(os.fspath(path))
    except OSError:  # a missing file is not a format problem
        raise
    # wntr's parser fails in many ways (ENSyntaxError, AttributeError on a file cut
    # before [OPTIONS], UnicodeDecodeError), so any failure here is a bad file.
    except Exception as e:
        cause = f" ({e.__cause__})" if e.__cause__ else ""
        raise ValueError(f"{path}: not a readable EPANET file: {e}{cause}") from e
    if wn.num_nodes == 0:  # an empty file parses to an empty model
        raise ValueError(f"{path}: no nodes in EPANET file")
    return wn


def _node_z(node: wntr.network.elements.Node) -> float:
    # Reservoirs have no elevation in EPANET; their head is the water surface.
    elevation = getattr(node, "elevation", None)
    return node.base_head if elevation is None else elevation


def _demands(wn: wntr.network.WaterNetworkModel) -> dict[str, float]:
    """Each junction's demand over its patterns' cycle, times the demand multiplier (m³/s):
    what `wntr.metrics.population` divides by 200 US gallons a day per person."""
    return {str(k): float(v) for k, v in wntr.metrics.average_expected_demand(wn).items()}


def _nodes(wn: wntr.network.WaterNetworkModel, crs: CRS) -> gpd.GeoDataFrame:
    kinds = {"Junction": "junction", "Tank": "tank", "Reservoir": "reservoir"}
    demand = _demands(wn) if wn.num_junctions else {}
    ids, node_kind, ground, xs, ys, zs = [], [], [], [], [], []
    for name, node in wn.nodes():
        kind = kinds[node.node_type]
        x, y = node.coordinates
        ids.append(name)
        node_kind.append(kind)
        # Tank elevation is the tank floor, not the ground, so only junctions count.
        ground.append(node.elevation if kind == "junction" else None)
        xs.append(x)
        ys.append(y)
        zs.append(_node_z(node))
    n = len(ids)
    return gpd.GeoDataFrame(
        {
            "asset_id": ids,
            "utility": ["water"] * n,
            "node_kind": node_kind,
            "ground_elevation_m": ground,
            "status": ["in_service"] * n,
            # EPANET demands are signed (a negative one is an inflow): only uses are kept.
            "demand_m3s": [d if (d := demand.get(i)) is not None and d >= 0 else None for i in ids],
        },
        geometry=gpd.points_from_xy(xs, ys, zs),
        crs=crs,
    )


def _links(
    wn: wntr.network.WaterNetworkModel, crs: CRS
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Links as lines; valves and pumps drawn with no length become point assets."""
    kinds = {"Pipe": "pipe", "Valve": "valve", "Pump": "pump"}
    ids, link_kind, diameter, from_node, to_node, geoms = [], [], [], [], [], []
    points: list[dict] = []
    joined = joined_nodes(wn)
    for name, link in wn.links():
        start, end = link.start_node, link.end_node
        kind = kinds[link.link_type]
        if kind != "pipe" and _drawn_at_one_spot(link):
            # Models often place a pump or valve between two nodes at one spot: as a
            # line it would have no length, so it is kept as the device it is, and its
            # two nodes are joined (see joined_nodes).
            x, y = start.coordinates
            points.append(
                {
                    "asset_id": name,
                    "utility": "water",
                    "node_kind": "valve" if kind == "valve" else "pump_station",
                    "valve_state": _valve_state(link) if kind == "valve" else None,
                    "status": "in_service",
                    "geometry": Point(x, y, _node_z(start)),
                }
            )
            continue
        ids.append(name)
        link_kind.append(kind)
        # Pumps have no diameter in EPANET; wntr gives pipes and valves in metres.
        diameter.append(None if kind == "pump" else link.diameter * 1000.0)
        from_node.append(joined.get(start.name, start.name))
        to_node.append(joined.get(end.name, end.name))
        # Nodes without [COORDINATES] get wntr's default [0, 0], a list: normalise.
        xy = [tuple(start.coordinates), *map(tuple, link.vertices), tuple(end.coordinates)]
        geoms.append(line_z(xy, _node_z(start), _node_z(end)))
    # Initial status (CLOSED pipes) is operational state, not asset status.
    n = len(ids)
    lines = gpd.GeoDataFrame(
        {
            "asset_id": ids,
            "utility": ["water"] * n,
            "link_kind": link_kind,
            "diameter_mm": diameter,
            "from_node": from_node,
            "to_node": to_node,
            "status": ["in_service"] * n,
        },
        geometry=geoms,
        crs=crs,
    )
    columns = ["asset_id", "utility", "node_kind", "valve_state", "status", "geometry"]
    return lines, gpd.GeoDataFrame(points, columns=columns, geometry="geometry", crs=crs)


def _valve_state(link) -> str:
    # EPANET's initial status: OPEN/ACTIVE valves pass water, CLOSED ones isolate.
    return "closed" if str(link.initial_status).lower().endswith("closed") else "open"


def line_z(xy: Sequence[tuple[float, float]], z_start: float, z_end: float) -> LineString:
    """A 3D line whose z runs linearly from z_start to z_end by 2D distance.

    Consecutive duplicate points are dropped; a link that collapses to one point
    comes back as a degenerate two-point line for the core validation to reject.
    """
    points = [xy[0]]
    for p in xy[1:]:
        if p != points[-1]:
            points.append(p)
    if len(points) == 1:
        points.append(points[0])
    along = [0.0]
    for a, b in pairwise(points):
        along.append(along[-1] + math.dist(a, b))
    total = along[-1]
    coords: list[Point3] = [
        (x, y, z_start + (z_end - z_start) * (d / total if total else 0.0))
        for (x, y), d in zip(points, along, strict=True)
    ]
    return LineString(coords)
