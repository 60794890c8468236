"""POST /analysis/coverage on the grid: link budgets, models by frequency, what the answer says.

References: the reach from the UMa NLOS and free-space formulas written out here, areas from
pyproj's geodesic polygons (independent of the service's own measure) and shapely unions
of the per-sector polygons.
"""

from __future__ import annotations

import math

import pytest
import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import text

from loaders import load_path
from spatial_api.analysis.coverage_grid import WINDOWS
from tests.support.analysis import GEOD, problem, seg

COLUMNS = (
    "asset_id, operator, technology, frequency_mhz, azimuth_deg, beamwidth_deg, "
    "tilt_deg, antenna_height_m, power_dbm, antenna_gain_dbi, feeder_loss_db, "
    "vertical_beamwidth_deg"
)
SECTORS = [  # asset, operator, tech, MHz, az, bw, tilt, height, power, gain, feeder, vbw, lon, lat
    ("A", "china_mobile", "nr", 3500.0, 90.0, 65.0, 4.0, 25.0, 15.0, 20.0, 0.0, 6.0, 120.03, 36.05),
    ("B", "china_mobile", "lte", 1845.0, 0.0, 65.0, 3.0, 35.0, 15.0, 17.5, 2.0, 7.0, 120.04, 36.05),
    (
        "C",
        "china_mobile",
        "lte",
        1845.0,
        200.0,
        65.0,
        3.0,
        20.0,
        15.0,
        17.5,
        2.0,
        7.0,
        120.04,
        36.05,
    ),
    ("D", "china_unicom", "lte", 2000.0, None, None, 0.0, 1.5, 0.0, 0.0, 0.0, 10.0, 120.05, 36.05),
    (
        "E",
        "china_telecom",
        "lte",
        1845.0,
        0.0,
        65.0,
        3.0,
        30.0,
        None,
        17.5,
        2.0,
        7.0,
        120.06,
        36.05,
    ),
]
LONLAT = {s[0]: (s[-2], s[-1]) for s in SECTORS}


@pytest.fixture
def sectors(engine):
    with engine.begin() as c:
        for *values, lon, lat in SECTORS:
            names = [f":v{i}" for i in range(len(values))]
            c.execute(
                text(
                    f"INSERT INTO city.sectors (site_id, {COLUMNS}, geom) VALUES ('SITE', "
                    f"{', '.join(names)}, ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {f"v{i}": v for i, v in enumerate(values)} | {"x": lon, "y": lat},
            )
        c.execute(  # replaced in 2015: not in today's coverage
            text(
                "INSERT INTO city.sectors (asset_id, site_id, operator, technology, valid, geom) "
                "VALUES ('OLD', 'SITE', 'china_mobile', 'gsm', tstzrange('2000-01-01', "
                "'2015-01-01'), ST_SetSRID(ST_MakePoint(120.05, 36.05), 4490))"
            )
        )
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.sectors"))


def post(client, **body):
    r = client.post("/analysis/coverage", json=body)
    assert r.status_code == 200, r.text
    features = r.json()["features"]
    assert features[0]["geometry"] is None and features[0]["properties"]["role"] == "summary"
    return features[0]["properties"], features[1:]


def area(geojson) -> float:
    return abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(shape(geojson)))[0])


def uma_nlos_reach(mapl: float, f_ghz: float, hb: float, tilt: float, vbw: float) -> float:
    """d2D where MAPL = 13.54 + 39.08·log10(d3D) + 20·log10(fc) + the 38.901 vertical
    pattern's loss 12·(θ/θ3dB)² at boresight (NLOS dominates here), by bisection."""

    def margin(d: float) -> float:
        d3 = math.hypot(d, hb - 1.5)
        theta = tilt - math.degrees(math.atan2(hb - 1.5, d))
        return (
            mapl
            - 13.54
            - 39.08 * math.log10(d3)
            - 20 * math.log10(f_ghz)
            - min(12 * (theta / vbw) ** 2, 30)
        )

    lo, hi = 100.0, 5000.0
    for _ in range(60):
        lo, hi = ((lo + hi) / 2, hi) if margin((lo + hi) / 2) >= 0 else (lo, (lo + hi) / 2)
    return lo


