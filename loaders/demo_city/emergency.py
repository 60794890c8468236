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
KIND_ZH = {
    "pipe_burst": "供水管道爆管",
    "gas_leak": "燃气管道泄漏",
    "fire": "火灾",
    "traffic": "交通事故",
    "flood": "城市内涝",
    "collapse": "建筑坍塌",
    "typhoon": "台风灾害",
    "chemical": "危险化学品泄漏",
    "other": "突发事件",
}
RESPONSE_ZH = {
    "pipe_burst": "供水抢修队到场关阀止水，周边路段临时封闭",
    "gas_leak": "燃气抢修队关闭上游阀门，警戒区内人员疏散",
    "fire": "消防救援队伍到场扑救，疏散周边群众",
    "traffic": "交警、120到场处置，现场交通疏导",
    "flood": "排水抢险队设泵排涝，低洼路段封闭",
    "collapse": "救援队伍到场搜救被困人员",
    "typhoon": "启动防台风应急响应，转移危险区域群众",
    "chemical": "危化品救援队到场堵漏，下风向人员疏散",
    "other": "相关部门到场处置",
}
STATUSES = ("reported", "active", "contained", "closed")  # the order an incident goes through
LOCAL = "Asia/Shanghai"  # the log's clock: what the duty officer wrote down
SEVERITY = ("IV", "III", "II", "I")


def _stamp(t: pd.Timestamp) -> str:
    return t.tz_convert(LOCAL).strftime("%H:%M")


def _steps(rng: np.random.Generator, hours: float, open_: bool) -> list[tuple[str, float]]:
    """(status, hours since the report) of each version: reported, active, 0–2 updates,
    perhaps contained, then closed at the end (an open incident is still being handled)."""
    updates = int(rng.integers(1 if open_ else 0, 3))
    contained = rng.random() < 0.6
    if open_ and updates + contained > 2:
        contained = False
    marks = np.sort(rng.uniform(0.25, 0.7, updates)) if updates else np.array([])
    steps = [("reported", 0.0), ("active", rng.uniform(0.05, 0.2) * hours)]
    steps += [("active", m * hours) for m in marks]
    if contained:
        steps.append(("contained", rng.uniform(0.75, 0.9) * hours))
    if not open_:
        steps.append(("closed", hours))
    return steps


def _severity_revised(rng: np.random.Generator, guess: str) -> str:
    k = SEVERITY.index(guess) + int(rng.choice((-1, 0, 0, 1)))
    return SEVERITY[min(max(k, 0), len(SEVERITY) - 1)]


def _log_line(status: str, n: int, kind: str, at: pd.Timestamp, row: dict, note: str) -> str:
    """The duty officer's line for one version, in Chinese, labelled synthetic."""
    t, sev, dead = _stamp(at), row["severity"], row["casualties"]
    hurt = "伤亡情况待核实" if pd.isna(dead) else f"伤亡 {int(dead)} 人"
    match status, n:
        case "reported", _:
            text = f"{t} 接报：{KIND_ZH[kind]}{note}，初判 {sev} 级，{hurt}"
        case "active", 1:
            text = f"{t} 处置中：{RESPONSE_ZH[kind]}；{hurt}，研判 {sev} 级"
        case "active", _:
            text = f"{t} 续报：现场处置持续，{hurt}"
        case "contained", _:
            text = f"{t} 险情得到控制，警戒范围缩小，{hurt}"
        case _:
            text = f"{t} 处置完毕，现场恢复正常，事件关闭"
    return f"{text} (synthetic)"


