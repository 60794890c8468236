"""Source CRS handling: any EPSG/PROJ/WKT CRS, plus the GCJ-02/BD-09 offsets of Chinese web maps."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from loaders import chinese_offsets
from loaders.errors import LoadError

OFFSET_NAMES: dict[str, chinese_offsets.Offset] = {
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "mars": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "baidu": "bd09",
}
WGS84 = CRS.from_epsg(4326)


@dataclass(frozen=True)
class SourceCRS:
    """A CRS a source may be in: a real one, or WGS 84 shifted by a Chinese web-map offset."""

    crs: CRS
    offset: chinese_offsets.Offset | None = None

    @property
    def name(self) -> str:
        if self.offset:
            return self.offset
        srs = self.crs.srs
        if srs not in _NAMES:  # to_epsg searches PROJ's database: ~12 ms for OGC:CRS84
            epsg = self.crs.to_epsg()
            name = self.crs.name if self.crs.name != "unknown" else srs[:120]
            _NAMES[srs] = f"EPSG:{epsg}" if epsg else name
        return _NAMES[srs]


_NAMES: dict[str, str] = {}  # by the CRS's text as given: a few per process


def parse_crs(text: str | CRS) -> SourceCRS:
    """'EPSG:4549', '4490', a PROJ string, WKT, 'gcj02' or 'bd09'."""
    if isinstance(text, CRS):
        return SourceCRS(text)
    key = text.strip().lower()
    if key in OFFSET_NAMES:
        return SourceCRS(WGS84, OFFSET_NAMES[key])
    if key.isdigit():
        text = f"EPSG:{key}"
    try:
        return SourceCRS(CRS.from_user_input(text))
    except CRSError as exc:
        raise LoadError(
            f"unknown CRS {text!r}: use an EPSG code, PROJ/WKT, gcj02 or bd09 ({exc})"
        ) from None


_local = threading.local()


def _transformer(source: CRS, srid: int) -> Transformer | None:
    """The transformer into EPSG:srid (None: the same CRS), built once per thread: building
    one costs ~40 ms, the whole of a one-feature API write otherwise."""
    cache: dict[tuple[str, int], Transformer | None] = _local.__dict__.setdefault("cache", {})
    key = (source.srs, srid)
    if key not in cache:
        target = CRS.from_epsg(srid)
        cache[key] = (
            None if source == target else Transformer.from_crs(source, target, always_xy=True)
        )
    return cache[key]


def to_storage(geoms: np.ndarray, source: SourceCRS, srid: int) -> np.ndarray:
    """Transform geometries into the layer's storage CRS; Z values pass through."""
    if source.offset:
        geoms = chinese_offsets.to_wgs84(geoms, source.offset)
        source = SourceCRS(WGS84)
    transformer = _transformer(source.crs, srid)
    if transformer is None:
        return geoms

    def project(coords: np.ndarray) -> np.ndarray:
        out = np.array(transformer.transform(*coords.T), dtype=float).T
        return out.reshape(coords.shape)

    has_z = shapely.has_z(geoms)
    result = np.empty_like(geoms)
    # Project x/y only so Z (elevation) is never touched by a vertical transform.
    for mask, include_z in ((has_z, True), (~has_z, False)):
        if mask.any():
            result[mask] = shapely.transform(
                geoms[mask], lambda c: _xy_only(c, project), include_z=include_z
            )
    return result


def _xy_only(coords: np.ndarray, project) -> np.ndarray:
    out = coords.copy()
    out[:, :2] = project(coords[:, :2])
    return out


def area_of_use_bounds(source: SourceCRS) -> tuple[float, float, float, float] | None:
    """Lon/lat bounds where the source CRS is meant to be used, if it says."""
    aou = source.crs.area_of_use
    if aou is None:
        return None
    return aou.west, aou.south, aou.east, aou.north


def gauss_kruger_epsg(lon: float) -> int | None:
    """The CGCS2000 3° Gauss-Krüger zone of a longitude (central meridian in the CRS, no
    zone prefix: EPSG:4534–4554, 4549 for Qingdao), or None outside China's zones."""
    meridian = 3 * round(lon / 3)
    return 4534 + (meridian - 75) // 3 if 75 <= meridian <= 135 else None