def test_default_models_follow_frequency_and_height_and_the_answer_says_so(client, sectors):
    head, features = post(client, cell_m=20)
    got = {f["properties"]["asset_id"]: f["properties"] for f in features}
    assert set(got) == {"A", "B", "C", "D"}
    assert {k: p["model"] for k, p in got.items()} == {
        "A": "uma",  # 3.5 GHz
        "B": "cost231",  # 1845 MHz, 35 m
        "C": "uma",  # 1845 MHz but 20 m: below cost231's 30 m
        "D": "uma",
    }
    assert {k: p["eirp_dbm"] for k, p in got.items()} == {"A": 35.0, "B": 30.5, "C": 30.5, "D": 0.0}
    # A: EIRP 35 dBm, SS-RSRP threshold −105 dBm: MAPL 140 dB.
    assert got["A"]["reach_m"] == pytest.approx(uma_nlos_reach(140.0, 3.5, 25.0, 4.0, 6.0), abs=1)
    assert head["models"] == {"uma": 3, "cost231": 1}
    assert head["threshold_dbm"] == {"lte": -110.0, "nr": -105.0}
    assert head["skipped"] == {"no power_dbm": {"sectors": 1, "examples": ["E"]}}
    assert head["terrain"].startswith("flat earth")
    assert head["grid_crs"] == "EPSG:4549" and head["cell_m"] == 20
    assert "2 sectors: cost231 → uma: antenna outside 30–200 m" in head["warnings"]
    assert any(w.startswith("uma is specified for hBS = 25 m: 2 sectors") for w in head["warnings"])
    assert any(
        w.startswith("cost231 is valid for distance 1000–20000 m: ") for w in head["warnings"]
    )
    for f in features:  # geodesic area, largest first
        assert f["properties"]["area_m2"] == pytest.approx(area(f["geometry"]), rel=1e-9)
    areas = [f["properties"]["area_m2"] for f in features]
    assert areas == sorted(areas, reverse=True)
    # A points east: its coverage lies east of the mast.
    a = next(f for f in features if f["properties"]["asset_id"] == "A")
    assert shape(a["geometry"]).centroid.x > 120.03 + 0.003


def test_free_space_disc_has_the_hand_computed_radius_and_area(client, sectors):
    head, features = post(
        client, model="fspl", filter={"operator": "china_unicom"}, threshold_dbm=-100, cell_m=10
    )
    # 0 dBm EIRP, −100 dBm: 100 dB of free space at 2 GHz.
    r = 10 ** ((100 - 20 * math.log10(4 * math.pi * 2e9 / 299_792_458.0)) / 20)
    assert r == pytest.approx(1192.8, abs=0.1)
    assert [f["properties"]["asset_id"] for f in features] == ["D"]
    assert features[0]["properties"]["reach_m"] == pytest.approx(r, abs=0.5)
    assert features[0]["properties"]["area_m2"] == pytest.approx(math.pi * r * r, rel=5e-3)
    ring = shape(features[0]["geometry"]).exterior.coords
    assert max(seg(LONLAT["D"], p) for p in ring) == pytest.approx(r, abs=10 * math.sqrt(2))
    assert head["models"] == {"fspl": 1} and head["warnings"] == []


def test_dissolved_per_operator_is_the_union_of_its_sectors(client, sectors):
    _, per_sector = post(client, cell_m=20, filter={"operator": "china_mobile"})
    _, dissolved = post(
        client, cell_m=20, filter={"operator": "china_mobile"}, dissolve_by="operator"
    )
    assert [f["properties"]["operator"] for f in dissolved] == ["china_mobile"]
    assert dissolved[0]["properties"]["sectors"] == 3
    union = shapely.union_all([shape(f["geometry"]) for f in per_sector])
    assert dissolved[0]["properties"]["area_m2"] == pytest.approx(area(mapping(union)), rel=1e-6)


def test_best_server_areas_partition_the_operators_coverage(client, sectors):
    common = {"cell_m": 20, "filter": {"operator": "china_mobile"}, "threshold_dbm": -105}
    _, best = post(client, output="best_server", **common)
    _, dissolved = post(client, dissolve_by="operator", **common)
    shapes = [shape(f["geometry"]) for f in best]
    assert {f["properties"]["asset_id"] for f in best} == {"A", "B", "C"}
    total = sum(f["properties"]["area_m2"] for f in best)
    assert total == pytest.approx(dissolved[0]["properties"]["area_m2"], rel=1e-6)
    for i, s in enumerate(shapes):  # no cell has two best servers
        for t in shapes[i + 1 :]:
            assert shapely.intersection(s, t).area == pytest.approx(0.0, abs=1e-12)


def test_overlap_counts_the_servers_within_x_db_of_the_best(client, sectors):
    common = {"cell_m": 20, "filter": {"operator": "china_mobile"}}
    _, per_sector = post(client, **common)
    # Within 100 dB of the best is every server that meets its threshold: the cells where
    # two or more sectors' coverage overlaps.
    _, overlap = post(client, output="overlap", overlap_db=100, overlap_servers=2, **common)
    polys = [shape(f["geometry"]) for f in per_sector]
    pairs = shapely.union_all(
        [shapely.intersection(p, q) for i, p in enumerate(polys) for q in polys[i + 1 :]]
    )
    (only,) = overlap
    assert only["properties"]["operator"] == "china_mobile"
    assert only["properties"]["max_servers"] == 3
    assert only["properties"]["area_m2"] == pytest.approx(area(mapping(pairs)), rel=1e-3)
    _, tight = post(client, output="overlap", overlap_db=3, overlap_servers=2, **common)
    assert 0 < tight[0]["properties"]["area_m2"] < only["properties"]["area_m2"]


