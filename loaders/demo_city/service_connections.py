"""SYNTHETIC service connections along the demo's water pipes: who an isolation puts out.

About 50,000 × scale connections are spread evenly along the water pipes in service now
(60 m apart at scale 1, farther for smaller demos), each a few metres beside its pipe: most
are residential buildings (2–300 people), some shops and offices. A handful are critical
customers named after real Qingdao hospitals and schools, hung on the water pipe nearest
their approximate position: the institutions are real, their connections, positions and
head counts are not (the name says so). One in ten has no pipe_id, as many customer
registers do, so /analysis/isolate snaps it. Connections date from a few years after
their pipe was laid; some buildings were redeveloped, their connection closed and a new
one opened at the same spot, so the layer has history over years.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from loaders.demo_city.plane import LAST_DAY, frame, pick, to_lonlat, to_xy, utc

PER_SCALE = 50_000  # connections at scale 1
MIN_SPACING_M = 30.0
SYNTHETIC = " (synthetic connection)"
# name, critical_kind, approximate (lon, lat), people served
CRITICAL: tuple[tuple[str, str, tuple[float, float], int], ...] = (
    ("青岛大学附属医院（市南院区）", "hospital", (120.3305, 36.0668), 4800),
    ("青岛市市立医院（本部）", "hospital", (120.3290, 36.0720), 4100),
    ("青岛市市立医院（东院）", "hospital", (120.4060, 36.0600), 3000),
    ("青岛市中心医院", "hospital", (120.3650, 36.1200), 2700),
    ("青岛大学附属医院（崂山院区）", "hospital", (120.4560, 36.1060), 3600),
    ("青岛第二中学", "school", (120.4660, 36.1120), 3500),
    ("青岛第五十八中学", "school", (120.4320, 36.0950), 3000),
    ("市北区社区养老服务中心", "care_home", (120.3600, 36.0900), 260),
)
MAX_CRITICAL_M = 2000.0  # an institution farther than this from any demo water pipe is left out


def service_connections(
    rng: np.random.Generator, pipelines: gpd.GeoDataFrame, scale: float
) -> gpd.GeoDataFrame:
    """Connections on the water pipes valid now, then the critical ones, then successors."""
    water = pipelines[
        (pipelines.utility == "water")
        & pipelines.valid_to.isna()
        & (pipelines.status == "in_service")
    ].reset_index(drop=True)
    lines = _plane(water.geometry.values)
    length = shapely.length(lines)
    spacing = max(MIN_SPACING_M, float(length.sum()) / (PER_SCALE * scale))
    # Evenly spaced, the first a random fraction of the spacing in: no pipe's ends.
    counts = np.floor(length / spacing + rng.random(length.size)).astype(np.int64)
    which = np.repeat(np.arange(length.size), counts)
    starts = np.cumsum(counts) - counts
    k = np.arange(which.size) - starts[which]
    along = np.minimum((k + rng.random(which.size)) * spacing, length[which])
    x, y = _beside(rng, lines[which], along)
    n = which.size
    kind = pick(rng, ("residential", "commercial"), n, p=(0.86, 0.14))
    people = np.where(
        kind == "residential",
        np.clip(np.round(rng.lognormal(3.6, 0.9, n)), 2, 300),
        np.clip(np.round(rng.lognormal(2.3, 0.7, n)), 1, 80),
    ).astype(np.int64)
    laid = _days(water.valid_from)[which]
    since = np.minimum(laid + rng.integers(30, 6 * 365, n), LAST_DAY - 2 * 365)
    rows = pd.DataFrame(
        {
            "kind": kind,
            "name": [
                f"{'住宅楼' if k == 'residential' else '商铺'} {i + 1}{SYNTHETIC}"
                for i, k in enumerate(kind)
            ],
            "pipe_id": water.asset_id.values[which],
            "people": people,
            "critical_kind": None,
            "since": since,
            "x": x,
            "y": y,
        }
    )
    rows = pd.concat([rows, _critical(rng, water, lines)], ignore_index=True)
    rows["pipe_id"] = rows.pipe_id.astype(object).where(rng.random(len(rows)) >= 0.1, None)
    return _frame(_redeveloped(rng, rows))


def _plane(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(
        shapely.force_2d(geoms), lambda c: np.column_stack(to_xy(c[:, 0], c[:, 1]))
    )


def _days(stamps: pd.Series) -> np.ndarray:
    """Days since 1970 of UTC timestamps, as the demo's network counts them."""
    days = pd.DatetimeIndex(stamps.dt.tz_convert(None)) - pd.Timestamp("1970-01-01")
    return np.asarray(days.days, dtype=np.int64)


