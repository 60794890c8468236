"""EPANET loader against the networks wntr ships, checked against the .inp text itself."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import shapely
import wntr
from pyproj import CRS

from layers.pipe_nodes import PIPE_NODES
from layers.pipelines import PIPELINES
from loaders.epanet import joined_nodes, read_epanet
from loaders.valve_layer import valve_points

NETWORKS = Path(os.path.dirname(wntr.__file__)) / "library" / "networks"
# Net3's coordinates are arbitrary local feet; this puts them near Qingdao.
LOCAL_FT = (
    "+proj=tmerc +lat_0=36.06 +lon_0=120.32 +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=us-ft +no_defs"
)
HECTOMETRES = "+proj=tmerc +lat_0=36.06 +lon_0=120.32 +ellps=GRS80 +to_meter=100"
FT, INCH = 0.3048, 25.4

NODE_SECTIONS = {"junction": "JUNCTIONS", "tank": "TANKS", "reservoir": "RESERVOIRS"}
LINK_SECTIONS = {"pipe": "PIPES", "valve": "VALVES", "pump": "PUMPS"}
# Pinned from the files, so a silent change in wntr or the parser below shows up.
EXPECTED = {
    "Net3.inp": ({"junction": 92, "tank": 3, "reservoir": 2}, {"pipe": 117, "valve": 0, "pump": 2}),
    "ky4.inp": (
        {"junction": 959, "tank": 4, "reservoir": 1},
        {"pipe": 1156, "valve": 0, "pump": 2},
    ),
    # ky10 is here for its valves; Net3 and ky4 have none.
    "ky10.inp": (
        {"junction": 920, "tank": 13, "reservoir": 2},
        {"pipe": 1043, "valve": 5, "pump": 13},
    ),
}
# In the ky models every pump and valve joins two nodes at the same coordinates.
POINT_DEVICES = {
    "Net3.inp": {"valve": 0, "pump": 0},
    "ky4.inp": {"valve": 0, "pump": 2},
    "ky10.inp": {"valve": 5, "pump": 13},
}


def section_rows(path: Path, section: str) -> list[list[str]]:
    """Data lines of one [SECTION], split into fields, comments dropped."""
    rows, current = [], None
    for line in path.read_text().splitlines():
        text = line.split(";")[0].strip()
        if text.startswith("["):
            current = text.strip("[]").upper()
        elif text and current == section:
            rows.append(text.split())
    return rows


@pytest.fixture(scope="module")
def frames():
    cache = {}

    def read(name: str):
        if name not in cache:
            cache[name] = read_epanet(NETWORKS / name, LOCAL_FT)
        return cache[name]

    return read


@pytest.mark.parametrize("name", EXPECTED)
def test_counts_match_the_inp_sections(frames, name):
    nodes, links = frames(name)["pipe_nodes"], frames(name)["pipelines"]
    from_text_nodes = {k: len(section_rows(NETWORKS / name, s)) for k, s in NODE_SECTIONS.items()}
    from_text_links = {k: len(section_rows(NETWORKS / name, s)) for k, s in LINK_SECTIONS.items()}
    assert (from_text_nodes, from_text_links) == EXPECTED[name]
    # Valves and pumps drawn with no length are kept as point devices, not lines.
    points = POINT_DEVICES[name]
    as_nodes = Counter(from_text_nodes) + Counter(
        {"valve": points["valve"], "pump_station": points["pump"]}
    )
    as_links = Counter(from_text_links) - Counter(points)
    # Counter equality treats a missing kind as zero.
    assert Counter(nodes["node_kind"]) == as_nodes
    assert Counter(links["link_kind"]) == as_links
    assert nodes["asset_id"].is_unique and links["asset_id"].is_unique
    assert set(nodes["utility"]) == set(links["utility"]) == {"water"}
    assert set(nodes["status"]) == set(links["status"]) == {"in_service"}
    for frame, spec in ((nodes, PIPE_NODES), (links, PIPELINES)):
        assert set(frame.columns) - {"asset_id", "geometry"} <= {a.name for a in spec.attributes}


def test_us_units_become_mm_and_m(frames):
    inp = NETWORKS / "Net3.inp"
    pipes = {row[0]: row for row in section_rows(inp, "PIPES")}
    elevations = {row[0]: float(row[1]) for row in section_rows(inp, "JUNCTIONS")}
    heads = {row[0]: float(row[1]) for row in section_rows(inp, "RESERVOIRS")}
    nodes = frames("Net3.inp")["pipe_nodes"].set_index("asset_id")
    links = frames("Net3.inp")["pipelines"].set_index("asset_id")

    assert links.loc["60", "diameter_mm"] == pytest.approx(float(pipes["60"][4]) * INCH, abs=1e-6)
    assert nodes.loc["10"].geometry.z == pytest.approx(elevations["10"] * FT, abs=1e-6)
    assert nodes.loc["10", "ground_elevation_m"] == pytest.approx(elevations["10"] * FT)
    # Reservoirs have no elevation: z is their head, and there is no ground to speak of.
    assert nodes.loc["River"].geometry.z == pytest.approx(heads["River"] * FT, abs=1e-6)
    assert nodes.loc[["River", "1"], "ground_elevation_m"].isna().all()
    # Initially CLOSED is operating state; the asset is still in service.
    assert pipes["330"][7].upper() == "CLOSED"
    assert links.loc["330", "status"] == "in_service"


def test_pumps_have_no_diameter(frames):
    links = frames("Net3.inp")["pipelines"]
    assert links.loc[links.link_kind == "pump", "diameter_mm"].isna().all()
    assert (links.link_kind == "pump").sum() == 2


def test_zero_length_valves_become_valve_nodes_with_state(frames):
    nodes = frames("ky10.inp")["pipe_nodes"].set_index("asset_id")
    valves = {row[0]: row for row in section_rows(NETWORKS / "ky10.inp", "VALVES")}
    got = nodes[nodes.node_kind == "valve"]
    assert set(got.index) == set(valves)
    assert set(got.valve_state) <= {"open", "closed"}
    # Each sits where its upstream node is, at that node's elevation.
    for name, row in valves.items():
        upstream = nodes.loc[row[1]].geometry
        assert got.loc[name].geometry.equals(upstream)


@pytest.mark.parametrize("name", EXPECTED)
def test_lines_run_from_node_to_node(frames, name):
    nodes = frames(name)["pipe_nodes"].set_index("asset_id").geometry
    links = frames(name)["pipelines"]
    assert set(links.from_node) | set(links.to_node) <= set(nodes.index)
    first = shapely.get_point(links.geometry, 0)
    last = shapely.get_point(links.geometry, -1)
    assert shapely.equals_exact(first, nodes.loc[links.from_node].values, tolerance=1e-9).all()
    assert shapely.equals_exact(last, nodes.loc[links.to_node].values, tolerance=1e-9).all()
    assert shapely.has_z(links.geometry).all() and shapely.has_z(nodes.values).all()
    # Only zero-length links are invalid: ky pumps and valves join coincident I-/O- nodes.
    invalid = links.geometry[~links.geometry.is_valid]
    assert (invalid.length == 0).all()


TINY = """\
[JUNCTIONS]
 J1  10  0
 J2  20  0
