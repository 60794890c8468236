"""SYNTHETIC road and pipe networks: a noded road grid, and six utilities under it.

None of these roads, pipes, junctions or valves exists. Pipes follow the roads (one per road
link and utility, offset from the centreline), nodes sit at every intersection, and about
10 % of old pipes were renewed by a new asset, so the network has history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.common import UTILITIES
from loaders.demo_city.plane import (
    LAST_DAY,
    components,
    dates,
    frame,
    ids,
    on_land,
    pick,
    to_lonlat,
    to_xy,
    urban_land,
    utc,
)
from loaders.geometry import NONE

OLD_TOWNS = np.array(
    [
        [120.3197, 36.0600, 1970.0],  # 栈桥: the east bank grew from here
        [120.1950, 35.9600, 1985.0],
    ]
)  # 黄岛 development zone, later
TUNNEL_ENDS = np.array([[120.2880, 36.0460], [120.2450, 36.0150]])  # 团岛, 薛家岛
BLOCK_M = 350.0  # road spacing at scale 1; pipe count grows ~ scale as spacing shrinks

ROAD_CLASSES = np.array(["trunk", "primary", "secondary", "residential"])
SPEED_KMH = np.array([80.0, 60.0, 50.0, 30.0])
LANES = np.array([6, 6, 4, 2])


# --- roads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoadGraph:
    """Noded road network in metres: node coordinates and edges as node index pairs."""

    x: np.ndarray
    y: np.ndarray
    a: np.ndarray
    b: np.ndarray
    road_class: np.ndarray  # index into ROAD_CLASSES
    line: np.ndarray  # grid line number, for names
    tunnel: np.ndarray  # bool: the cross-bay link, which carries no pipes


def _line_class(k: np.ndarray, spacing: float) -> np.ndarray:
    """Trunk every ~6 km, primary every ~2 km, secondary every ~700 m, residential between."""
    every = [max(2, round(d / spacing)) for d in (6000, 2000, 700)]
    cls = np.full(k.shape, 3)
    for c, n in reversed(list(enumerate(every))):
        cls[k % n == n // 2] = c
    return cls


def road_graph(rng: np.random.Generator, scale: float) -> RoadGraph:
    """A jittered grid clipped to land, its largest pieces joined by the bay tunnel."""
    s = BLOCK_M / math.sqrt(scale)
    lon0, lat0, lon1, lat1 = urban_land().bounds
    (x0, x1), (y0, y1) = to_xy([lon0, lon1], [lat0, lat1])
    nx, ny = int((x1 - x0) // s) + 2, int((y1 - y0) // s) + 2
    gx = x0 + np.arange(nx) * s + rng.uniform(-0.2, 0.2, nx) * s
    gy = y0 + np.arange(ny) * s + rng.uniform(-0.2, 0.2, ny) * s
    x = (gx[None, :] + rng.uniform(-0.08, 0.08, (ny, nx)) * s).ravel()
    y = (gy[:, None] + rng.uniform(-0.08, 0.08, (ny, nx)) * s).ravel()
    idx = np.arange(nx * ny).reshape(ny, nx)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    line = np.concatenate([np.repeat(np.arange(ny), nx - 1), np.tile(np.arange(nx), ny - 1) + ny])
    cls = np.concatenate(
        [_line_class(line[: ny * (nx - 1)], s), _line_class(line[ny * (nx - 1) :] - ny, s)]
    )

    land = on_land(x, y)
    keep = land[a] & land[b] & on_land((x[a] + x[b]) / 2, (y[a] + y[b]) / 2)
    a, b, line, cls = a[keep], b[keep], line[keep], cls[keep]
    comp = components(x.size, a, b)
    sizes = np.bincount(comp[a], minlength=x.size)
    big = sizes >= max(20, 0.05 * sizes.max())  # drop slivers cut off by the coastline
    keep = big[comp[a]]
    a, b, line, cls = a[keep], b[keep], line[keep], cls[keep]

    used = np.zeros(x.size, bool)
    used[a] = used[b] = True
    new = np.cumsum(used) - 1
    x, y, comp, a, b = x[used], y[used], comp[used], new[a], new[b]
    tunnel = np.zeros(a.size, bool)
    # The cross-bay link joins the closest pair of nodes near its two ends, one per bank, so
    # that the straight segment crosses no street.
    tx, ty = to_xy(TUNNEL_ENDS[:, 0], TUNNEL_ENDS[:, 1])
    near = np.hypot(x[:, None] - tx, y[:, None] - ty)
    east, west = (
        np.flatnonzero((near[:, k] < 4000) & (comp == comp[np.argmin(near[:, k])])) for k in (0, 1)
    )
    if east.size and west.size and comp[east[0]] != comp[west[0]]:
        gap = np.hypot(x[east, None] - x[west], y[east, None] - y[west])
        i, j = np.unravel_index(np.argmin(gap), gap.shape)
        a, b = np.append(a, east[i]), np.append(b, west[j])
        cls, line = np.append(cls, 0), np.append(line, -1)
        tunnel = np.append(tunnel, True)
    return RoadGraph(x, y, a, b, cls, line, tunnel)


def roads_frame(rng: np.random.Generator, g: RoadGraph) -> gpd.GeoDataFrame:
    lon, lat = (np.round(v, 7) for v in to_lonlat(g.x, g.y))
    coords = np.stack(
        [np.column_stack([lon[g.a], lat[g.a]]), np.column_stack([lon[g.b], lat[g.b]])], axis=1
    )
    kind = np.where(g.road_class <= 1, "大道", "路")
    names = np.array([f"合成{k}{n + 1}号" for k, n in zip(kind, g.line, strict=True)], dtype=object)
    names[g.tunnel] = "合成跨海隧道"
    oneway = (g.road_class == 3) & (rng.random(g.a.size) < 0.04)
    return frame(
        {
            "asset_id": ids("RD", g.a.size),
            "name": names,
            "road_class": ROAD_CLASSES[g.road_class].astype(object),
            "oneway": oneway,
            "lanes": LANES[g.road_class],
            "speed_kmh": SPEED_KMH[g.road_class],
        },
        shapely.linestrings(coords),
    )


# --- pipelines and pipe nodes -------------------------------------------------------------------


@dataclass(frozen=True)
class Utility:
    code: str
    offset_m: float  # lateral shift from the road centreline
    depth_m: tuple[float, float]
    dn: tuple[tuple[int, ...], ...]  # diameters for trunk/primary, secondary, residential
    legacy: tuple[str, ...]  # materials laid before `modern_from`
    modern: tuple[str, ...]
    modern_from: int
    pressure: tuple[str | None, str | None, str | None]  # arterial, secondary, residential
    years_later: float  # how long after water the network reached an area
    node_kinds: dict[str, float]


# A valve node shuts every pipe meeting there. Crews isolate a break with a handful of
# valves, so most nodes of pressurised networks carry one: with fewer than about two in
# three, sections percolate (each node has ~3 pipes) and one break shuts a whole district.
UTILITY_SPECS = {
    "water": Utility(
        "WAT",
        3.0,
        (1.0, 2.0),
        ((400, 500, 600, 800), (200, 300), (100, 150, 200)),
        ("cast_iron", "steel"),
        ("ductile_iron", "pe"),
        1995,
        ("medium", "low", "low"),
        0,
        {"junction": 0.2, "valve": 0.75, "hydrant": 0.05},
    ),
    "drainage": Utility(
        "DRN",
        -1.5,
        (2.0, 6.0),
        ((1000, 1200, 1500, 2000), (600, 800, 1000), (300, 400, 500)),
        ("concrete", "clay"),
        ("concrete", "hdpe", "pvc"),
        2000,
        ("gravity",) * 3,
        0,
        {"manhole": 1.0},
    ),
    "gas": Utility(
        "GAS",
        -4.5,
        (0.8, 1.5),
        ((300, 400, 500), (200, 250), (100, 150)),
        ("cast_iron", "steel"),
        ("pe", "steel"),
        1998,
        ("medium", "medium", "low"),
        8,
        {"junction": 0.25, "valve": 0.75},
    ),
    "heating": Utility(
        "HEA",
        6.0,
        (1.0, 2.0),
        ((500, 600, 800), (250, 300, 400), (100, 150, 200)),
        ("steel",),
        ("steel",),
        1990,
        ("high", "medium", "medium"),
        12,
        {"junction": 0.3, "valve": 0.7},
    ),
    "telecom": Utility(
        "TEL",
        7.5,
        (0.7, 1.2),
        ((150, 200), (100, 150), (100,)),
        ("copper", "pvc"),
        ("fibre", "hdpe"),
        2005,
        (None,) * 3,
        10,
        {"manhole": 0.7, "junction": 0.3},
    ),
    "power": Utility(
        "PWR",
        -6.5,
        (0.7, 1.5),
        ((200, 300), (150, 200), (150,)),
        ("aluminium", "copper"),
        ("copper",),
        2000,
        (None,) * 3,
        3,
        {"manhole": 0.6, "junction": 0.4},
    ),
}
assert tuple(UTILITY_SPECS) == UTILITIES


def _ground_m(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smooth synthetic terrain, 3–80 m, rising to the east (崂山) like the real city."""
    k = rng.uniform(1 / 9000, 1 / 3000, (4, 2))
    phase = rng.uniform(0, 2 * np.pi, 4)
    waves = sum(np.sin(x * kx + y * ky + p) for (kx, ky), p in zip(k, phase, strict=True)) / 4
    east = np.clip((x + 5000) / 25000, 0, 1)
    return np.round(3 + 20 * (waves + 1) + 35 * east, 1)