def _beside(
    rng: np.random.Generator, lines: np.ndarray, along: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Points 6–15 m to one side of the pipes, `along` metres from their start (the demo's
    pipes are straight, one road link each: their two ends say it all)."""
    a, b = (
        shapely.get_coordinates(shapely.get_point(lines, 0)),
        shapely.get_coordinates(shapely.get_point(lines, -1)),
    )
    d = b - a
    unit = d / np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
    side = rng.choice((-1.0, 1.0), along.size) * rng.uniform(6.0, 15.0, along.size)
    x = a[:, 0] + unit[:, 0] * along - unit[:, 1] * side
    y = a[:, 1] + unit[:, 1] * along + unit[:, 0] * side
    return x, y


def _critical(rng: np.random.Generator, water: gpd.GeoDataFrame, lines: np.ndarray) -> pd.DataFrame:
    """Each institution beside the water pipe nearest its approximate position."""
    x, y = to_xy(np.array([c[2][0] for c in CRITICAL]), np.array([c[2][1] for c in CRITICAL]))
    tree = shapely.STRtree(lines)
    pipe, dist = tree.query_nearest(shapely.points(x, y), return_distance=True, all_matches=False)
    near = pipe[1][dist <= MAX_CRITICAL_M]
    kept = [i for i, d in enumerate(dist) if d <= MAX_CRITICAL_M]
    along = shapely.line_locate_point(lines[near], shapely.points(x[kept], y[kept]))
    cx, cy = _beside(rng, lines[near], along)
    laid = _days(water.valid_from)[near]
    return pd.DataFrame(
        {
            "kind": "critical",
            "name": [CRITICAL[i][0] + SYNTHETIC for i in kept],
            "pipe_id": water.asset_id.values[near],
            "people": [CRITICAL[i][3] for i in kept],
            "critical_kind": [CRITICAL[i][1] for i in kept],
            "since": np.minimum(laid + 365, LAST_DAY - 5 * 365),
            "x": cx,
            "y": cy,
        }
    )


def _redeveloped(rng: np.random.Generator, rows: pd.DataFrame) -> pd.DataFrame:
    """One residential building in 25 rebuilt: its connection closes, a new one opens there."""
    rows = rows.assign(until=pd.NA)
    room = (LAST_DAY - rows.since > 4 * 365) & (rows.kind == "residential")
    chosen = np.flatnonzero(room.to_numpy() & (rng.random(len(rows)) < 0.04))
    closed = rows.since.to_numpy()[chosen] + rng.integers(3 * 365, 15 * 365, chosen.size)
    closed = np.minimum(closed, LAST_DAY - 180)
    after = rows.iloc[chosen].assign(
        since=closed,
        people=np.clip(rows.people.to_numpy()[chosen] * 2, 2, 300),
        name=[n.replace("住宅楼", "新住宅楼") for n in rows.name.iloc[chosen]],
    )
    rows.loc[rows.index[chosen], "until"] = closed
    return pd.concat([rows, after], ignore_index=True)


def _frame(rows: pd.DataFrame) -> gpd.GeoDataFrame:
    n = len(rows)
    lon, lat = to_lonlat(rows.x.to_numpy(), rows.y.to_numpy())
    until = rows.until.to_numpy()
    ended = pd.notna(until)
    return frame(
        {
            "asset_id": [f"SVC{i:07d}" for i in range(n)],
            "customer_id": [f"WC{i:08d}" for i in range(n)],
            "kind": rows.kind.to_numpy(),
            "name": rows.name.to_numpy(),
            "utility": "water",
            "pipe_id": rows.pipe_id.to_numpy(),
            "people": pd.array(rows.people.to_numpy(), dtype="Int64"),
            "critical_kind": rows.critical_kind.astype(object)
            .where(rows.critical_kind.notna(), None)
            .to_numpy(),
            "address": "青岛 (synthetic address)",
            "valid_from": utc(rows.since.to_numpy(dtype=np.int64)),
            "valid_to": utc(np.where(ended, until, 0).astype(np.int64)).where(ended),
        },
        shapely.points(np.round(lon, 7), np.round(lat, 7)),
    )
