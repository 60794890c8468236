"""PNG tiles of coverage: the free-space disc of sector D drawn where it is, and nothing else.

The PNG is decoded here with zlib (filter 0 rows, as written); pixel positions come from
morecantile's Web Mercator tile of the point and pyproj's geodesic for the distances.
"""

from __future__ import annotations

import struct
import zlib

import morecantile
import numpy as np
import pytest

from tests.spatial_api.analysis.test_coverage_model import LONLAT, sectors  # noqa: F401
from tests.spatial_api.analysis.test_coverage_stats import R
from tests.support.analysis import GEOD, problem

TMS = morecantile.tms.get("WebMercatorQuad")
Z = 14


def decode(png: bytes) -> np.ndarray:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos : pos + 4])
        tag, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + n]
        if tag == b"IHDR":
            size = struct.unpack(">II", data[:8])
        elif tag == b"IDAT":
            idat += data
        pos += 12 + n
    w, h = size
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 4 * w)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(h, w, 4)


def pixel(tile: morecantile.Tile, lon: float, lat: float) -> tuple[int, int]:
    b = TMS.xy_bounds(tile)
    x, y = TMS.xy(lon, lat)
    return int((b.top - y) / (b.top - b.bottom) * 256), int((x - b.left) / (b.right - b.left) * 256)


def get(client, tile, **params):
    url = f"/analysis/coverage/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"
    return client.get(url, params=params)


def test_received_power_tile_draws_the_disc(client, sectors):  # noqa: F811
    lon, lat = LONLAT["D"]
    tile = TMS.tile(lon, lat, Z)
    r = get(client, tile, model="fspl", threshold_dbm=-100, operator="china_unicom", cell_m=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    img = decode(r.content)
    assert img.shape == (256, 256, 4)
    row, col = pixel(tile, lon, lat)
    assert img[row, col, 3] == 170 and img[row, col, 1] == 255  # strong: green
    # Pixels shown are those within the disc (two cells of slack at its edge).
    b = TMS.bounds(tile)
    step_lon, step_lat = (b.right - b.left) / 256, (b.top - b.bottom) / 256
    for i, j in [(0, 0), (255, 255), (row, 0), (0, col), (128, 200), (40, 90)]:
        plon, plat = b.left + (j + 0.5) * step_lon, b.top - (i + 0.5) * step_lat
        d = GEOD.inv(lon, lat, plon, plat)[2]
        if d < R - 30:
            assert img[i, j, 3] == 170, (i, j, d)
        elif d > R + 30:
            assert img[i, j, 3] == 0, (i, j, d)
    assert 0 < (img[..., 3] > 0).sum() < 256 * 256


def test_best_server_tile_colours_each_sector(client, sectors):  # noqa: F811
    lon, lat = LONLAT["A"]
    tile = TMS.tile(lon + 0.003, lat, Z)
    img = decode(get(client, tile, show="best_server", operator="china_mobile").content)
    shown = img[img[..., 3] > 0][:, :3]
    colours = {tuple(c) for c in shown}
    assert 1 <= len(colours) <= 3  # A, B and C


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("10/400/800", {}, 400, ("start at tileMatrix 11",)),
        ("14/6400/13700", {"model": "fixed"}, 400, ("not with fixed",)),
        ("14/99999/1", {}, 404, ("outside tileMatrix 14",)),
        ("14/6400/13700", {"colour": "red"}, 400, ("colour",)),
    ],
)
def test_bad_tile_requests(client, path, params, status, words):
    r = client.get(f"/analysis/coverage/tiles/WebMercatorQuad/{path}", params=params)
    problem(r, status, *words)


def test_png_encoder_round_trips():
    from spatial_api.analysis.coverage_tiles import png_rgba

    rgba = np.random.default_rng(1).integers(0, 256, (7, 5, 4), dtype=np.uint8)
    assert (decode(png_rgba(rgba)) == rgba).all()
