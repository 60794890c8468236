"""SYNTHETIC network sensors and a week of their readings, for the demo and tests.

Sensors sit on synthetic pipe nodes: pressure on water junctions, flow at water sources,
level at tanks, gas concentration at gas valves. Readings follow a daily demand curve
(pressure dips at the morning and evening peaks, flow rises) with noise, every 15 minutes
through the week ending 2024-12-31; gas sensors read near zero with a few short leaks
(LEAK: up to 22 %LEL, past both alarm levels, and back): the first gas sensor always has
one, and the last has a leak still rising at the week's end, an open level-1 alarm.
Nothing here is measured data.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

STEP = pd.Timedelta(minutes=15)
WEEK_END = pd.Timestamp("2025-01-01T00:00:00", tz="Asia/Shanghai")
# (utility, node kind) → (sensor kind, unit, how many at most)
PLACES = {
    ("water", "junction"): ("pressure", "MPa", 24),
    ("water", "source"): ("flow", "m3/h", 2),
    ("water", "tank"): ("level", "m", 2),
    ("gas", "valve"): ("gas_concentration", "%LEL", 8),
}
# %LEL every 15 minutes: found at 5, past 10 and 20 (the alarm levels), vented and repaired.
LEAK = np.array([5, 12, 18, 22, 15, 9, 4, 2])
OPEN_LEAK = np.array([1, 2, 4, 6, 8, 10, 11, 12])  # the week's last two hours


def sensors(rng: np.random.Generator, pipe_nodes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Sensors on in-service nodes, installed with the node and valid from then."""
    parts = []
    for (utility, kind), (measures, unit, most) in PLACES.items():
        nodes = pipe_nodes[
            (pipe_nodes["utility"] == utility)
            & (pipe_nodes["node_kind"] == kind)
            & pipe_nodes["valid_from"].lt(WEEK_END - pd.Timedelta(days=7))
        ]
        chosen = nodes.iloc[np.sort(rng.choice(len(nodes), min(most, len(nodes)), replace=False))]
        parts.append(
            gpd.GeoDataFrame(
                {
                    "utility": utility,
                    "sensor_kind": measures,
                    "unit": unit,
                    "node_id": chosen["asset_id"].to_numpy(),
                    "owner": f"{utility} utility (synthetic)",
                    "install_date": chosen["install_date"].to_numpy(),
                    "status": "in_service",
                    "valid_from": chosen["valid_from"].to_numpy(),
                },
                geometry=gpd.points_from_xy(chosen.geometry.x, chosen.geometry.y),
                crs=pipe_nodes.crs,
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "asset_id", [f"SEN-{i:04d}" for i in range(1, len(out) + 1)])
    return gpd.GeoDataFrame(out, geometry="geometry", crs=pipe_nodes.crs)


def _demand(hours: np.ndarray) -> np.ndarray:
    """Relative water demand over the day: morning and evening peaks, a night low."""
    return (
        0.55
        + 0.35 * np.exp(-(((hours - 7.5) / 1.5) ** 2))
        + 0.30 * np.exp(-(((hours - 19.0) / 2.0) ** 2))
    )


def readings(rng: np.random.Generator, sensor_frame: pd.DataFrame) -> pd.DataFrame:
    """Every sensor every 15 minutes through the demo week: sensor_id, observed_at, value."""
    times = pd.date_range(WEEK_END - pd.Timedelta(days=7), WEEK_END, freq=STEP, inclusive="left")
    hours = (times.hour + times.minute / 60).to_numpy()
    demand = _demand(hours)
    frames = []
    gas = list(sensor_frame.loc[sensor_frame["sensor_kind"] == "gas_concentration", "asset_id"])
    for sensor_id, kind in zip(sensor_frame["asset_id"], sensor_frame["sensor_kind"], strict=True):
        noise = rng.normal(0, 1, len(times))
        match kind:
            case "pressure":  # MPa: ~0.38 at night, ~0.26 at the peaks
                value = rng.uniform(0.34, 0.42) - 0.12 * (demand - 0.55) + 0.004 * noise
            case "flow":  # m³/h out of a source
                value = rng.uniform(800, 1500) * demand * (1 + 0.02 * noise)
            case "level":  # m in a tank: drawn down by day, refilled at night
                value = 4.0 + 1.5 * np.cos(2 * np.pi * (hours - 4) / 24) + 0.02 * noise
            case _:  # gas %LEL: near zero, with a rare short leak
                value = np.abs(0.3 * noise)
                if rng.random() < 0.5 or sensor_id == gas[0]:
                    at = rng.integers(0, len(times) - 2 * len(LEAK))
                    value[at : at + len(LEAK)] += LEAK
                if sensor_id == gas[-1] and len(gas) > 1:
                    value[-len(OPEN_LEAK) :] += OPEN_LEAK
        frames.append(
            pd.DataFrame(
                {"sensor_id": sensor_id, "observed_at": times, "value": np.round(value, 4)}
            )
        )
    return pd.concat(frames, ignore_index=True)
