"""Geometries in and out: which CRSs we accept, GeoJSON validation, output projection."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import mapping, shape

from layers.errors import InvalidParameter, TooLarge
from layers.spec import STORAGE_SRID
from loaders import chinese_offsets

MAX_VERTICES = 10_000
GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}


@dataclass(frozen=True)
class CrsChoice:
    """A CRS a client may speak: an EPSG code PostGIS knows, or WGS 84 with a Chinese offset."""

    name: str
    srid: int
    geographic: bool
    offset: chinese_offsets.Offset | None = None


_CRS84 = CrsChoice("CRS84", 4326, True)
_CHOICES = {
    "crs84": _CRS84,
    "ogc:crs84": _CRS84,
    "http://www.opengis.net/def/crs/ogc/1.3/crs84": _CRS84,
    "gcj02": CrsChoice("gcj02", 4326, True, "gcj02"),
    "bd09": CrsChoice("bd09", 4326, True, "bd09"),
}
for _code, _geo in ((4326, True), (4490, True), (4549, False), (3857, False)):
    for _key in (f"{_code}", f"epsg:{_code}", f"http://www.opengis.net/def/crs/epsg/0/{_code}"):
        _CHOICES[_key] = CrsChoice(f"EPSG:{_code}", _code, _geo)
SUPPORTED = "CRS84, EPSG:4326, EPSG:4490, EPSG:4549, EPSG:3857, gcj02, bd09"


def parse_crs(text: str | None, name: str = "crs") -> CrsChoice:
    """One of the supported CRSs; x is always longitude for the geographic ones (GeoJSON)."""
    if text is None or not text.strip():
        return _CRS84
    try:
        return _CHOICES[text.strip().lower()]
    except KeyError:
        raise InvalidParameter(
            f"{name}: unsupported CRS {text[:80]!r}; use one of {SUPPORTED}"
        ) from None


def _check_range(geom: shapely.Geometry, crs: CrsChoice) -> None:
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise InvalidParameter("geometry: coordinates must be finite numbers")
    if crs.geographic and ((np.abs(coords[:, 0]) > 180).any() or (np.abs(coords[:, 1]) > 90).any()):
        raise InvalidParameter(
            f"geometry: lon/lat out of range for {crs.name} (GeoJSON order is longitude, latitude)"
        )


def parse_geometry(obj: dict[str, Any], crs: CrsChoice) -> shapely.Geometry:
    """A valid 2D GeoJSON geometry in WGS 84/the CRS's datum, Chinese offsets removed."""
    kind = obj.get("type")
    if kind not in GEOMETRY_TYPES:
        raise InvalidParameter(
            f"geometry: type {str(kind)[:40]!r} is not one of {', '.join(sorted(GEOMETRY_TYPES))}"
        )
    try:
        geom = shape(obj)
        vertices = shapely.get_num_coordinates(geom)
    except Exception as exc:  # shapely raises a zoo of types on malformed coordinates
        raise InvalidParameter(f"geometry: malformed {kind} coordinates ({exc})") from None
    if vertices > MAX_VERTICES:
        raise TooLarge(f"geometry: {vertices} vertices, at most {MAX_VERTICES} allowed")
    if geom.is_empty:
        raise InvalidParameter("geometry: empty")
    _check_range(geom, crs)
    if not geom.is_valid:
        raise InvalidParameter(f"geometry: invalid ({shapely.is_valid_reason(geom)})")
    geom = shapely.force_2d(geom)
    if crs.offset:
        geom = chinese_offsets.to_wgs84(geom, crs.offset)
    return geom


def sql_geometry(geom: shapely.Geometry, crs: CrsChoice, prefix: str = "g") -> tuple[str, dict]:
    """A SQL expression for the geometry in storage CRS, with its bind parameters."""
    return (
        f"ST_Transform(ST_GeomFromWKB(:{prefix}_wkb, :{prefix}_srid), {STORAGE_SRID})",
        {f"{prefix}_wkb": shapely.to_wkb(geom), f"{prefix}_srid": crs.srid},
    )


def sql_point(lon: float, lat: float, crs: CrsChoice, prefix: str = "pt") -> tuple[str, dict]:
    return sql_geometry(
        parse_geometry({"type": "Point", "coordinates": [lon, lat]}, crs), crs, prefix
    )


@lru_cache(maxsize=8)
def _transformer(srid: int) -> Transformer:
    return Transformer.from_crs(4326, srid, always_xy=True)


def project_features(features: list[dict], crs: CrsChoice) -> list[dict]:
    """Features from CRS84 (what SQL returns) into the requested output CRS; CPU-bound."""
    if crs.srid in (4326, 4490) and not crs.offset:
        return features
    out = []
    offset = crs.offset
    t = None if offset else _transformer(crs.srid)
    for feature in features:
        if feature["geometry"] is None:
            out.append(feature)
            continue
        geom = shape(feature["geometry"])
        if offset:
            geom = chinese_offsets.from_wgs84(geom, offset)
        else:
            assert t is not None  # built above whenever there is no offset
            geom = shapely.transform(geom, lambda c, t=t: np.column_stack(t.transform(*c.T)))
        out.append(feature | {"geometry": mapping(geom)})
    return out