[RESERVOIRS]
 R   30
[PIPES]
 P1  R   J1  100  300  100  0  Open
 P2  J1  J2  100  300  100  0  Open
 P3  J2  J2  100  300  100  0  Open
[COORDINATES]
 R   0   -10
 J1  0   0
 J2  40  30
[VERTICES]
 P2  0   30
 P2  0   30
[OPTIONS]
 Units  LPS
[END]
"""


def xyz(geom) -> list[float]:
    return shapely.get_coordinates(geom, include_z=True).ravel().tolist()


def test_z_follows_the_line_and_degenerate_links_survive(tmp_path):
    inp = tmp_path / "tiny.inp"
    inp.write_text(TINY)
    links = read_epanet(inp, "EPSG:4549")["pipelines"].set_index("asset_id")
    # SI file: diameters are already mm.
    assert links.diameter_mm.tolist() == pytest.approx([300.0] * 3)
    # The duplicate vertex is dropped; z grows with distance along 30 m then 40 m.
    assert xyz(links.loc["P2"].geometry) == pytest.approx(
        [0, 0, 10, 0, 30, 10 + 10 * 30 / 70, 40, 30, 20]
    )
    assert xyz(links.loc["P1"].geometry) == pytest.approx([0, -10, 30, 0, 0, 10])
    # A self-loop without vertices is returned for the core validation to reject.
    assert not links.loc["P3"].geometry.is_valid


def test_crs_is_the_declared_one(frames):
    got = frames("Net3.inp")
    assert got["pipe_nodes"].crs == got["pipelines"].crs == CRS.from_user_input(LOCAL_FT)
    with pytest.raises(ValueError, match="no CRS: pass one with --crs"):
        read_epanet(NETWORKS / "Net3.inp", None)
    with pytest.raises(ValueError, match="invalid CRS 'EPSG:0'"):
        read_epanet(NETWORKS / "Net3.inp", "EPSG:0")


@pytest.mark.parametrize(
    "content",
    [
        (NETWORKS / "Net3.inp").read_text()[:3000],  # cut mid-[JUNCTIONS], before [OPTIONS]
        "hello world\nnot an inp\n",
        "[JUNCTIONS]\n J1 10 0\n[PIPES]\n P1 J1 J9 100 12 100 0 Open\n[OPTIONS]\n Units LPS\n",
        "",
    ],
    ids=["truncated", "garbage", "undefined-node", "empty"],
)
def test_bad_files_name_the_file(tmp_path, content):
    inp = tmp_path / "bad.inp"
    inp.write_text(content)
    with pytest.raises(ValueError, match=re.escape(str(inp))):
        read_epanet(inp, "EPSG:4549")


def test_wntr_error_detail_is_kept(tmp_path):
    inp = tmp_path / "dangling.inp"
    inp.write_text(
        "[JUNCTIONS]\n J1 10 0\n[PIPES]\n P1 J1 J9 100 12 100 0 Open\n[OPTIONS]\n Units LPS\n"
    )
    with pytest.raises(ValueError, match="undefined node, 'J9'"):
        read_epanet(inp, "EPSG:4549")


def test_undecodable_file_names_the_file(tmp_path):
    inp = tmp_path / "binary.inp"
    inp.write_bytes(b"\x00\xff\xfe\x00")
    with pytest.raises(ValueError, match=re.escape(str(inp))):
        read_epanet(inp, "EPSG:4549")


@pytest.mark.parametrize("name", ["ky4.inp", "ky10.inp"])
def test_devices_drawn_as_points_join_their_nodes(frames, name):
    """The network stays as connected as EPANET's: same components as wntr's own graph."""
    import networkx as nx

    wn = wntr.network.WaterNetworkModel(str(NETWORKS / name))
    links = frames(name)["pipelines"]
    g = nx.Graph()
    g.add_nodes_from(joined_nodes(wn).get(n, n) for n in wn.node_name_list)
    g.add_edges_from(zip(links.from_node, links.to_node, strict=True))
    expected = nx.number_connected_components(wn.to_graph().to_undirected())
    assert nx.number_connected_components(g) == expected == 1
    # Each device's two nodes are one now; a tank or reservoir stands for the pair.
    joined = joined_nodes(wn)
    devices = POINT_DEVICES[name]["valve"] + POINT_DEVICES[name]["pump"]
    assert len(set(joined)) <= devices and set(joined).isdisjoint(links.from_node)
    assert set(joined).isdisjoint(links.to_node)
    sources = {n for n, node in wn.nodes() if node.node_type != "Junction"}
    assert not sources & set(joined)


def test_a_wntr_valve_layer_loads_as_points_on_its_links(tmp_path):
    wn = wntr.network.WaterNetworkModel(str(NETWORKS / "Net3.inp"))
    layer = wntr.network.generate_valve_layer(wn, "random", 40, seed=123)
    csv = tmp_path / "valves.csv"
    layer.to_csv(csv)  # as WNTR writes it: an index column, then link and node
    # Net3's pipes are 0.17-8.2 units long: drawn in 100 m units, they are 17-820 m.
    got = read_epanet(NETWORKS / "Net3.inp", HECTOMETRES, valves=csv, valve_offset_m=0.5)
    nodes = got["pipe_nodes"].set_index("asset_id")
    lines = got["pipelines"].set_index("asset_id")
    valves = nodes[nodes.node_kind == "valve"]
    assert list(valves.index) == [f"V{i}" for i in range(40)]
    assert set(valves.valve_state) == {"open"}
    for i, r in layer.iterrows():
        at, line = valves.geometry[f"V{i}"], lines.geometry[r.link]
        end = nodes.geometry[r.node]
        assert line.distance(at) == pytest.approx(0, abs=1e-9)
        assert at.distance(end) * 100 == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("link,node\nnope,10\n", "row 0: link 'nope' is not a drawn link"),
        ("link,node\n10,20\n", "row 0: node '20' is not an end of link '10'"),
        ("pipe,node\n10,10\n", "needs columns link and node"),
    ],
)
def test_bad_valve_rows_are_named(tmp_path, rows, message):
    csv = tmp_path / "valves.csv"
    csv.write_text(rows)
    with pytest.raises(ValueError, match=re.escape(message)):
        read_epanet(NETWORKS / "Net3.inp", LOCAL_FT, valves=csv)


def test_valve_points_need_a_projected_crs():
    frames = read_epanet(NETWORKS / "Net3.inp", "EPSG:4490")
    with pytest.raises(ValueError, match="projected CRS"):
        valve_points(pd.DataFrame({"link": ["10"], "node": ["10"]}), frames["pipelines"])


def test_a_valve_that_cannot_be_told_from_another_pipe_is_refused():
    # In feet, Net3's shortest pipes are 0.05 m: 0.5 m from a node lands beside other pipes.
    wn = wntr.network.WaterNetworkModel(str(NETWORKS / "Net3.inp"))
    layer = wntr.network.generate_valve_layer(wn, "random", 40, seed=123)
    links = read_epanet(NETWORKS / "Net3.inp", LOCAL_FT)["pipelines"]
    points, refused = valve_points(layer, links, 0.5)
    assert (len(points), len(refused)) == (36, 4)
    assert refused.iloc[0].tolist() == [4, "link '197' is drawn over another pipe near '177'"]
    with pytest.raises(ValueError, match=r"4 valve rows cannot be drawn: row 4: link '197'"):
        read_epanet(NETWORKS / "Net3.inp", LOCAL_FT, valves=layer)
