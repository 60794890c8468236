"""EPANET loader against the networks wntr ships, checked against the .inp text itself."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
import shapely
import wntr
from pyproj import CRS

from layers.pipe_nodes import PIPE_NODES
from layers.pipelines import PIPELINES
from loaders.epanet import read_epanet

NETWORKS = Path(os.path.dirname(wntr.__file__)) / "library" / "networks"
# Net3's coordinates are arbitrary local feet; this puts them near Qingdao.
LOCAL_FT = (
    "+proj=tmerc +lat_0=36.06 +lon_0=120.32 +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=us-ft +no_defs"
)
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
