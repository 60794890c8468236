"""POST /analysis/isolate against `wntr.metrics.valve_segments` on the networks WNTR ships.

Each network is loaded into PostGIS by the EPANET loader with a WNTR valve layer drawn as
valve points (loaders/valve_layer.py), two ways: every valve 0.5 m from its node (within
the 1 m tolerance: it acts at the node, WNTR's (link, node) valve), or every other valve
3 m along its pipe (it splits the pipe). Then one break per WNTR segment holding a pipe
must shut exactly that segment and close exactly the valves WNTR says bound it: a valve
on link l protecting node n bounds S when exactly one of l and n is in S.

ky4's pumps are drawn with no length: the loader joins their two nodes, so WNTR's pump
link and the node joined away are counted in the segment of the node that stands for them.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import wntr
from sqlalchemy import text

from loaders import load_frames
from loaders.epanet import joined_nodes, read_epanet
from loaders.valve_layer import valve_points
from tests.support.analysis import AUTH

WNTR_DIR = Path(wntr.__file__).parent
CCWI17 = WNTR_DIR / "tests" / "networks_for_testing" / "CCWI17-HermanMahmoud.inp"
LIBRARY = WNTR_DIR / "library" / "networks"
# Local planes near Qingdao, one per network, scaled so Net3's shortest pipe is 17 m.
CRS = {
    "CCWI17": "+proj=tmerc +lat_0=36.2 +lon_0=120.6 +x_0=-800 +y_0=-8000 +ellps=GRS80 +units=m",
    "Net3": "+proj=tmerc +lat_0=36.3 +lon_0=120.7 +x_0=-2600 +y_0=-1500 +ellps=GRS80 +to_meter=100",
    "ky4": "+proj=tmerc +lat_0=36.4 +lon_0=120.8 +x_0=-1514200 +y_0=-1189600 +ellps=GRS80 "
    "+units=us-ft",
}
SOURCE = "test-wntr"
RADIUS = {"max_radius_m": 20_000}

Element = tuple[str, str]  # ("node" | "link", name)


def wntr_segments(wn, layer: pd.DataFrame) -> list[frozenset[Element]]:
    nodes, links, _ = wntr.metrics.valve_segments(wn.to_graph(), layer.copy())
    out: dict[int, set[Element]] = {}
    for name, s in nodes.items():
        out.setdefault(s, set()).add(("node", name))
    for name, s in links.items():
        out.setdefault(s, set()).add(("link", name))
    return [frozenset(e) for e in out.values()]


def with_links(segments: list[frozenset[Element]]) -> int:
    return sum(any(kind == "link" for kind, _ in s) for s in segments)


def bounding(segment: frozenset[Element], layer: pd.DataFrame) -> list[str]:
    return sorted(
        f"V{i}"
        for i, r in layer.iterrows()
        if (("link", r.link) in segment) != (("node", r.node) in segment)
    )


def pipe_rows(wn, layer: pd.DataFrame) -> pd.DataFrame:
    """Valves a GIS can draw: those on links drawn with a length."""
    joined = joined_nodes(wn)
    drawn = [
        wn.get_link(k).link_type == "Pipe" or not _at_one_spot(wn, k, joined) for k in layer.link
    ]
    return layer[drawn].reset_index(drop=True)


def _at_one_spot(wn, k: str, joined: dict[str, str]) -> bool:
    link = wn.get_link(k)
    return link.start_node_name in joined or link.end_node_name in joined


@pytest.fixture(scope="module")
def load(db_url, engine, client):
    """Load a network with its valve points; whatever a test loaded is gone after it."""

    def run(name: str, path: Path, layer: pd.DataFrame, along: bool) -> gpd.GeoDataFrame:
        frames = read_epanet(path, CRS[name])
        near, refused = valve_points(layer[::2] if along else layer, frames["pipelines"], 0.5)
        far, refused_far = valve_points(layer[1::2], frames["pipelines"], 3.0)
        assert refused.empty and (refused_far.empty or not along)
        valves = pd.concat([near, far] if along else [near])
        nodes = pd.concat([frames["pipe_nodes"], valves], ignore_index=True)
        frames["pipe_nodes"] = gpd.GeoDataFrame(nodes, crs=frames["pipelines"].crs)
        load_frames(db_url, frames, source=f"{SOURCE}:{name}")
        return frames["pipelines"]

    yield run
    with engine.begin() as c:
        for table in ("pipelines", "pipe_nodes"):
            c.execute(text(f"DELETE FROM city.{table} WHERE source LIKE '{SOURCE}:%'"))


_ENGINE = []


def clear_valves() -> None:
    """Drop the valve points loaded, so the same network can take another valve layer."""
    with _ENGINE[0].begin() as c:
        c.execute(
            text(
                "DELETE FROM city.pipe_nodes WHERE source LIKE :s AND node_kind = 'valve'"
                " AND asset_id LIKE 'V%'"
            ),
            {"s": f"{SOURCE}:%"},
        )


@pytest.fixture
def clean(engine):
    _ENGINE[:] = [engine]
    yield
    with engine.begin() as c:
        for table in ("pipelines", "pipe_nodes"):
            c.execute(text(f"DELETE FROM city.{table} WHERE source LIKE '{SOURCE}:%'"))


def isolate(client, **body) -> tuple[dict, list[dict]]:
    r = client.post("/analysis/isolate", headers=AUTH, json=RADIUS | body)
    assert r.status_code == 200, r.text
    summary, *rest = r.json()["features"]
    return summary["properties"], [f["properties"] for f in rest]


def lengths_m(lines: gpd.GeoDataFrame) -> pd.Series:
    factor = lines.crs.axis_info[0].unit_conversion_factor
    return lines.set_index("asset_id").geometry.length * factor


def mostly(stretch: dict, metres: pd.Series) -> bool:
    """Whether a stretch is most of its pipe (not the stub beside a valve along it)."""
    return stretch["length_m"] > 0.5 * metres[stretch["asset_id"]]


def midpoint(lines: gpd.GeoDataFrame, pipe: str) -> list[float]:
    line = lines.set_index("asset_id").geometry[pipe]
    at = gpd.GeoSeries([line.interpolate(0.5, normalized=True)], crs=lines.crs).to_crs(4326)
    return [at.x[0], at.y[0]]


def check(client, wn, lines: gpd.GeoDataFrame, layer: pd.DataFrame, along: bool) -> int:
    """Break one pipe of every WNTR segment; return how many segments were checked."""
    joined = joined_nodes(wn)
    pipes = set(lines.asset_id)
    metres = lengths_m(lines)
    checked = 0
    for s in wntr_segments(wn, layer):
        links = sorted(k for kind, k in s if kind == "link" and k in pipes)
        if not links:
            continue  # a segment of nodes alone, or of a pump drawn as a point
        nodes = sorted({joined.get(n, n) for kind, n in s if kind == "node"})
        body = {"point": midpoint(lines, links[0]), "utility": "water"} if along else {}
        summary, rest = isolate(client, **(body or {"pipe": links[0]}))
        assert summary["broken_pipe"] == links[0]
        assert summary["close"] == bounding(s, layer)
        assert summary["complete"] is True
        stretches = [p for p in rest if p["role"] == "isolated_pipe"]
        if along:  # a split pipe is WNTR's link where its longer part is
            assert sorted({p["asset_id"] for p in stretches if mostly(p, metres)}) == links
        else:
            assert sorted({p["asset_id"] for p in stretches}) == links
            assert all(p["whole_pipe"] for p in stretches)
        assert summary["isolated_node_ids"] == nodes
        checked += 1
    return checked


@pytest.mark.parametrize("along", [False, True], ids=["at-nodes", "along-pipes"])
def test_ccwi17_five_valves(client, load, clean, along):
    wn = wntr.network.WaterNetworkModel(str(CCWI17))
    layer = pd.DataFrame(
        [["p1", "n1"], ["p3", "n2"], ["p7", "n5"], ["p7", "n6"], ["p8", "n6"]],
        columns=["link", "node"],
    )
    segments = wntr_segments(wn, layer)
    assert (len(segments), max(map(len, segments))) == (4, 11)
    lines = load("CCWI17", CCWI17, layer, along)
    assert check(client, wn, lines, layer, along) == 3


def test_net3_random_40_seed_123(client, load, clean):
    wn = wntr.network.WaterNetworkModel(str(LIBRARY / "Net3.inp"))
    layer = wntr.network.generate_valve_layer(wn, "random", 40, seed=123)
    segments = wntr_segments(wn, layer)
    assert (len(segments), max(map(len, segments))) == (23, 125)
    for along in (False, True):
        lines = load("Net3", LIBRARY / "Net3.inp", layer, along)
        # 6 of the 23 are a node alone (every link at it valved there): no pipe to break.
        assert check(client, wn, lines, layer, along) == with_links(segments) == 17
        clear_valves()


def test_net3_strategic_n_minus_1(client, load, clean):
    wn = wntr.network.WaterNetworkModel(str(LIBRARY / "Net3.inp"))
    layer = wntr.network.generate_valve_layer(wn, "strategic", 1, seed=123)
    segments = wntr_segments(wn, layer)
    assert (len(segments), max(map(len, segments))) == (119, 3)
    # Pumps 10 and 335 carry valves: Net3 draws them with a length, so they are links.
    assert {"10", "335"} <= set(layer.link)
    for along in (False, True):
        lines = load("Net3", LIBRARY / "Net3.inp", layer, along)
        assert check(client, wn, lines, layer, along) == with_links(segments)
        clear_valves()


def test_ky4_random_200_with_pumps_drawn_as_points(client, load, clean):
    wn = wntr.network.WaterNetworkModel(str(LIBRARY / "ky4.inp"))
    layer = pipe_rows(wn, wntr.network.generate_valve_layer(wn, "random", 200, seed=123))
    segments = wntr_segments(wn, layer)
    for along in (False, True):
        lines = load("ky4", LIBRARY / "ky4.inp", layer, along)
        assert check(client, wn, lines, layer, along) == with_links(segments)
        clear_valves()


def test_ccwi17_cut_off_zone_is_wntr_unintended_isolation(client, load, clean):
    """Closing off the 11-element segment leaves {p7} and {n6} with no path to reservoir s."""
    layer = pd.DataFrame(
        [["p1", "n1"], ["p3", "n2"], ["p7", "n5"], ["p7", "n6"], ["p8", "n6"]],
        columns=["link", "node"],
    )
    load("CCWI17", CCWI17, layer, False)
    got, rest = isolate(client, pipe="p2")
    assert got["close"] == ["V0", "V2", "V4"]
    assert (got["cut_off_zones"], got["cut_off_node_ids"]) == (1, ["n6"])
    assert [(p["asset_id"], p["zone"]) for p in rest if p["role"] == "cut_off_pipe"] == [("p7", 1)]
    assert got["total_pipes"] == 7 and got["total_nodes"] == 6
    leads = {p["asset_id"]: p["leads_to_cut_off"] for p in rest if p["role"] == "close"}
    assert leads == {"V0": False, "V2": True, "V4": True}
    # The reservoir's own segment is not cut off: V0 is all that separates it.
    assert got["sources_in_reach"] == 1


def test_net3_stuck_valve_merges_the_two_wntr_segments_it_separates(client, load, clean):
    """A valve that will not close: the shut-off is the union of the segments on its two
    sides, and the valves to close are those bounding the union (WNTR's rule)."""
    wn = wntr.network.WaterNetworkModel(str(LIBRARY / "Net3.inp"))
    layer = wntr.network.generate_valve_layer(wn, "random", 40, seed=123)
    lines = load("Net3", LIBRARY / "Net3.inp", layer, True)
    segments = wntr_segments(wn, layer)
    of = {e: s for s in segments for e in s}
    pipes = set(lines.asset_id)
    metres = lengths_m(lines)
    tried = 0
    for s in segments:
        links = sorted(k for kind, k in s if kind == "link" and k in pipes)
        if not links:
            continue
        for v in bounding(s, layer):
            r = layer.loc[int(v[1:])]
            union = of[("link", r.link)] | of[("node", r.node)]
            body = {"point": midpoint(lines, links[0]), "utility": "water"}
            got, rest = isolate(client, **body, inoperable_valves=[v])
            assert got["close"] == bounding(union, layer)
            beyond = sorted(k for kind, k in union - s if kind == "link")
            (ext,) = got["extensions"]
            assert (ext["valve"], ext["cause"]) == (v, "inoperable")
            assert ext["next_valves"] == [c for c in got["close"] if c not in bounding(s, layer)]
            stuck = [p for p in rest if p.get("added_by") == v and mostly(p, metres)]
            assert sorted({p["asset_id"] for p in stuck}) == beyond
            tried += 1
    assert tried == 55  # every (segment with a pipe, valve bounding it) pair of the layer
