"""The CRSs items can be served in and bboxes/filters given in (OGC API Features Part 2).

GCJ-02 and BD-09 are no CRSs PROJ knows: PostGIS transforms to WGS 84 and Python applies
`loaders.chinese_offsets` on the way out (or its inverse on the way in).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import shapely

from layers.errors import InvalidParameter
from layers.spec import STORAGE_SRID
from loaders.chinese_offsets import Offset, from_wgs84, to_wgs84
from spatial_api.features.binds import Binds

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CITYGIS = "urn:citygis:def:crs:"  # no authority defines the Chinese web-map offsets


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int
    latlon: bool = False  # EPSG:4326/4490 define latitude first (OGC Part 2 axis rule)
    offset: Offset | None = None

    @property
    def geographic(self) -> bool:
        return self.srid in (4326, 4490)

    @property
    def header(self) -> str:
        return f"<{self.uri}>"


SUPPORTED: tuple[Crs, ...] = (
    Crs(CRS84, 4326),
    Crs(EPSG + "4326", 4326, latlon=True),
    Crs(EPSG + "4490", 4490, latlon=True),
    Crs(EPSG + "4549", 4549),  # CGCS2000 / 3-degree Gauss-Kruger CM 120E (Qingdao)
    Crs(EPSG + "3857", 3857),
    Crs(CITYGIS + "gcj02", 4326, offset="gcj02"),
    Crs(CITYGIS + "bd09", 4326, offset="bd09"),
)
_BY_NAME = {c.uri.lower(): c for c in SUPPORTED}
_BY_NAME |= {f"epsg:{c.srid}": c for c in SUPPORTED if c.uri.startswith(EPSG)}
_BY_NAME |= {
    "crs84": SUPPORTED[0],
    "ogc:crs84": SUPPORTED[0],
    "gcj02": SUPPORTED[5],
    "bd09": SUPPORTED[6],
}
DEFAULT = SUPPORTED[0]
CRS_URIS = [c.uri for c in SUPPORTED]


def parse_crs(text: str | None, name: str) -> Crs:
    """The CRS a `crs`/`bbox-crs`/`filter-crs` parameter names (URI, EPSG:n or gcj02/bd09)."""
    if text is None or not text.strip():
        return DEFAULT
    key = text.strip().strip("<>").lower().replace("https://", "http://")
    try:
        return _BY_NAME[key]
    except KeyError:
        raise InvalidParameter(
            f"{name}: unsupported CRS {text!r}; supported: {', '.join(CRS_URIS)}, "
            "EPSG:4326, EPSG:4490, EPSG:4549, EPSG:3857, gcj02, bd09"
        ) from None


def output_geometry_sql(crs: Crs, column: str = "geom") -> str:
    """SQL for the geometry in the output CRS (before any Chinese offset is applied).

    CGCS2000 and WGS 84 agree to well under a metre and PROJ's own 4490→4326 step is a null
    transform, so geographic output skips ST_Transform on the hot path.
    """
    geom = column if crs.geographic else f"ST_Transform({column}, {crs.srid})"
    return f"ST_FlipCoordinates({geom})" if crs.latlon else geom


def storage_geometry(geojson: dict, crs: Crs, binds: Binds) -> str:
    """SQL for a GeoJSON geometry given in `crs`, moved to the storage CRS."""
    text = json.dumps(geojson)
    if crs.offset:
        text = shapely.to_geojson(to_wgs84(shapely.from_geojson(text), crs.offset))
    expr = f"ST_SetSRID(ST_GeomFromGeoJSON({binds.add(text)}), {crs.srid})"
    if crs.latlon:
        expr = f"ST_FlipCoordinates({expr})"
    if crs.srid != STORAGE_SRID and not crs.geographic:
        expr = f"ST_Transform({expr}, {STORAGE_SRID})"
    elif crs.srid != STORAGE_SRID:
        expr = f"ST_SetSRID({expr}, {STORAGE_SRID})"  # the same null transform as above
    return expr


def shift_features(features: list[dict], crs: Crs) -> list[dict]:
    """Apply the GCJ-02/BD-09 offset to WGS 84 feature geometries, in place."""
    if not crs.offset or not features:
        return features
    with_geom = [f for f in features if f.get("geometry")]
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in with_geom])
    for f, g in zip(with_geom, from_wgs84(geoms, crs.offset), strict=True):
        f["geometry"] = json.loads(shapely.to_geojson(g))
    return features
