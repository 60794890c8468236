"""SYNTHETIC emergency layers: shelters, hazard sources, protected targets and incidents."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from loaders.demo_city.network import RoadGraph
from loaders.demo_city.plane import downtown_weight, frame, pick, to_lonlat


def _near_roads(rng: np.random.Generator, g: RoadGraph, n: int) -> np.ndarray:
    """n points 30–80 m off random road intersections, favouring downtown."""
    w = 0.2 + downtown_weight(g.x, g.y, 6000.0)
    at = rng.choice(g.x.size, n, p=w / w.sum())
    r, t = rng.uniform(30, 80, n), rng.uniform(0, 2 * np.pi, n)
    lon, lat = to_lonlat(g.x[at] + r * np.cos(t), g.y[at] + r * np.sin(t))
    return shapely.points(np.round(lon, 7), np.round(lat, 7))


def _spread(rng: np.random.Generator, kinds: np.ndarray, ranges: dict) -> np.ndarray:
    lo, hi = np.array([ranges[k] for k in kinds], float).T
    return np.round(np.exp(rng.uniform(np.log(lo), np.log(hi))), 1)


def shelters(rng: np.random.Generator, g: RoadGraph, n: int = 60) -> gpd.GeoDataFrame:
    area = {
        "park": (20e3, 200e3),
        "square": (10e3, 60e3),
        "school": (5e3, 30e3),
        "stadium": (10e3, 50e3),
        "indoor": (2e3, 10e3),
    }
    kind = pick(rng, list(area), n, p=(0.35, 0.15, 0.3, 0.1, 0.1))
    area_m2 = _spread(rng, kind, area)
    return frame(
        {
            "asset_id": [f"SH{i:03d}" for i in range(n)],
            "name": [f"合成避难场所{i + 1:02d}" for i in range(n)],
            "capacity": (area_m2 / 2.0).astype(int),  # ~2 m² of usable area per person
            "kind": kind,
            "area_m2": area_m2,
            "status": pick(rng, ("open", "closed"), n, p=(0.95, 0.05)),
        },
        _near_roads(rng, g, n),
    )


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
    return frame(
        {
            "asset_id": [f"HZ{i:03d}" for i in range(n)],
            "name": [f"合成危险源{i + 1:02d}" for i in range(n)],
            "kind": kind,
            "risk_level": [rng.choice(HAZARDS[k][3]) for k in kind],
            "substance": [HAZARDS[k][1] for k in kind],
            "quantity_t": _spread(rng, kind, {k: h[2] for k, h in HAZARDS.items()}),
        },
        _near_roads(rng, g, n),
    )


TARGETS = {  # kind: (share, people present)
    "school": (0.3, (500, 3000)),
    "kindergarten": (0.2, (100, 400)),
    "hospital": (0.12, (300, 5000)),
    "nursing_home": (0.1, (50, 500)),
    "government": (0.08, (50, 800)),
    "water_plant": (0.03, (20, 150)),
    "power_plant": (0.02, (50, 300)),
    "residential": (0.15, (1000, 12000)),
}


def protected_targets(rng: np.random.Generator, g: RoadGraph, n: int = 150) -> gpd.GeoDataFrame:
    kind = pick(rng, list(TARGETS), n, p=[t[0] for t in TARGETS.values()])
    return frame(
        {
            "asset_id": [f"PT{i:03d}" for i in range(n)],
            "name": [f"合成防护目标{i + 1:03d}" for i in range(n)],
            "kind": kind,
            "population": _spread(rng, kind, {k: t[1] for k, t in TARGETS.items()}).astype(int),
        },
        _near_roads(rng, g, n),
    )


INCIDENTS = {  # kind: (share, duration hours range)
    "pipe_burst": (0.3, (2, 24)),
    "gas_leak": (0.2, (1, 8)),
    "fire": (0.15, (1, 6)),
    "traffic": (0.1, (0.5, 4)),
    "flood": (0.08, (6, 72)),
    "collapse": (0.07, (4, 48)),
    "typhoon": (0.03, (24, 72)),
    "chemical": (0.03, (2, 12)),
    "other": (0.04, (1, 12)),
}
ON_PIPES = {"pipe_burst": "water", "gas_leak": "gas"}


def incidents(
    rng: np.random.Generator, g: RoadGraph, pipes: gpd.GeoDataFrame, n: int = 50
) -> gpd.GeoDataFrame:
    """Incidents 2020–2026; bursts and leaks sit on a water or gas pipe in service then."""
    t0, t1 = pd.Timestamp("2020-01-01", tz="UTC"), pd.Timestamp("2026-10-31", tz="UTC")
    started = pd.DatetimeIndex(
        np.sort(rng.uniform(t0.value, t1.value, n)).astype("int64"), tz="UTC"
    ).floor("min")
    kind = pick(rng, list(INCIDENTS), n, p=[v[0] for v in INCIDENTS.values()])
    hours = _spread(rng, kind, {k: v[1] for k, v in INCIDENTS.items()})
    ended = (started + pd.to_timedelta(hours, unit="h")).floor("min")
    open_ = np.arange(n) >= n - 2  # the latest two are still being handled
    geometry = _near_roads(rng, g, n)
    description = [f"合成事件（synthetic {k}）" for k in kind]
    for i in np.flatnonzero(np.isin(kind, list(ON_PIPES))):
        live = pipes[
            (pipes["utility"] == ON_PIPES[kind[i]])
            & (pipes["valid_from"] <= started[i])
            & ~(pipes["valid_to"] <= started[i])
        ]
        pipe = live.iloc[rng.integers(len(live))]
        geometry[i] = shapely.force_2d(
            shapely.line_interpolate_point(pipe.geometry, rng.uniform(0.2, 0.8), normalized=True)
        )
        description[i] += f" on pipe {pipe.asset_id}"
    return frame(
        {
            "asset_id": [f"EV{i:03d}" for i in range(n)],
            "name": [f"合成事件{i + 1:02d}" for i in range(n)],
            "kind": kind,
            "severity": pick(rng, ("IV", "III", "II", "I"), n, p=(0.6, 0.28, 0.1, 0.02)),
            "status": np.where(open_, pick(rng, ("active", "reported"), n), "closed"),
            "started_at": started,
            "ended_at": ended.where(~open_),
            "casualties": np.where(
                np.isin(kind, ("fire", "traffic", "collapse")), rng.poisson(0.8, n), 0
            ),
            "description": description,
            "valid_from": started,
        },
        geometry,
    )
