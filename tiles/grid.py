"""Tile matrix sets (morecantile) and the tile a request names, validated."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import morecantile
from morecantile import BoundingBox, Tile, TileMatrixSet
from pyproj import Transformer

from layers.errors import InvalidParameter, TileMatrixSetNotFound, TileNotFound

# MVT is built with ST_TileEnvelope, which is Web Mercator's grid; other sets would need
# their own envelope and CRS, so only this one is offered.
SUPPORTED = ("WebMercatorQuad",)
EXTENT = 4096  # MVT coordinate units per tile side
BUFFER = 256  # units drawn beyond the tile edge so strokes and labels join across tiles
SCREEN_PX = 256  # a tile's size on screen in WebMercatorQuad, for "too small to see"
MERCATOR_M_PER_DEG = 2 * math.pi * 6378137.0 / 360  # Web Mercator x metres per degree


@cache
def mercator_to_lonlat() -> Transformer:
    """EPSG:3857 → lon/lat. Kept: morecantile's lnglat hashes the CRS on every call, which
    was 0.4 ms of a tile's 0.7 ms of Python (profiled)."""
    return Transformer.from_crs(3857, 4326, always_xy=True)


@cache
def tile_matrix_set(tms_id: str) -> TileMatrixSet:
    if tms_id not in SUPPORTED:
        raise TileMatrixSetNotFound(
            f"unknown tile matrix set {tms_id!r}; available: {', '.join(SUPPORTED)}"
        )
    return morecantile.tms.get(tms_id)


def _index(text: str, name: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise InvalidParameter(f"{name}: {text!r} is not a non-negative integer")
    return int(text)


@dataclass(frozen=True)
class TileCoords:
    """One tile of a tile matrix set: OGC names (tileMatrix, tileRow, tileCol) = z, y, x."""

    tms_id: str
    z: int
    x: int
    y: int

    @classmethod
    def parse(cls, tms_id: str, tile_matrix: str, tile_row: str, tile_col: str) -> TileCoords:
        """Malformed numbers are a 400; a tile outside the set is a 404 (no such tile)."""
        tms = tile_matrix_set(tms_id)
        z = _index(tile_matrix, "tileMatrix")
        y, x = _index(tile_row, "tileRow"), _index(tile_col, "tileCol")
        if not tms.minzoom <= z <= tms.maxzoom:
            raise TileNotFound(f"tileMatrix {z} is not in {tms_id} ({tms.minzoom}–{tms.maxzoom})")
        matrix = tms.matrix(z)
        if y >= matrix.matrixHeight or x >= matrix.matrixWidth:
            raise TileNotFound(
                f"tile {z}/{y}/{x} is outside tileMatrix {z} "
                f"({matrix.matrixHeight} rows × {matrix.matrixWidth} columns)"
            )
        return cls(tms_id, z, x, y)

    @property
    def span_m(self) -> float:
        """Side of the tile in Web Mercator metres."""
        return 2 * 20037508.342789244 / 2**self.z

    def xy_bounds(self) -> BoundingBox:
        """Bounds in the set's CRS (Web Mercator metres)."""
        return tile_matrix_set(self.tms_id).xy_bounds(Tile(self.x, self.y, self.z))

    def lonlat_bounds(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        """Geographic bounds, widened by `margin` tile sides, clamped to the world.

        Web Mercator maps a lon/lat rectangle onto a rectangle, so these corners bound the
        tile exactly; CGCS2000 and WGS 84 agree to centimetres, far inside the margin.
        """
        b = self.xy_bounds()
        pad = (b.right - b.left) * margin
        lim = 20037508.342789244
        xs = max(b.left - pad, -lim), min(b.right + pad, lim)
        ys = max(b.bottom - pad, -lim), min(b.top + pad, lim)
        (w, e), (s, n) = mercator_to_lonlat().transform(xs, ys)
        return w, s, e, n

    def lat_stretch(self) -> float:
        """How much longer a degree of latitude is than one of longitude in Mercator here."""
        _, s, _, n = self.lonlat_bounds()
        return 1 / math.cos(math.radians(min(max(abs(s), abs(n)), 85.0)))
