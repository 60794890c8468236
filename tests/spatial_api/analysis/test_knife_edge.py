"""Knife-edge diffraction (ITU-R P.526-15) against the exact Fresnel-integral loss, a
textbook example, and a ridge built into a DEM."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import fresnel

from spatial_api.analysis.knife_edge import (
    EARTH_RADIUS_M,
    K_FACTOR,
    Terrain,
    diffraction_v,
    knife_edge_db,
    path_loss,
)


def exact_db(v):
    """P.526-15 eq. (26): J(v) from the Fresnel integrals C and S."""
    s, c = fresnel(v)
    return -20 * np.log10(np.sqrt((1 - c - s) ** 2 + (c - s) ** 2) / 2)


def test_the_approximation_is_within_a_fraction_of_a_db_of_the_exact_loss():
    v = np.linspace(-0.7, 5, 600)
    assert np.abs(knife_edge_db(v) - exact_db(v)).max() < 0.5
    # A grazing edge (v = 0) halves the field: 6 dB.
    assert exact_db(0.0) == pytest.approx(20 * np.log10(2), abs=1e-9)
    assert float(knife_edge_db(0.0)) == pytest.approx(6.03, abs=0.01)
    assert float(knife_edge_db(-0.78)) == 0.0 and float(knife_edge_db(-2.0)) == 0.0


def test_rappaports_example_900_mhz_a_25_m_edge_midway_on_2_km():
    """Rappaport, Wireless Communications, Example 4.7: v = 2.74, a loss of about 22 dB."""
    v = float(diffraction_v(np.float64(25.0), np.float64(1000.0), np.float64(1000.0), 900.0))
    assert v == pytest.approx(2.7396, abs=1e-3)
    assert float(knife_edge_db(v)) == pytest.approx(21.65, abs=0.05)


def flat(height=0.0, rows=40, cols=260, cell=10.0):
    return Terrain(0.0, -200.0, cell, np.full((rows, cols), height, np.float32))


def test_flat_ground_is_line_of_sight_with_no_loss():
    got = path_loss(flat(12.0), 5.0, 0.0, 30.0, np.array([500.0, 1500.0, 2500.0]), 0.0, 1.5, 3500)
    assert got.line_of_sight.all() and got.covered.all()
    assert got.loss_db.tolist() == [0.0, 0.0, 0.0]


def test_a_ridge_across_the_path_costs_p526s_loss_at_its_crest():
    # A 40 m ridge three cells wide, centred 1,205 m from the mast, on flat ground.
    t = flat()
    z = t.z.copy()
    z[:, 119:122] = 40.0  # cell centres 1,195, 1,205 and 1,215 m: 40 m between 1,195 and 1,215
    terrain = Terrain(t.x0, t.y0, t.cell, z)
    tx_h, rx_h, d, f = 30.0, 1.5, 2405.0, 900.0
    got = path_loss(terrain, 5.0, 0.0, tx_h, np.array([5.0 + d]), 0.0, rx_h, f)
    # The crest is the plateau's point of largest v; found here by dense evaluation.
    d1 = np.linspace(1190.0, 1210.0, 20001)
    ray = tx_h + (rx_h - tx_h) * d1 / d
    bulge = d1 * (d - d1) / (2 * K_FACTOR * EARTH_RADIUS_M)
    v = diffraction_v(40.0 + bulge - ray, d1, d - d1, f).max()
    assert not got.line_of_sight[0] and got.covered[0]
    assert float(got.loss_db[0]) == pytest.approx(float(knife_edge_db(v)), abs=0.2)
    assert float(got.loss_db[0]) > 10.0


def test_a_path_leaving_the_dem_is_not_covered_and_not_penalised():
    got = path_loss(flat(), 5.0, 0.0, 30.0, np.array([1000.0, 9000.0]), 0.0, 1.5, 3500)
    assert got.covered.tolist() == [True, False]
    assert got.loss_db.tolist() == [0.0, 0.0]


def test_cells_broadcast_as_a_grid():
    xs, ys = np.meshgrid(np.arange(100.0, 600.0, 100.0), np.arange(-100.0, 150.0, 50.0))
    got = path_loss(flat(), 5.0, 0.0, 30.0, xs, ys, 1.5, 3500)
    assert got.loss_db.shape == xs.shape == got.line_of_sight.shape