def incidents(
    rng: np.random.Generator, g: RoadGraph, pipes: gpd.GeoDataFrame, n: int = 50
) -> gpd.GeoDataFrame:
    """Incidents 2020–2026 with their logs: 3–6 versions each (reported → active → …
    → closed at ended_at; the latest two are still open). Bursts and leaks sit on a water
    or gas pipe in service then."""
    t0, t1 = pd.Timestamp("2020-01-01", tz="UTC"), pd.Timestamp("2026-10-31", tz="UTC")
    started = pd.DatetimeIndex(
        np.sort(rng.uniform(t0.value, t1.value, n)).astype("int64"), tz="UTC"
    ).floor("min")
    kind = pick(rng, list(INCIDENTS), n, p=[v[0] for v in INCIDENTS.values()])
    hours = _spread(rng, kind, {k: v[1] for k, v in INCIDENTS.items()})
    open_ = np.arange(n) >= n - 2  # the latest two are still being handled
    geometry = _near_roads(rng, g, n)
    notes = [""] * n
    for i in np.flatnonzero(np.isin(kind, list(ON_PIPES))).tolist():
        live = pipes[
            (pipes["utility"] == ON_PIPES[kind[i]])
            & (pipes["valid_from"] <= started[i])
            & ~(pipes["valid_to"] <= started[i])
        ]
        pipe = live.iloc[rng.integers(len(live))]
        geometry[i] = shapely.force_2d(
            shapely.line_interpolate_point(pipe.geometry, rng.uniform(0.2, 0.8), normalized=True)
        )
        notes[i] = f"，位于管线 {pipe.asset_id}"
    guess = pick(rng, SEVERITY, n, p=(0.6, 0.28, 0.1, 0.02))
    hurt = np.where(np.isin(kind, ("fire", "traffic", "collapse")), rng.poisson(0.8, n), 0)
    rows: list[dict] = []
    for i in range(n):
        steps = _steps(rng, float(hours[i]), bool(open_[i]))
        revised = _severity_revised(rng, guess[i])
        times: list[pd.Timestamp] = []
        for _, h in steps:  # on the minute, each at least a minute after the one before
            at = (started[i] + pd.Timedelta(hours=h)).floor("min")
            times.append(at if not times else max(at, times[-1] + pd.Timedelta(minutes=1)))
        ended = times[-1] if not open_[i] else pd.NaT
        for k, ((status, _), at) in enumerate(zip(steps, times, strict=True)):
            row = {
                "asset_id": f"EV{i:03d}",
                "name": f"合成事件{i + 1:02d}",
                "kind": kind[i],
                "severity": guess[i] if k == 0 else revised,
                "status": status,
                "started_at": started[i],
                "ended_at": ended if status == "closed" else pd.NaT,
                "casualties": pd.NA if k == 0 else int(hurt[i] if k > 1 else hurt[i] // 2),
                "valid_from": at,
                "valid_to": times[k + 1] if k + 1 < len(times) else pd.NaT,
                "geometry": geometry[i],
            }
            row["description"] = _log_line(status, k, kind[i], at, row, notes[i])
            rows.append(row)
    out = pd.DataFrame(rows)
    out["casualties"] = out["casualties"].astype("Int64")
    for col in ("ended_at", "valid_to"):
        out[col] = pd.to_datetime(out[col], utc=True)
    return frame(out.drop(columns="geometry").to_dict("list"), out["geometry"].to_numpy())


CHEMICALS = ("chlorine", "ammonia")  # the demo's chemical plants hold 液氯、液氨


def zone_plans(rng: np.random.Generator, events: gpd.GeoDataFrame) -> pd.DataFrame:
    """What the command centre recorded for each gas leak and chemical incident: a first
    zone when reported, a revised one at the response when the wind had turned.

    Rows are /analysis/hazard-zone requests (`request`, without the point) with the period
    they held: the second until the incident closed (still open for open incidents).
    Drawn at load time by the API's own hazard code (citygis/demo_zones.py).
    """
    rows = []
    for asset, versions in events.groupby("asset_id", sort=True):
        first = versions.iloc[0]
        if first["kind"] not in ("gas_leak", "chemical"):
            continue
        revised_at = versions["valid_from"].iloc[1]
        ended = versions["ended_at"].dropna()
        end = ended.iloc[0] if len(ended) else pd.NaT
        wind = float(np.round(rng.uniform(0, 360)))
        turned = float(np.round((wind + rng.choice((-1, 1)) * rng.uniform(30, 120)) % 360))
        hour = first["valid_from"].tz_convert(LOCAL).hour
        if first["kind"] == "gas_leak":
            requests = [
                {"preset": "erg115", "material": "natural_gas_pipeline", "wind_from_deg": wind},
                {
                    "preset": "custom",
                    "radius_m": 100,
                    "sector": {"angle_deg": 60, "length_m": 300},
                    "wind_from_deg": turned,
                },
            ]
        else:
            erg = {
                "preset": "erg",
                "material": str(rng.choice(CHEMICALS)),
                "spill": "small",
                "time_of_day": "day" if 6 <= hour < 18 else "night",
            }
            requests = [erg | {"wind_from_deg": wind}, erg | {"wind_from_deg": turned}]
        x, y = first.geometry.x, first.geometry.y
        periods = [(first["valid_from"], revised_at), (revised_at, end)]
        for request, (since, until) in zip(requests, periods, strict=True):
            rows.append(
                {
                    "incident_id": asset,
                    "lon": x,
                    "lat": y,
                    "valid_from": since,
                    "valid_to": until,
                    "request": request,
                }
            )
    return pd.DataFrame(
        rows, columns=["incident_id", "lon", "lat", "valid_from", "valid_to", "request"]
    )
