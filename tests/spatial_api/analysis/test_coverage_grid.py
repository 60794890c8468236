"""One sector's reach on the grid, against Okumura-Hata and the 38.901 pattern written out.

No database: the grid kernel is numpy. The expected reach comes from solving the hand-
written formulas (Hata 1980 and TR 38.901 Table 7.3-1) for the distance by bisection, not
from the module's own reach search.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from layers.errors import InvalidParameter, TooLarge
from spatial_api.analysis.coverage_grid import (
    BestServer,
    Grid,
    Notes,
    Radio,
    compute_window,
    compute_windows,
    footprint,
    mask_polygons,
    metric_epsg,
    received,
    with_reach,
)

log = math.log10
F, HM = 900.0, 1.5


def hata_db(d_m: float, hb: float) -> float:
    """Hata 1980, urban, small/medium city a(hm)."""
    a = (1.1 * log(F) - 0.7) * HM - (1.56 * log(F) - 0.8)
    return 69.55 + 26.16 * log(F) - 13.82 * log(hb) - a + (44.9 - 6.55 * log(hb)) * log(d_m / 1000)


def pattern_db(phi: float, theta: float, hbw: float, vbw: float) -> float:
    a_h = -min(12 * (phi / hbw) ** 2, 30)
    a_v = -min(12 * (theta / vbw) ** 2, 30)
    return -min(-(a_h + a_v), 30)


def solve(margin) -> float:
    """The distance where margin(d) (falling with d) crosses 0, by bisection."""
    lo, hi = 1.0, 20_000.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if margin(mid) >= 0 else (lo, mid)
    return lo


def radio(hb=30.0, tilt=0.0, vbw=65.0, az=90.0, mapl=None, **kw) -> Radio:
    mapl = hata_db(2000.0, 30.0) if mapl is None else mapl  # 2 km at 30 m, untilted
    r = Radio(
        x=0.0,
        y=0.0,
        eirp_dbm=mapl - 100.0,
        threshold_dbm=-100.0,
        frequency_mhz=F,
        height_m=hb,
        model="hata",
        azimuth_deg=az,
        beamwidth_deg=65.0,
        tilt_deg=tilt,
        vertical_beamwidth_deg=vbw,
    )
    return with_reach(r, HM, "urban")


CELL = 5.0
GRID = Grid.around((-6000.0, -6000.0, 6000.0, 6000.0), CELL)


def covered(r: Radio) -> np.ndarray:
    mask = np.zeros((GRID.rows, GRID.cols), bool)
    for w in received(GRID, [r], HM, "urban", Notes()):
        mask[w.rows, w.cols] = w.rx_dbm >= r.threshold_dbm
    return mask


def reach_along(mask: np.ndarray, bearing_deg: float) -> float:
    """Farthest covered cell centre along a compass bearing from the mast (1 m steps)."""
    d = np.arange(1.0, 6000.0)
    b = math.radians(bearing_deg)
    col = np.floor((d * math.sin(b) - GRID.x0) / CELL).astype(int)
    row = np.floor((d * math.cos(b) - GRID.y0) / CELL).astype(int)
    hit = mask[row, col]
    return float(d[hit].max()) if hit.any() else 0.0


def expected(hb=30.0, tilt=0.0, vbw=65.0, off=0.0) -> float:
    mapl = hata_db(2000.0, 30.0)

    def margin(d):
        theta = -math.degrees(math.atan2(hb - HM, d)) + tilt
        return mapl - hata_db(d, hb) + pattern_db(off, theta, 65.0, vbw)

    return solve(margin)


def test_reach_at_boresight_is_the_models_distance_at_the_threshold():
    r = radio()
    want = expected()
    assert want == pytest.approx(1999.75, abs=0.01)  # the 65° vertical pattern costs 0.004 dB
    assert footprint(r, HM, "urban").reach_m == pytest.approx(want, rel=1e-4)
    assert reach_along(covered(r), 90.0) == pytest.approx(want, rel=0.01)
    # The window holds the whole footprint: 2 km east, a little behind the mast.
    x0, y0, x1, y1 = r.box
    assert x1 >= want and -x0 >= expected(off=180.0) and y1 >= expected(off=90.0)


def test_higher_antenna_reaches_farther_and_downtilt_less_far():
    low, high = expected(hb=30.0), expected(hb=50.0)
    assert high > low * 1.2
    assert reach_along(covered(radio(hb=50.0)), 90.0) == pytest.approx(high, rel=0.01)
    tilted = expected(tilt=6.0, vbw=6.5)
    flat = expected(tilt=0.0, vbw=6.5)
    assert tilted < flat * 0.8
    assert footprint(radio(tilt=6.0, vbw=6.5), HM, "urban").reach_m == pytest.approx(
        tilted, rel=1e-3
    )
    assert reach_along(covered(radio(tilt=6.0, vbw=6.5)), 90.0) == pytest.approx(tilted, rel=0.01)
    assert reach_along(covered(radio(tilt=0.0, vbw=6.5)), 90.0) == pytest.approx(flat, rel=0.01)


@pytest.mark.parametrize("off", [0.0, 20.0, 30.0, 45.0, 60.0])
def test_off_boresight_the_reach_follows_the_pattern(off):
    mask = covered(radio(az=90.0))
    assert reach_along(mask, 90.0 + off) == pytest.approx(expected(off=off), rel=0.01)
    assert reach_along(mask, 90.0 - off) == pytest.approx(expected(off=off), rel=0.01)


def test_behind_the_antenna_the_front_to_back_ratio_applies():
    back = expected(off=180.0)  # −30 dB: 10^(−30/35.2) of the reach
    assert back == pytest.approx(2000 * 10 ** (-30 / (44.9 - 6.55 * log(30))), rel=0.01)
    assert reach_along(covered(radio(az=90.0)), 270.0) == pytest.approx(back, abs=2 * CELL)


def test_omnidirectional_sector_covers_a_disc():
    r = radio(az=None)
    mask = covered(r)
    for bearing in (0.0, 77.0, 200.0):
        assert reach_along(mask, bearing) == pytest.approx(expected(), rel=0.01)
    assert mask.sum() * CELL**2 == pytest.approx(math.pi * expected() ** 2, rel=0.01)


def test_best_server_takes_the_stronger_sector_and_covered_is_any():
    a = radio(az=90.0)
    b = with_reach(Radio(**{**a.__dict__, "x": 3000.0, "azimuth_deg": 270.0}), HM, "urban")
    best = BestServer.empty(GRID)
    for w in received(GRID, [a, b], HM, "urban", Notes()):
        best.add(w, -100.0)
    row = int((0 - GRID.y0) // CELL)
    col = lambda x: int((x - GRID.x0) // CELL)  # noqa: E731
    assert best.server[row, col(1000.0)] == 0
    assert best.server[row, col(2000.0)] == 1
    assert best.server[row, col(-3000.0)] == -1  # behind a, out of everyone's reach
    assert best.covered[row, col(1500.0)]
    assert (
        best.covered.sum() == covered(a).sum() + covered(b).sum() - (covered(a) & covered(b)).sum()
    )


def test_mask_polygons_are_the_cells():
    grid = Grid(x0=100.0, y0=200.0, cell=10.0, rows=4, cols=5)
    mask = np.array(
        [
            [1, 1, 0, 0, 1],
            [1, 1, 0, 0, 1],
            [0, 0, 0, 0, 0],
            [0, 1, 1, 1, 0],
        ],
        bool,
    )
    geom = mask_polygons(mask, grid)
    assert geom.area == pytest.approx(mask.sum() * 100.0)
    assert shapely.get_num_geometries(geom) == 3
    assert shapely.equals(
        shapely.intersection(geom, shapely.box(100, 200, 120, 220)), shapely.box(100, 200, 120, 220)
    )
    assert shapely.contains_xy(geom, 135.0, 235.0) and not shapely.contains_xy(geom, 105.0, 225.0)
    assert mask_polygons(np.zeros((3, 3), bool), grid).is_empty


def test_gauss_kruger_zone_by_longitude():
    assert metric_epsg(120.38) == 4549  # Qingdao: CGCS2000 3° zone, CM 120°E
    assert metric_epsg(116.4) == 4548  # Beijing: CM 117°E
    assert metric_epsg(121.6) == 4550  # CM 123°E
    with pytest.raises(InvalidParameter, match="73.5–136.5°E"):
        metric_epsg(2.35)


def test_a_grid_too_large_is_refused():
    with pytest.raises(TooLarge, match="raise cell_m"):
        Grid.around((0.0, 0.0, 300_000.0, 300_000.0), 25.0)


def test_stacked_windows_equal_the_sectors_computed_one_at_a_time():
    """Sectors of mixed models, patterns, heights and window sizes, stacked and padded in
    one call, give each sector's own window cell for cell."""
    rng = np.random.default_rng(7)
    kinds = [("hata", 900.0), ("cost231", 1800.0), ("uma", 3500.0), ("fspl", 2600.0)]
    radios = []
    for k in range(60):
        model, f = kinds[k % 4]
        r = Radio(
            x=float(rng.uniform(-3000, 3000)),
            y=float(rng.uniform(-3000, 3000)),
            eirp_dbm=float(rng.uniform(25, 45)),
            threshold_dbm=-105.0 if k % 3 else -95.0,
            frequency_mhz=f + float(rng.uniform(-50, 50)),
            height_m=float(rng.uniform(30, 60)),
            model=model,
            azimuth_deg=None if k % 5 == 0 else float(rng.uniform(0, 360)),
            beamwidth_deg=65.0,
            tilt_deg=float(rng.uniform(0, 8)),
            vertical_beamwidth_deg=10.0 if k % 2 else 65.0,
        )
        radios.append(with_reach(r, HM, "urban"))
    cell = 25.0
    sizes = {compute_window(r, cell, HM, "urban").rx_dbm.size for r in radios}
    assert len(sizes) > 30  # the windows really differ, so the stack pads

    stacked = compute_windows(radios, cell, HM, "urban")
    for r, got in zip(radios, stacked, strict=True):
        one = compute_window(r, cell, HM, "urban")
        assert (got.row0, got.col0, got.rx_dbm.shape) == (one.row0, one.col0, one.rx_dbm.shape)
        assert got.extrapolated == one.extrapolated
        np.testing.assert_array_equal(np.isinf(got.rx_dbm), np.isinf(one.rx_dbm))
        finite = np.isfinite(one.rx_dbm)
        np.testing.assert_allclose(got.rx_dbm[finite], one.rx_dbm[finite], atol=1e-3)
    assert sum(c.extrapolated for c in stacked) > 0  # hata/cost231 under 1 km are counted


def test_one_window_matches_hata_and_the_pattern_written_out():
    """compute_window's cell values against the hand-written Hata and 38.901 pattern."""
    r = radio(hb=30.0, tilt=4.0, vbw=10.0, az=90.0)
    got = compute_window(r, CELL, HM, "urban")
    rows, cols = got.rx_dbm.shape
    for i, j in [(rows // 2, cols - 3), (rows // 3, cols // 2), (rows - 2, cols // 4)]:
        x, y = (got.col0 + j + 0.5) * CELL, (got.row0 + i + 0.5) * CELL
        d = max(math.hypot(x, y), 1.0)
        off = (math.degrees(math.atan2(x, y)) - 90.0 + 180.0) % 360.0 - 180.0
        theta = -math.degrees(math.atan2(30.0 - HM, d)) + 4.0
        want = r.eirp_dbm - hata_db(d, 30.0) + pattern_db(off, theta, 65.0, 10.0)
        assert got.rx_dbm[i, j] == pytest.approx(want, abs=1e-3)