def _install_days(
    rng: np.random.Generator, x: np.ndarray, y: np.ndarray, later: float
) -> np.ndarray:
    """Older near the old towns, newer outwards: the network grew with the city."""
    px, py = to_xy(OLD_TOWNS[:, 0], OLD_TOWNS[:, 1])
    dist = np.hypot(x[:, None] - px, y[:, None] - py)
    year = np.min(OLD_TOWNS[:, 2] + dist / 700.0, axis=1) + later + rng.normal(0, 4, x.size)
    days = ((np.clip(year, 1970, 2025) - 1970) * 365.25).astype(np.int64)
    return np.minimum(days, LAST_DAY)


def pipe_network(
    rng: np.random.Generator, g: RoadGraph
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Per utility: nodes at every intersection, a pipe under every road link, ~10 % renewed."""
    ea, eb, ecls = g.a[~g.tunnel], g.b[~g.tunnel], g.road_class[~g.tunnel]
    tier = np.clip(ecls - 1, 0, 2)  # trunk and primary share the arterial tier
    ground = _ground_m(rng, g.x, g.y)
    mx, my = (g.x[ea] + g.x[eb]) / 2, (g.y[ea] + g.y[eb]) / 2
    nodes, pipes = [], []
    for name, u in UTILITY_SPECS.items():
        n, e = g.x.size, ea.size
        lon, lat = (np.round(v, 7) for v in to_lonlat(g.x + u.offset_m, g.y + u.offset_m))
        depth = np.round(rng.uniform(*u.depth_m, n), 2)
        a, b = ea, eb
        if name == "drainage":  # gravity: flow from the higher invert to the lower
            invert = ground - depth
            flip = invert[a] < invert[b]
            a, b = np.where(flip, b, a), np.where(flip, a, b)
        installed = _install_days(rng, mx, my, u.years_later)
        renewed = np.minimum(installed + rng.integers(12 * 365, 40 * 365, e), LAST_DAY)
        old_enough = (installed < 365 * 38) & (renewed > installed + 365)  # laid before 2008
        renew = old_enough & (rng.random(e) < min(0.9, 0.10 * e / max(old_enough.sum(), 1)))
        year = 1970 + installed / 365.25
        material = np.where(year < u.modern_from, pick(rng, u.legacy, e), pick(rng, u.modern, e))
        dn = np.empty(e, float)
        for t, sizes in enumerate(u.dn):
            dn[tier == t] = pick(rng, sizes, int((tier == t).sum())).astype(float)
        pressure = np.array(u.pressure, dtype=object)[tier]
        status = np.where(
            (installed > 365 * 54.5) & (rng.random(e) < 0.3), "under_construction", "in_service"
        ).astype(object)

        node_ids = ids(f"{u.code}-N", n)
        # Renewed pipes: the old asset ends where its replacement (a new asset) begins.
        new = np.flatnonzero(renew)
        sel = np.concatenate([np.arange(e), new])
        start = np.concatenate([installed, renewed[new]])
        end = np.concatenate([np.where(renew, renewed, -1), np.full(new.size, -1)])
        coords = np.stack(
            [
                np.column_stack([lon[a[sel]], lat[a[sel]], -depth[a[sel]]]),
                np.column_stack([lon[b[sel]], lat[b[sel]], -depth[b[sel]]]),
            ],
            axis=1,
        )
        pipe_ids = ids(f"{u.code}-P", sel.size)
        pipes.append(
            frame(
                {
                    "asset_id": pipe_ids,
                    "utility": name,
                    "link_kind": "pipe",
                    "diameter_mm": dn[sel],
                    "material": np.concatenate([material, pick(rng, u.modern, new.size)]),
                    "pressure_class": pressure[sel],
                    "owner": f"{name} utility (synthetic)",
                    "install_date": dates(start),
                    "depth_start_m": depth[a[sel]],
                    "depth_end_m": depth[b[sel]],
                    "from_node": node_ids[a[sel]],
                    "to_node": node_ids[b[sel]],
                    "status": status[sel],
                    "valid_from": utc(start),
                    "valid_to": utc(np.maximum(end, 0)).where(end >= 0),
                    "replaces": np.concatenate([np.full(e, None), pipe_ids[new]]),
                },
                shapely.linestrings(coords),
            )
        )

        first = np.full(n, LAST_DAY)
        np.minimum.at(first, ea, installed)
        np.minimum.at(first, eb, installed)
        kinds = pick(rng, list(u.node_kinds), n, p=list(u.node_kinds.values()))
        if name == "water":  # a treatment-plant inflow and a tank on each bank
            comp = components(n, ea, eb)
            for c in np.argsort(np.bincount(comp))[::-1][:2]:
                kinds[rng.choice(np.flatnonzero(comp == c), 2, replace=False)] = ["source", "tank"]
        valve = np.where(
            kinds == "valve", pick(rng, ("open", "closed", "broken"), n, p=(0.94, 0.04, 0.02)), NONE
        )
        nodes.append(
            frame(
                {
                    "asset_id": node_ids,
                    "utility": name,
                    "node_kind": kinds,
                    "valve_state": valve,
                    "depth_m": depth,
                    "ground_elevation_m": ground,
                    "owner": f"{name} utility (synthetic)",
                    "install_date": dates(first),
                    "status": "in_service",
                    "valid_from": utc(first),
                },
                shapely.points(lon, lat, -depth),
            )
        )
    return (pd.concat(nodes, ignore_index=True), pd.concat(pipes, ignore_index=True))
