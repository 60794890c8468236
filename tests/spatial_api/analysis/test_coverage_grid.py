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