def test_a_model_out_of_its_range_skips_the_sectors_and_says_which(client, sectors):
    head, features = post(client, model="cost231", cell_m=20)
    assert [f["properties"]["asset_id"] for f in features] == ["B"]
    assert head["skipped"] == {
        "cost231 is valid for base station height 30–200 m": {
            "sectors": 2,
            "examples": ["C", "D"],
        },
        "cost231 is valid for frequency 1500–2000 MHz": {"sectors": 1, "examples": ["A"]},
        "no power_dbm": {"sectors": 1, "examples": ["E"]},
    }


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"model": "hata"}, 400, ("no sector can be computed", "hata is valid for frequency")),
        ({"model": "cost231", "environment": "rural"}, 400, ("urban and suburban",)),
        ({"model": "uma", "rx_height_m": 25}, 400, ("uma is valid for mobile height 1.5–22.5 m",)),
        ({"radius_m": 500}, 422, ("radius_m: for model fixed only",)),
        ({"output": "best_server", "dissolve_by": "operator"}, 422, ("dissolve_by",)),
        ({"cell_m": 1}, 422, ("cell_m",)),
        ({"environment": "desert"}, 422, ("environment",)),
    ],
)
def test_bad_grid_requests_are_4xx(client, sectors, body, status, words):
    r = client.post("/analysis/coverage", json=body)
    if status == 400:
        problem(r, status, *words)
    else:
        assert r.status_code == status, r.text
        for w in words:
            assert w in r.text


def test_an_edited_sector_is_recomputed_and_only_it(client, sectors, engine):
    body = {"cell_m": 20, "filter": {"operator": "china_mobile"}}
    before = {
        f["properties"]["asset_id"]: f["properties"]["area_m2"] for f in post(client, **body)[1]
    }
    with engine.begin() as c:
        c.execute(text("UPDATE city.sectors SET tilt_deg = 10 WHERE asset_id = 'A'"))
    after = {
        f["properties"]["asset_id"]: f["properties"]["area_m2"] for f in post(client, **body)[1]
    }
    assert after["A"] < before["A"]  # more downtilt, less area
    assert {k: after[k] for k in ("B", "C")} == {k: before[k] for k in ("B", "C")}
    WINDOWS.clear()  # from scratch, the same answer
    fresh = {
        f["properties"]["asset_id"]: f["properties"]["area_m2"] for f in post(client, **body)[1]
    }
    assert fresh == after


CSV = (
    "编号,站址,运营商,制式,频率,方位角,下倾角,挂高,RS功率,天线增益,馈线损耗,垂直波瓣宽度,天线型号,经度,纬度\n"
    "Z1,SZ,china_mobile,lte,1845,90,3,35,15.2,17.5,2.5,7,ACME 65/17.5,120.05,36.05\n"
)


def test_operator_column_names_load_into_the_radio_model(client, db_url, engine, tmp_path):
    path = tmp_path / "扇区.csv"
    path.write_text(CSV, encoding="utf-8")
    try:
        layer = load_path(db_url, "sectors", path).layers[0]
        assert (layer.new, layer.rejected) == (1, 0)
        assert {
            k: layer.mapped[k]
            for k in ("power_dbm", "antenna_gain_dbi", "feeder_loss_db", "vertical_beamwidth_deg")
        } == {
            "power_dbm": "RS功率",
            "antenna_gain_dbi": "天线增益",
            "feeder_loss_db": "馈线损耗",
            "vertical_beamwidth_deg": "垂直波瓣宽度",
        }
        assert layer.mapped["antenna_model"] == "天线型号"
        _, features = post(client, cell_m=25)
        (z1,) = features
        assert z1["properties"]["eirp_dbm"] == pytest.approx(15.2 + 17.5 - 2.5)
        assert z1["properties"]["antenna_model"] == "ACME 65/17.5"
        assert z1["properties"]["model"] == "cost231"
    finally:
        with engine.begin() as c:
            c.execute(text("DELETE FROM city.sectors"))


def test_grid_coverage_as_of_a_past_instant_and_saved(client, sectors):
    r = client.post("/analysis/coverage", json={"datetime": "2010-06-01"})
    problem(r, 400, "no sector can be computed: no power_dbm and frequency_mhz (1 sectors)")
    r = client.post(
        "/analysis/coverage",
        json={"model": "fspl", "filter": {"operator": "china_unicom"}, "save": True},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["result"]["id"] and body["number_returned"] == 2
    saved = client.get(body["result"]["href"])
    assert saved.status_code == 200, saved.text
