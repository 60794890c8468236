"""GCJ-02/BD-09 offsets: pinned formulas, sub-millimetre inverses, geometry plumbing."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely import LineString, MultiPolygon, Point, Polygon

from loaders.chinese_offsets import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")
ZHANQIAO = (120.3197, 36.0611)
TIANANMEN = (116.391275, 39.906217)
LONDON = (-0.1276, 51.5072)
SYDNEY = (151.2093, -33.8688)


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    lon1, lat1, lon2, lat2 = (np.ravel(a) for a in (lon1, lat1, lon2, lat2))
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [(wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84)],
    ids=["gcj02", "bd09"],
)
def test_round_trip_over_china_is_sub_millimetre(forward, inverse):
    lon, lat = np.meshgrid(np.linspace(73, 135, 200), np.linspace(18, 53, 200))
    shifted = forward(lon, lat)
    assert metres(lon, lat, *shifted).min() > 20  # the grid really moved
    err = metres(lon, lat, *inverse(*shifted))
    assert err.max() <= 0.5
    assert err.max() < 0.001  # measured: 0.06 mm (GCJ-02), 0.24 mm (BD-09)


def test_shift_at_qingdao_is_a_few_hundred_metres():
    assert 300 < metres(*ZHANQIAO, *wgs84_to_gcj02(*ZHANQIAO))[0] < 700


@pytest.mark.parametrize(
    ("wgs", "gcj", "bd"),
    [
        (ZHANQIAO, (120.324751467, 36.061274892), (120.331279547, 36.067176553)),
        (TIANANMEN, (116.397516005, 39.907618208), (116.403889945, 39.913961932)),
    ],
    ids=["zhanqiao", "tiananmen"],
)
def test_forward_formulas_are_pinned(wgs, gcj, bd):
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-6)
    assert wgs84_to_bd09(*wgs) == pytest.approx(bd, abs=1e-6)


def test_matches_published_vectors():
    # The README of wandergis/coordtransform, the de facto reference implementation.
    assert wgs84_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-9
    )
    assert gcj02_to_bd09(116.404, 39.915) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-9
    )
    assert bd09_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.39762729119315, 39.90865673957631), abs=1e-9
    )


def test_points_outside_china_are_unchanged():
    lon, lat = np.array([LONDON[0], SYDNEY[0]]), np.array([LONDON[1], SYDNEY[1]])
    assert not in_china(lon, lat).any()
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84):
        out_lon, out_lat = fn(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)


def test_in_china_uses_the_customary_box():
    lon = np.array([*ZHANQIAO[:1], 72.004, 72.003, 137.8347, 137.8348])
    lat = np.array([*ZHANQIAO[1:], 30.0, 30.0, 55.8271, 55.8271])
    np.testing.assert_array_equal(in_china(lon, lat), [True, True, False, True, False])


def test_nan_passes_through():
    lon, lat = gcj02_to_wgs84([np.nan, ZHANQIAO[0]], [np.nan, ZHANQIAO[1]])
    assert np.isnan(lon[0]) and np.isnan(lat[0])
    assert np.isfinite(lon[1]) and np.isfinite(lat[1])


def _shapes() -> np.ndarray:
    x, y = ZHANQIAO
    square = [(x, y), (x + 0.01, y), (x + 0.01, y + 0.01), (x, y + 0.01)]
    hole = [(x + 0.004, y + 0.004), (x + 0.006, y + 0.004), (x + 0.005, y + 0.006)]
    return np.array(
        [
            Point(x, y),
            LineString([(x, y, -3.25), (x + 0.02, y + 0.01, 12.5)]),
            Polygon(square, [hole]),
            MultiPolygon([Polygon(square), Polygon([(a + 0.05, b) for a, b in square])]),
        ]
    )


@pytest.mark.parametrize(
    ("target", "forward"), [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)]
)
def test_geometries_move_vertex_by_vertex_and_keep_z(target, forward):
    shapes = _shapes()
    moved = from_wgs84(shapes, target)

    assert isinstance(moved, np.ndarray)
    np.testing.assert_array_equal(shapely.get_type_id(moved), shapely.get_type_id(shapes))
    np.testing.assert_array_equal(shapely.has_z(moved), [False, True, False, False])
    np.testing.assert_array_equal(shapely.get_num_interior_rings(moved[2]), 1)
    before = shapely.get_coordinates(shapes, include_z=True)
    after = shapely.get_coordinates(moved, include_z=True)
    np.testing.assert_array_equal(after[:, 2], before[:, 2])  # Z exact, NaN for 2D
    expected = np.column_stack(forward(before[:, 0], before[:, 1]))
    np.testing.assert_allclose(after[:, :2], expected, rtol=0, atol=1e-12)

    back = shapely.get_coordinates(to_wgs84(moved, target), include_z=True)
    assert metres(before[:, 0], before[:, 1], back[:, 0], back[:, 1]).max() < 0.001
    np.testing.assert_array_equal(back[:, 2], before[:, 2])


def test_geoseries_keeps_index_and_crs():
    series = gpd.GeoSeries(_shapes(), index=list("abcd"), crs="EPSG:4326", name="geom")
    moved = from_wgs84(series, "gcj02")
    assert isinstance(moved, gpd.GeoSeries)
    assert list(moved.index) == list("abcd")
    assert moved.crs == series.crs
    assert moved.name == "geom"


def test_single_geometry_in_single_geometry_out():
    moved = from_wgs84(Point(*ZHANQIAO), "gcj02")
    assert isinstance(moved, Point)
    lon, lat = wgs84_to_gcj02(*ZHANQIAO)
    assert (moved.x, moved.y) == pytest.approx((float(lon), float(lat)), abs=1e-12)


def test_unknown_system_is_refused():
    with pytest.raises(ValueError, match="unknown source coordinate system 'wgs84': expected"):
        to_wgs84(_shapes(), "wgs84")
    with pytest.raises(ValueError, match="unknown target coordinate system 'GCJ-02'"):
        from_wgs84(_shapes(), "GCJ-02")


def test_projected_geoseries_is_refused():
    series = gpd.GeoSeries([Point(13_393_000, 4_309_000)], crs="EPSG:3857")
    with pytest.raises(ValueError, match="expected lon/lat degrees, got projected CRS"):
        to_wgs84(series, "bd09")


def test_a_million_points_keep_their_shape():
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(73, 135, (1000, 1000)), rng.uniform(18, 53, (1000, 1000))
    gcj = wgs84_to_gcj02(lon, lat)
    assert gcj[0].shape == gcj[1].shape == (1000, 1000)
    back = gcj02_to_wgs84(*gcj)
    assert back[0].shape == back[1].shape == (1000, 1000)
    assert metres(lon, lat, *back).max() < 0.001


def test_scalars_give_scalars():
    lon, lat = wgs84_to_bd09(*ZHANQIAO)
    assert np.ndim(lon) == np.ndim(lat) == 0
    assert isinstance(float(lon), float)
