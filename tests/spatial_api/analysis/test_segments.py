"""Valve segments against WNTR's `valve_segments` on the networks WNTR ships, then breaks,
split pipes, stuck valves and the snap tolerance on a small network drawn by hand.

WNTR's valve layers are (link, node) pairs. They are loaded two ways: as the pairs, and as
points drawn on each pipe a few decimetres to a few metres from its node, as GIS valve
layers are drawn. Points within the 1 m tolerance act at the node; the others split the
pipe, so WNTR's link is then the pipe's long middle part and the stub near the node sits
with the node.
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest
import wntr
from shapely import LineString, Point, STRtree
from shapely.affinity import scale

from layers.errors import InvalidParameter
from spatial_api.analysis.segments import (
    Part,
    Pipe,
    Placement,
    Segmentation,
    Unplaced,
    Valve,
    cut_off,
    isolate,
    segment_network,
)

WNTR_DIR = Path(wntr.__file__).parent
LIBRARY = WNTR_DIR / "library" / "networks"
CCWI17 = WNTR_DIR / "tests" / "networks_for_testing" / "CCWI17-HermanMahmoud.inp"
OFFSETS = (0.2, 0.5, 0.9, 1.5, 2.5, 4.0)  # metres from the node; 1.5 and more split the pipe

Element = tuple[str, str]  # ("node" | "link", name): EPANET lets a node and a link share one


def model(path: Path) -> wntr.network.WaterNetworkModel:
    return wntr.network.WaterNetworkModel(str(path))


def pipes_of(wn, points: frozenset[str] = frozenset()) -> list[Pipe]:
    """Each link as a line from its start node; link types in `points` are recorded as
    points (no_length, no geometry). The drawing is scaled so the shortest drawn link is
    20 m, room for valves 4 m from each end."""
    lines = {}
    for name, link in wn.links():
        xy = [wn.get_node(link.start_node_name).coordinates, *link.vertices]
        lines[name] = LineString([*xy, wn.get_node(link.end_node_name).coordinates])
    drawn = {k for k, _ in wn.links() if wn.get_link(k).link_type not in points}
    factor = max(1.0, 20.0 / min(lines[k].length for k in drawn))
    return [
        Pipe(
            k, link.start_node_name, link.end_node_name, scale(lines[k], factor, factor, 1, (0, 0))
        )
        if k in drawn
        else Pipe(k, link.start_node_name, link.end_node_name, no_length=True)
        for k, link in wn.links()
    ]


def pairs(layer: pd.DataFrame) -> list[Valve]:
    return [Valve(f"V{i}", (r.link, r.node)) for i, r in enumerate(layer.itertuples())]


def drawn_points(pipes: list[Pipe], layer: pd.DataFrame, seed: int) -> list[tuple[Valve, float]]:
    """Each valve as a point on its pipe at an offset from its node, with that offset.

    Where pipes are drawn on top of each other (ky4 has such pairs near their nodes), a
    point cannot say which pipe it is on; such a valve keeps its (link, node) pair, offset 0.
    """
    rng = random.Random(seed)
    by_id = {p.asset_id: p for p in pipes}
    drawn = [p for p in pipes if p.geometry is not None]
    tree = STRtree([p.geometry for p in drawn])
    out = []
    for i, r in enumerate(layer.itertuples()):
        p, line = by_id[r.link], by_id[r.link].geometry
        assert line is not None
        for choice in rng.sample(OFFSETS, len(OFFSETS)):
            offset = min(choice, line.length / 4)
            at = line.interpolate(offset if r.node == p.from_node else line.length - offset)
            if [drawn[j].asset_id for j in tree.query(at, "dwithin", 0.05)] == [r.link]:
                out.append((Valve(f"V{i}", at), offset))
                break
        else:
            out.append((Valve(f"V{i}", (r.link, r.node)), 0.0))
    return out


def wntr_segments(wn, layer: pd.DataFrame) -> set[frozenset[Element]]:
    nodes, links, _ = wntr.metrics.valve_segments(wn.to_graph(), layer.copy())
    out: dict[int, set[Element]] = {}
    for name, s in nodes.items():
        out.setdefault(s, set()).add(("node", name))
    for name, s in links.items():
        out.setdefault(s, set()).add(("link", name))
    return {frozenset(e) for e in out.values()}


def wntr_view(seg: Segmentation) -> list[frozenset[Element]]:
    """Our segments (in order) as WNTR counts them: a split pipe is where its longest part is."""
    longest = {k: max(parts, key=lambda q: q.length) for k, parts in seg.pipe_parts.items()}
    return [
        frozenset(
            {("node", n) for n in s.nodes}
            | {("link", q.pipe) for q in s.parts if longest[q.pipe] == q}
        )
        for s in seg.segments
    ]


def wntr_bounding(segment: frozenset[Element], layer: pd.DataFrame) -> tuple[str, ...]:
    """WNTR's valves bounding a segment: exactly one of the valve's link and node is in it."""
    return tuple(
        sorted(
            f"V{i}"
            for i, r in enumerate(layer.itertuples())
            if (("link", r.link) in segment) != (("node", r.node) in segment)
        )
    )


def sizes(segments: set[frozenset[Element]]) -> tuple[int, int]:
    return len(segments), max(len(s) for s in segments)


def check_against_wntr(wn, pipes: list[Pipe], layer: pd.DataFrame, seed: int) -> None:
    """Both loadings give WNTR's segments, and every break closes WNTR's bounding valves."""
    expected = wntr_segments(wn, layer)

    by_pair = segment_network(pipes, pairs(layer))
    assert set(wntr_view(by_pair)) == expected
    assert len(by_pair.segments) == len(expected)
    for view, s in zip(wntr_view(by_pair), by_pair.segments, strict=True):
        assert tuple(sorted(s.valves)) == wntr_bounding(view, layer)
    of_link = {e[1]: s for s in expected for e in s if e[0] == "link"}
    for p in pipes:
        got = isolate(by_pair, p.asset_id)
        assert {("link", k) for k in got.pipes} | {("node", n) for n in got.nodes} == of_link[
            p.asset_id
        ]
        assert got.close == wntr_bounding(of_link[p.asset_id], layer)

    points = drawn_points(pipes, layer, seed)
    by_point = segment_network(pipes, [v for v, _ in points])
    assert by_point.unplaced == ()
    for (v, offset), r in zip(points, layer.itertuples(), strict=True):
        placed = by_point.placements[v.asset_id]
        assert (placed.pipe, placed.node) == (r.link, r.node if offset <= 1.0 else None)
    assert {pl.node is None for pl in by_point.placements.values()} == {True, False}
    assert set(wntr_view(by_point)) == expected
    assert len(by_point.segments) == len(expected)
    for p in pipes:
        if p.geometry is not None:
            got = isolate(by_point, p.geometry.interpolate(0.5, normalized=True))
            assert got.close == wntr_bounding(of_link[p.asset_id], layer)


# 1. WNTR's own test references.


def test_ccwi17_five_valves_as_in_wntr_tests():
    wn = model(CCWI17)
    layer = pd.DataFrame(
        [["p1", "n1"], ["p3", "n2"], ["p7", "n5"], ["p7", "n6"], ["p8", "n6"]],
        columns=["link", "node"],
    )
    expected = wntr_segments(wn, layer)
    assert sizes(expected) == (4, 11)
    names = [{"link:p7"}, {"node:n6"}, {"node:s", "link:p1"}]
    names.append({f"node:n{i}" for i in range(1, 6)} | {f"link:p{i}" for i in (2, 3, 4, 5, 6, 8)})
    assert expected == {frozenset(tuple(e.split(":")) for e in s) for s in names}
    # (p3, n2) has the large segment on both sides: it bounds nothing.
    seg = segment_network(pipes_of(wn), pairs(layer))
    assert seg.sides["V1"][0] == seg.sides["V1"][1] == seg.node_segment["n2"]
    assert seg.segments[seg.node_segment["n2"]].valves == {"V0", "V2", "V4"}
    check_against_wntr(wn, pipes_of(wn), layer, seed=1)


def test_net3_random_40_seed_123():
    wn = model(LIBRARY / "Net3.inp")
    layer = wntr.network.generate_valve_layer(wn, "random", 40, seed=123)
    first = [("105", "105"), ("161", "149"), ("113", "111"), ("295", "249"), ("197", "177")]
    assert list(layer.head().itertuples(index=False, name=None)) == first
    assert sizes(wntr_segments(wn, layer)) == (23, 125)
    check_against_wntr(wn, pipes_of(wn), layer, seed=2)


def test_net3_strategic_n_minus_1_seed_123():
    wn = model(LIBRARY / "Net3.inp")
    layer = wntr.network.generate_valve_layer(wn, "strategic", 1, seed=123)
    assert len(layer) == 141
    assert sizes(wntr_segments(wn, layer)) == (119, 3)
    # Its valves include pumps 10 and 335: Net3 draws them with a length, so they carry
    # valve points like any pipe.
    assert {"10", "335"} <= set(layer["link"])
    check_against_wntr(wn, pipes_of(wn), layer, seed=3)


@pytest.mark.parametrize(
    ("net", "kind", "n", "seed"),
    [("Net1", "strategic", 2, 7), ("Net2", "random", 15, 1), ("Net3", "strategic", 0, 5)],
)
def test_more_wntr_layers(net, kind, n, seed):
    wn = model(LIBRARY / f"{net}.inp")
    layer = wntr.network.generate_valve_layer(wn, kind, n, seed=seed)
    check_against_wntr(wn, pipes_of(wn), layer, seed=seed)


# 2. Pumps and control valves recorded as points. ky4 and ky10 draw theirs with both ends
# at one spot; here every pump and valve gets no geometry at all.

POINTS = frozenset({"Pump", "Valve"})


def pipe_rows(wn, layer: pd.DataFrame) -> pd.DataFrame:
    """A drawn valve layer can only hold valves on pipes."""
    kinds = layer["link"].map(lambda k: wn.get_link(k).link_type)
    return layer[kinds == "Pipe"].reset_index(drop=True)


@pytest.mark.parametrize(
    ("net", "kind", "n", "seed"),
    [
        ("ky4", "strategic", 1, 123),
        ("ky4", "random", 200, 123),
        ("ky10", "strategic", 2, 4),
        ("Net3", "random", 40, 123),
    ],
)
def test_links_without_length_keep_the_network_connected(net, kind, n, seed):
    wn = model(LIBRARY / f"{net}.inp")
    layer = pipe_rows(wn, wntr.network.generate_valve_layer(wn, kind, n, seed=seed))
    pipes = pipes_of(wn, POINTS)
    check_against_wntr(wn, pipes, layer, seed=seed)

    seg = segment_network(pipes, pairs(layer))
    for p in pipes:
        if p.no_length:  # no valve on it, so it joins its nodes: one segment for all three
            s = seg.node_segment[p.from_node]
            assert seg.node_segment[p.to_node] == s
            assert seg.part_segment[Part(p.asset_id, 0.0, 0.0)] == s
    # The comparison tells: leaving the pumps out, as a GIS that turned them into points
    # does, no longer matches WNTR.
    kept = [p for p in pipes if not p.no_length]
    assert set(wntr_view(segment_network(kept, pairs(layer)))) != wntr_segments(wn, layer)


# 3-5. A network drawn by hand (metres).
#
#   R --p1-- A --p2-- B --p3-- C        v1 on p1 0.5 m from A, v2 on p2 50 m from A,
#            |                          v3 on p3 0.3 m from B, v4 on p4 0.4 m from A,
#            p4                         v5 on p5 30 m from D, v6 (closed) on p5 0.8 m
#            |                          from E, v7 1.5 m beside C.
#            D --p5-- E --p6-- F
XY = {"R": (0, 0), "A": (100, 0), "B": (300, 0), "C": (450, 0)}
XY |= {"D": (100, -80), "E": (220, -80), "F": (220, -200)}
HAND_PIPES = [
    Pipe(k, a, b, LineString([XY[a], XY[b]]))
    for k, a, b in [
        ("p1", "R", "A"),
        ("p2", "A", "B"),
        ("p3", "B", "C"),
        ("p4", "A", "D"),
        ("p5", "D", "E"),
        ("p6", "E", "F"),
    ]
]
HAND_VALVES = [
    Valve("v1", Point(99.5, 0)),
    Valve("v2", Point(150, 0)),
    Valve("v3", Point(300.3, 0)),
    Valve("v4", Point(100, -0.4)),
    Valve("v5", Point(130, -80)),
    Valve("v6", Point(219.2, -80), "closed"),
    Valve("v7", Point(450, 1.5)),
]


@pytest.fixture(scope="module")
def hand() -> Segmentation:
    return segment_network(HAND_PIPES, HAND_VALVES)


def segment_holding(seg: Segmentation, pipe: str, at: float) -> int:
    return next(s for q, s in seg.part_segment.items() if q.pipe == pipe and q.start < at < q.end)


def test_valves_near_an_end_act_at_the_node_and_others_split(hand):
    assert hand.placements["v1"] == Placement("v1", "p1", "A", 100.0, 0.0)
    assert hand.placements["v2"] == Placement("v2", "p2", None, 50.0, 0.0)
    assert hand.placements["v4"] == Placement("v4", "p4", "A", 0.0, 0.0)
    assert hand.placements["v6"] == Placement("v6", "p5", "E", 120.0, 0.0)
    assert hand.pipe_parts["p2"] == (Part("p2", 0.0, 50.0), Part("p2", 50.0, 200.0))
    assert hand.pipe_parts["p5"] == (Part("p5", 0.0, 30.0), Part("p5", 30.0, 120.0))
    got = {(s.pipes, s.nodes, s.valves, s.length) for s in hand.segments}
    assert got == {
        (frozenset({"p1"}), frozenset({"R"}), frozenset({"v1"}), 100.0),
        (frozenset({"p2"}), frozenset({"A"}), frozenset({"v1", "v2", "v4"}), 50.0),
        (frozenset({"p2"}), frozenset({"B"}), frozenset({"v2", "v3"}), 150.0),
        (frozenset({"p3"}), frozenset({"C"}), frozenset({"v3"}), 150.0),
        (frozenset({"p4", "p5"}), frozenset({"D"}), frozenset({"v4", "v5"}), 110.0),
        (frozenset({"p5"}), frozenset(), frozenset({"v5", "v6"}), 90.0),
        (frozenset({"p6"}), frozenset({"E", "F"}), frozenset({"v6"}), 120.0),
    }


def test_break_on_one_side_of_a_mid_pipe_valve(hand):
    beyond = isolate(hand, Point(200, 0.3))
    assert beyond.parts == (Part("p2", 50.0, 200.0),)
    assert (beyond.close, beyond.closed, beyond.length, beyond.nodes) == (
        ("v2", "v3"),
        (),
        150.0,
        frozenset({"B"}),
    )
    near = isolate(hand, Point(120, -0.2))
    assert near.parts == (Part("p2", 0.0, 50.0),)
    assert (near.close, near.length) == (("v1", "v2", "v4"), 50.0)


def test_break_by_id_shuts_every_part_of_the_pipe(hand):
    p2 = isolate(hand, "p2")
    assert (p2.close, p2.length, p2.pipes) == (("v1", "v3", "v4"), 200.0, frozenset({"p2"}))
    p5 = isolate(hand, "p5")  # v6 is already closed: nothing to do there
    assert (p5.close, p5.closed, p5.length) == (("v4",), ("v6",), 200.0)


def test_stuck_valve_widens_to_the_next_valves_out(hand):
    s_c = segment_holding(hand, "p3", 75)
    past_v3 = isolate(hand, Point(200, 0), stuck_valves={"v3"})
    assert (past_v3.close, past_v3.length, past_v3.widened_by) == (("v2",), 300.0, {"v3": (s_c,)})

    s_a, s_d, s_e = (segment_holding(hand, p, at) for p, at in (("p2", 25), ("p4", 40), ("p5", 60)))
    two = isolate(hand, Point(200, 0), stuck_valves={"v2", "v4"})
    assert (two.close, two.closed, two.length) == (("v1", "v3", "v5"), (), 310.0)
    assert two.widened_by == {"v2": (s_a,), "v4": (s_d,)}
    assert two.pipes == {"p2", "p4", "p5"}
    three = isolate(hand, Point(200, 0), stuck_valves={"v2", "v4", "v5"})
    assert (three.close, three.closed, three.length) == (("v1", "v3"), ("v6",), 400.0)
    assert three.widened_by == {"v2": (s_a,), "v4": (s_d,), "v5": (s_e,)}


def test_broken_valve_behaves_as_stuck_and_a_closed_one_stays_closed():
    valves = [Valve(v.asset_id, v.at, "broken") if v.asset_id == "v4" else v for v in HAND_VALVES]
    seg = segment_network(HAND_PIPES, valves)
    got = isolate(seg, Point(120, 0))
    assert (got.close, got.length) == (("v1", "v2", "v5"), 160.0)
    assert got.widened_by == {"v4": (segment_holding(seg, "p4", 40),)}
    assert isolate(seg, Point(120, 0), stuck_valves={"v4"}) == got

    p6 = isolate(seg, "p6", stuck_valves={"v6"})
    assert (p6.close, p6.closed, p6.length, p6.widened_by) == ((), ("v6",), 120.0, {})


def test_unknown_stuck_valve_or_pipe_is_refused(hand):
    with pytest.raises(InvalidParameter, match="unknown valves: v9"):
        isolate(hand, "p2", stuck_valves={"v9"})
    with pytest.raises(InvalidParameter, match="no pipe p9"):
        isolate(hand, "p9")


def test_valve_beyond_tolerance_is_reported_not_used(hand):
    assert hand.unplaced == (Unplaced("v7", "p3", 1.5),)
    assert "v7" not in hand.placements
    assert isolate(hand, "p3").close == ("v3",)

    wider = segment_network(HAND_PIPES, HAND_VALVES, tolerance=2.0)
    assert wider.unplaced == ()
    assert wider.placements["v7"] == Placement("v7", "p3", "C", 150.0, 1.5)
    assert isolate(wider, "p3").close == ("v3", "v7")
    assert len(wider.segments) == len(hand.segments) + 1  # C is now a segment of its own


def test_wntr_pair_must_name_an_end_of_its_link():
    with pytest.raises(InvalidParameter, match="valve x: C is not an end of p1"):
        segment_network(HAND_PIPES, [Valve("x", ("p1", "C"))])


def test_valve_drawn_on_a_junction_separates_its_two_pipes():
    seg = segment_network(HAND_PIPES[1:3], [Valve("vb", Point(300, 0))])
    assert seg.unplaced == ()
    assert {s.pipes for s in seg.segments} == {frozenset({"p2"}), frozenset({"p3"})}
    assert (isolate(seg, "p3").close, isolate(seg, "p3").length) == (("vb",), 150.0)


# 6. Valve nodes (the valve is a node of the topology) and cut-off zones.


def test_a_valve_node_is_wntr_valves_on_every_link_at_that_node():
    wn = model(LIBRARY / "Net3.inp")
    pipes = pipes_of(wn)
    junctions = sorted(wn.junction_name_list)
    chosen = random.Random(11).sample(junctions, 25)
    layer = pd.DataFrame(
        [(k, n) for n in chosen for k in wn.get_links_for_node(n)], columns=["link", "node"]
    )
    seg = segment_network(pipes, [Valve(n, n) for n in chosen])
    assert set(wntr_view(seg)) == wntr_segments(wn, layer)
    of_link = {e[1]: s for s in wntr_segments(wn, layer) for e in s if e[0] == "link"}
    for p in pipes:
        pairs_closing = wntr_bounding(of_link[p.asset_id], layer)  # V<i> in layer order
        expected = sorted({layer.node[int(v[1:])] for v in pairs_closing})
        assert list(isolate(seg, p.asset_id).close) == expected


def test_a_stuck_valve_node_opens_onto_every_pipe_meeting_there(hand):
    seg = segment_network(HAND_PIPES, [Valve("vA", "A"), *HAND_VALVES[1:]])
    got = isolate(seg, "p1")
    assert (got.close, got.pipes) == (("vA",), frozenset({"p1"}))
    wide = isolate(seg, "p1", stuck_valves={"vA"})
    # Past vA: A itself and p2 up to v2; p4 is cut off A by v4 as well, which closes.
    assert wide.close == ("v2", "v4")
    assert wide.widened_by["vA"] == (seg.node_segment["A"], segment_holding(seg, "p2", 25))


def test_cut_off_zones_have_no_path_to_a_source(hand):
    got = isolate(hand, Point(200, 0.3))  # beyond v2: v2 and v3 close
    s_c = segment_holding(hand, "p3", 75)
    assert cut_off(hand, got, {"R"}) == (frozenset({s_c}),)
    # A break on p4 closes v4 and v5: p5 between v5 and the closed v6 goes dry; p6, past
    # v6, was dry before the break, which is not the break's doing.
    s_e = segment_holding(hand, "p5", 60)
    assert cut_off(hand, isolate(hand, "p4"), {"R"}) == (frozenset({s_e}),)
    # With v3 stuck, C's side is shut with the break: nothing left cut off.
    assert cut_off(hand, isolate(hand, Point(200, 0.3), stuck_valves={"v3"}), {"R"}) == ()
    # Fed from beyond the network read (a search radius): C's side counts as supplied.
    assert cut_off(hand, got, {"R"}, fed={s_c}) == ()


def test_ccwi17_unintended_isolation():
    wn = model(CCWI17)
    layer = pd.DataFrame(
        [["p1", "n1"], ["p3", "n2"], ["p7", "n5"], ["p7", "n6"], ["p8", "n6"]],
        columns=["link", "node"],
    )
    seg = segment_network(pipes_of(wn), pairs(layer))
    got = isolate(seg, "p2")
    (zone,) = cut_off(seg, got, {"s"})
    assert {p for s in zone for p in seg.segments[s].pipes} == {"p7"}
    assert {n for s in zone for n in seg.segments[s].nodes} == {"n6"}
