"""A corpus of bad files: a clear error naming row and reason, and an unchanged database."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from loaders import LoadError, TooManyRejects
from tests.support.loading import count, load, snapshot

GOOD = {
    "type": "Feature",
    "properties": {"id": "P1", "utility": "gas", "diameter_mm": 200},
    "geometry": {"type": "LineString", "coordinates": [[120.38, 36.06], [120.39, 36.07]]},
}


def feature(fid, geometry, **props):
    return {"type": "Feature", "properties": {"id": fid, **props}, "geometry": geometry}


def collection(*features) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False)


@pytest.fixture
def seeded(clean_db, engine, tmp_path):
    """One pipeline already loaded, so 'unchanged' means more than 'still empty'."""
    path = tmp_path / "seed.geojson"
    path.write_text(collection(GOOD))
    load(clean_db, "pipelines", path)
    return snapshot(engine)


FILE_ERRORS = [
    ("truncated.geojson", collection(GOOD)[:-30], "pipelines", {}, "cannot be read"),
    ("empty.geojson", "", "pipelines", {}, "the file is empty"),
    (
        "unknown_crs.geojson",
        collection(GOOD),
        "pipelines",
        {"crs": "EPSG:999999"},
        "unknown CRS 'EPSG:999999'",
    ),
    (
        "projected.geojson",
        collection(
            feature(
                "P9",
                {
                    "type": "LineString",
                    "coordinates": [[512345.1, 3991234.5], [512400.0, 3991300.0]],
                },
                utility="water",
            )
        ),
        "pipelines",
        {},
        "coordinates look projected",
    ),
    (
        "no_utility.geojson",
        collection(feature("P9", GOOD["geometry"])),
        "pipelines",
        {},
        "no column for required utility of layer pipelines; map one with --map utility=COLUMN",
    ),
    (
        "gbk.csv",
        "编号,名称,容量,lon,lat\nS1,中山公园,100,120.34,36.07\n".encode("gbk"),
        "shelters",
        {},
        "line 1 is not valid utf-8-sig text; pass --encoding",
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "layer", "opts", "message"), FILE_ERRORS, ids=[c[0] for c in FILE_ERRORS]
)
def test_bad_file_is_refused_whole(seeded, engine, tmp_path, name, content, layer, opts, message):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(LoadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(engine.url.render_as_string(hide_password=False), layer, path, tmp_path, **opts)
    assert snapshot(engine) == seeded


def test_missing_crs_in_a_shapefile_is_an_error(seeded, engine, tmp_path):
    import geopandas as gpd
    from shapely import LineString

    frame = gpd.GeoDataFrame(
        {"id": ["P2"], "utility": ["water"]},
        geometry=[LineString([(512345, 3991234), (512400, 3991300)])],
    )
    frame.to_file(tmp_path / "noprj.shp")
    (tmp_path / "noprj.prj").unlink(missing_ok=True)
    with pytest.raises(LoadError, match="has no CRS: pass --crs"):
        load(
            engine.url.render_as_string(hide_password=False),
            "pipelines",
            tmp_path / "noprj.shp",
            tmp_path,
        )
    assert snapshot(engine) == seeded
    report = load(
        engine.url.render_as_string(hide_password=False),
        "pipelines",
        tmp_path / "noprj.shp",
        tmp_path,
        crs="EPSG:4549",
    )
    assert report.layers[0].new == 1  # with the CRS named, it loads


BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[120.1, 36.0], [120.2, 36.1], [120.2, 36.0], [120.1, 36.1], [120.1, 36.0]]],
}
ROW_REJECTS = [
    (
        "self-intersection",
        "districts",
        [feature("D1", BOWTIE, name="坏区")],
        "invalid geometry: Self-intersection",
    ),
    (
        "mixed geometry types",
        "pipelines",
        [GOOD, feature("P2", {"type": "Point", "coordinates": [120.3, 36.0]}, utility="gas")],
        "geometry is Point; layer pipelines takes LineString",
    ),
    (
        "bad enum",
        "pipelines",
        [GOOD, feature("P2", GOOD["geometry"], utility="sewage-ish", material="wood")],
        "utility: 'sewage-ish' is not one of water, drainage, gas, heating, telecom, power; "
        "material: 'wood' is not one of",
    ),
    (
        "out of range",
        "pipelines",
        [GOOD, feature("P2", GOOD["geometry"], utility="gas", depth_start_m=-2, diameter_mm=0)],
        "diameter_mm: 0 must be above 0; depth_start_m: -2 is below 0",
    ),
    (
        "lat/lon swapped",
        "pipelines",
        [
            GOOD,
            feature(
                "P2",
                {"type": "LineString", "coordinates": [[36.06, 120.38], [36.07, 120.39]]},
                utility="gas",
            ),
        ],
        "outside longitude",
    ),
    ("duplicate id", "pipelines", [GOOD, GOOD], "duplicate asset id P1 (first at row 1)"),
]


@pytest.mark.parametrize(
    ("case", "layer", "features", "reason"), ROW_REJECTS, ids=[c[0] for c in ROW_REJECTS]
)
def test_bad_rows_are_named_with_their_reason(
    seeded, engine, tmp_path, case, layer, features, reason
):
    path = tmp_path / "bad.geojson"
    path.write_text(collection(*features), encoding="utf-8")
    url = engine.url.render_as_string(hide_password=False)
    with pytest.raises(TooManyRejects) as err:
        load(url, layer, path, tmp_path)
    assert snapshot(engine) == seeded
    bad_row = len(features)  # the last feature is the bad one in each case
    with open(tmp_path / "bad.rejects.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["row"]), r["layer"]) for r in rows] == [(bad_row, layer)]
    assert reason in rows[0]["reason"]
    assert f"row {bad_row}: " in str(err.value)


def test_nan_and_infinite_coordinates(seeded, engine, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text(
        "id,name,capacity,lon,lat\nS1,a,1,120.3,36.0\nS2,b,1,inf,36.0\nS3,c,1,120.3,nan\n",
        encoding="utf-8",
    )
    url = engine.url.render_as_string(hide_password=False)
    with pytest.raises(TooManyRejects, match="2 rows rejected"):
        load(url, "shelters", path, tmp_path)
    with open(tmp_path / "points.rejects.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["row"], r["reason"]) for r in rows] == [
        ("3", "coordinates are NaN or infinite"),
        ("4", "missing or empty geometry"),
    ]
    assert snapshot(engine) == seeded
    report = load(url, "shelters", path, tmp_path, max_rejects=2)  # the threshold lets it in
    assert (report.layers[0].new, report.layers[0].rejected) == (1, 2)


def test_safe_repairs_are_made_and_counted(clean_db, engine, tmp_path):
    # A ring with a repeated closing spike of zero area: make_valid keeps the same area.
    spiky = {
        "type": "Polygon",
        "coordinates": [
            [
                [120.1, 36.0],
                [120.2, 36.0],
                [120.2, 36.1],
                [120.15, 36.1],
                [120.15, 36.15],
                [120.15, 36.1],
                [120.1, 36.1],
                [120.1, 36.0],
            ]
        ],
    }
    path = tmp_path / "spiky.geojson"
    path.write_text(collection(feature("D1", spiky, name="尖刺区")), encoding="utf-8")
    report = load(clean_db, "districts", path, tmp_path)
    assert report.layers[0].fixes == {"repaired invalid polygons": 1}
    assert count(engine, "SELECT ST_IsValid(geom) FROM city.districts") is True


def test_cli_names_rows_and_reasons(seeded, engine, tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_text(collection(GOOD, feature("P2", GOOD["geometry"], utility="oil")))
    env = os.environ | {"CITYGIS_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "citygis.cli",
            "-q",
            "load",
            "pipelines",
            str(path),
            "--rejects",
            str(tmp_path / "r.csv"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "row 2: utility: 'oil' is not one of" in proc.stderr
    assert "The database is unchanged." in proc.stderr
    assert snapshot(engine) == seeded


def test_a_load_killed_midway_leaves_the_layer_as_it_was(seeded, engine, tmp_path):
    """SIGKILL during COPY: nothing is half-loaded, and a retry loads everything."""
    import numpy as np

    n = 300_000
    rng = np.random.default_rng(7)
    lon, lat = 120.3 + rng.random(n) * 0.2, 36.0 + rng.random(n) * 0.2
    path = tmp_path / "many.csv"
    with open(path, "w") as f:
        f.write("id,name,capacity,lon,lat\n")
        f.writelines(
            f"K{i},s{i},{i % 500},{x:.6f},{y:.6f}\n"
            for i, (x, y) in enumerate(zip(lon, lat, strict=True))
        )
    url = engine.url.render_as_string(hide_password=False)
    env = os.environ | {"CITYGIS_DATABASE_URL": url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "citygis.cli", "-q", "load", "shelters", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while (
        count(
            engine,
            "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'COPY stage%'"
            " AND state = 'active'",
        )
        == 0
    ):
        assert proc.poll() is None, "load finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # The server notices the dead client and rolls back; wait for its backend to go.
    while count(engine, "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'COPY stage%'"):
        time.sleep(0.1)
    assert snapshot(engine) == seeded
    report = load(url, "shelters", path, tmp_path)
    assert report.layers[0].new == n
    assert count(engine, "SELECT count(*) FROM city.shelters_current") == n
