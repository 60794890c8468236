"""Terrain on a radio path: line of sight and single knife-edge diffraction (ITU-R P.526-15).

Along each path from a mast to a cell the terrain is sampled from a DEM (`Terrain`), the
earth bulges by d1·d2/(2ka) (k = 4/3, the standard atmosphere's effective radius), and
every sample's height h above the straight ray gives P.526's diffraction parameter
v = h·√(2(d1 + d2)/(λ·d1·d2)) (eq. 27). The sample with the largest v is the single knife
edge, and the loss is J(v) (eq. 31: 6.9 + 20·log10(√((v − 0.1)² + 1) + v − 0.1) for
v > −0.78, else 0). A path is in line of sight when no sample rises above the ray (v ≤ 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

C_M_S = 299_792_458.0
EARTH_RADIUS_M = 6_371_000.0
K_FACTOR = 4.0 / 3.0  # ITU-R P.453's median effective earth radius factor
V_MIN = -0.78  # below it, P.526 eq. (31) gives no loss
MIN_SAMPLES, MAX_SAMPLES = 8, 128


def knife_edge_db(v: Array | float) -> Array:
    """J(v), ITU-R P.526-15 eq. (31), in dB; 0 where v ≤ −0.78."""
    v = np.asarray(v, dtype=np.float64)
    w = np.maximum(v, V_MIN) - 0.1  # −inf (no edge at all) must not reach the log
    out = 6.9 + 20.0 * np.log10(np.sqrt(w * w + 1.0) + w)
    return np.where(v > V_MIN, out, 0.0)


def diffraction_v(h_m: Array, d1_m: Array, d2_m: Array, frequency_mhz: float) -> Array:
    """P.526 eq. (27): the edge's height above the ray, scaled by the first Fresnel zone."""
    wavelength = C_M_S / (frequency_mhz * 1e6)
    return h_m * np.sqrt(2.0 * (d1_m + d2_m) / (wavelength * d1_m * d2_m))


@dataclass(frozen=True)
class Terrain:
    """Ground heights on a regular grid of a metric CRS: `z[row, col]` is the height at
    (x0 + (col + 0.5)·cell, y0 + (row + 0.5)·cell); NaN where the DEM has no value."""

    x0: float
    y0: float
    cell: float
    z: NDArray[np.float32]

    def height(self, x: Array, y: Array) -> Array:
        """Bilinear ground height at each point; NaN outside the DEM or next to a hole."""
        rows, cols = self.z.shape
        fx = (np.asarray(x) - self.x0) / self.cell - 0.5
        fy = (np.asarray(y) - self.y0) / self.cell - 0.5
        c0, r0 = np.floor(fx), np.floor(fy)
        inside = (c0 >= 0) & (r0 >= 0) & (c0 < cols - 1) & (r0 < rows - 1)
        c = np.where(inside, c0, 0).astype(np.intp)
        r = np.where(inside, r0, 0).astype(np.intp)
        tx, ty = fx - c0, fy - r0
        z = self.z
        top = z[r, c] * (1 - tx) + z[r, c + 1] * tx
        bottom = z[r + 1, c] * (1 - tx) + z[r + 1, c + 1] * tx
        out = top * (1 - ty) + bottom * ty
        return np.where(inside, out, np.nan)


@dataclass(frozen=True)
class PathLoss:
    """Per cell: the knife-edge loss in dB, whether the path is in line of sight, and
    whether the DEM covered the whole path (where it did not, the loss is 0: flat)."""

    loss_db: NDArray[np.float32]
    line_of_sight: NDArray[np.bool_]
    covered: NDArray[np.bool_]

    def obstructed_only(self) -> NDArray[np.float32]:
        """The loss where terrain blocks the ray (v > 0), 0 where it only grazes the first
        Fresnel zone: for empirical models (Hata, COST-231, UMa), fitted over real ground,
        which already hold that clearance loss."""
        return np.where(self.line_of_sight, np.float32(0), self.loss_db)


def path_loss(
    terrain: Terrain,
    tx_x: float,
    tx_y: float,
    tx_height_m: float,
    rx_x: Array,
    rx_y: Array,
    rx_height_m: float,
    frequency_mhz: float,
) -> PathLoss:
    """Knife-edge loss from a mast (`tx_height_m` above its ground) to every cell centre
    (`rx_height_m` above its ground), broadcasting over the cells' arrays."""
    rx_x, rx_y = np.broadcast_arrays(np.asarray(rx_x, np.float64), np.asarray(rx_y, np.float64))
    shape = rx_x.shape
    rx_x, rx_y = rx_x.ravel(), rx_y.ravel()
    d = np.hypot(rx_x - tx_x, rx_y - tx_y)
    n = int(np.clip(np.ceil(d.max(initial=0.0) / terrain.cell), MIN_SAMPLES, MAX_SAMPLES))
    t = (np.arange(1, n + 1) / (n + 1))[None, :]  # interior samples only: not the ends
    sx = tx_x + (rx_x - tx_x)[:, None] * t
    sy = tx_y + (rx_y - tx_y)[:, None] * t
    ground = terrain.height(sx, sy)
    z_tx = terrain.height(np.array([tx_x]), np.array([tx_y]))[0] + tx_height_m
    z_rx = terrain.height(rx_x, rx_y) + rx_height_m
    d1, d2 = d[:, None] * t, d[:, None] * (1 - t)
    bulge = d1 * d2 / (2 * K_FACTOR * EARTH_RADIUS_M)
    ray = z_tx + (z_rx[:, None] - z_tx) * t
    with np.errstate(divide="ignore", invalid="ignore"):
        v = diffraction_v(ground + bulge - ray, d1, d2, frequency_mhz)
    covered = np.isfinite(v).all(axis=1) & (d > 0)
    v_max = np.where(covered, np.nanmax(np.where(np.isfinite(v), v, -np.inf), axis=1), -np.inf)
    loss = knife_edge_db(v_max).astype(np.float32)
    return PathLoss(loss.reshape(shape), (v_max <= 0).reshape(shape), covered.reshape(shape))
