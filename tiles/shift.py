"""Vector tiles that sit on a GCJ-02 basemap (AMap, Tencent): `?shift=gcj02`.

Our data is CGCS2000 (≈ WGS 84); Chinese web basemaps draw GCJ-02, about 500 m away at
Qingdao, so unshifted tiles land beside the streets they belong to. GCJ-02 is smooth, so
over one tile an affine map fits it closely: we fit one per tile (least squares on a 9×9
grid of `loaders.chinese_offsets` shifts, in Web Mercator metres) and PostGIS applies it
with ST_Affine before ST_AsMVTGeom. The fit's worst residual on its grid is kept as
`error_m`: at Qingdao under a quarter pixel at every zoom (GCJ-02's 30 km ripples show
most at z8–z12, 0.2 px at worst), and under 1/32 pixel from z14 (tests/tiles/test_tiles.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pyproj.enums import TransformDirection

from loaders.chinese_offsets import wgs84_to_gcj02
from tiles.grid import TileCoords, mercator_to_lonlat

SHIFTS = ("gcj02",)
_GRID = 9


def _to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return mercator_to_lonlat().transform(x, y)


def _to_mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return mercator_to_lonlat().transform(lon, lat, direction=TransformDirection.INVERSE)


@dataclass(frozen=True)
class Affine:
    """x' = a·x + b·y + xoff, y' = d·x + e·y + yoff, in Web Mercator metres."""

    a: float
    b: float
    d: float
    e: float
    xoff: float
    yoff: float
    error_m: float

    def params(self) -> dict[str, float]:
        return {
            "sa": self.a,
            "sb": self.b,
            "sd": self.d,
            "se": self.e,
            "sx": self.xoff,
            "sy": self.yoff,
        }

    def inverse_box(
        self, box: tuple[float, float, float, float]
    ) -> tuple[float, float, float, float]:
        """Bounds of where points come from that this map moves into `box`."""
        x0, y0, x1, y1 = box
        m = np.linalg.inv(np.array([[self.a, self.b], [self.d, self.e]]))
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) - [self.xoff, self.yoff]
        back = corners @ m.T
        return back[:, 0].min(), back[:, 1].min(), back[:, 0].max(), back[:, 1].max()


@lru_cache(maxsize=4096)
def gcj02_affine(coords: TileCoords) -> Affine:
    """The affine map that best moves this tile's WGS 84 positions to GCJ-02."""
    b = coords.xy_bounds()
    gx, gy = np.meshgrid(np.linspace(b.left, b.right, _GRID), np.linspace(b.bottom, b.top, _GRID))
    x, y = gx.ravel(), gy.ravel()
    lon, lat = _to_lonlat(x, y)
    tx, ty = _to_mercator(*wgs84_to_gcj02(lon, lat))
    # Fit around the tile's corner so the unknowns stay well conditioned.
    ox, oy = b.left, b.bottom
    design = np.column_stack([x - ox, y - oy, np.ones_like(x)])
    (a, bb, cx), *_ = np.linalg.lstsq(design, tx - ox, rcond=None)
    (d, e, cy), *_ = np.linalg.lstsq(design, ty - oy, rcond=None)
    fit_x, fit_y = design @ [a, bb, cx] + ox, design @ [d, e, cy] + oy
    # Mercator metres are stretched by 1/cos(lat); report ground metres.
    error = float(np.max(np.hypot(fit_x - tx, fit_y - ty) * np.cos(np.radians(lat))))
    return Affine(
        a=a,
        b=bb,
        d=d,
        e=e,
        xoff=ox + cx - a * ox - bb * oy,
        yoff=oy + cy - d * ox - e * oy,
        error_m=error,
    )


def source_lonlat_bounds(
    coords: TileCoords, affine: Affine, margin: float
) -> tuple[float, float, float, float]:
    """Lon/lat bounds of the unshifted features that land in the tile (plus margin)."""
    b = coords.xy_bounds()
    pad = (b.right - b.left) * margin
    x0, y0, x1, y1 = affine.inverse_box((b.left - pad, b.bottom - pad, b.right + pad, b.top + pad))
    lim = 20037508.342789244
    (w, e), (s, n) = _to_lonlat(np.clip([x0, x1], -lim, lim), np.clip([y0, y1], -lim, lim))
    return float(w), float(s), float(e), float(n)
