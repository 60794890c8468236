"""Valve segments for networks as GIS records them, and the valves that isolate a break.

The rule is WNTR's `valve_segments`: a segment is what stays connected without crossing a
valve. Valves are points: one within `tolerance` of a pipe end (measured along the pipe) is
WNTR's (link, node) valve on that pipe at that node; one further along splits the pipe for
isolation (the stored geometry is not cut). Links with no length (pumps, control valves
recorded as points) join their two nodes and no valve point snaps to them, so they never
cut the network.
A valve can also be a node of the topology (Giswater's and our demo's valve nodes): it
cuts every pipe meeting there, like WNTR valves on each of those links at that node.
`isolate` closes the valves around a break and, when one is stuck, goes on to the next
valves out, as Giswater's mincut walks through a broken valve. `cut_off` finds what the
closures leave with no path to a source (WNTR's unintended isolation).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Set
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from shapely import LineString, Point, STRtree

from layers.errors import InvalidParameter

ValveState = Literal["open", "closed", "broken"]


@dataclass(frozen=True)
class Pipe:
    """A link from `from_node` to `to_node`, its geometry drawn in that direction (metres).

    `no_length` marks a pump or control valve recorded with no drawn length: it joins its
    nodes, has no geometry to snap to, and counts 0 m.
    """

    asset_id: str
    from_node: str
    to_node: str
    geometry: LineString | None = None
    no_length: bool = False


@dataclass(frozen=True)
class Valve:
    """A valve drawn as a point, given as WNTR's (link, node) pair, or a valve node.

    A valve node (`at` is a node id: the valve is a node of the network, as Giswater and
    our demo record them) shuts every pipe meeting there. A broken valve cannot be closed,
    whatever the crew tries: isolation passes through it.
    """

    asset_id: str
    at: Point | tuple[str, str] | str
    state: ValveState = "open"


@dataclass(frozen=True)
class Placement:
    """Where a valve acts: on `pipe`, `position` metres from its from_node.

    `node` is set for a valve at a pipe end (WNTR's (link, node) pair: it cuts the pipe off
    that node); otherwise the valve splits the pipe at `position`.
    """

    valve: str
    pipe: str
    node: str | None
    position: float
    distance: float


@dataclass(frozen=True)
class Unplaced:
    """A valve point with no pipe within tolerance, and how far the nearest pipe is."""

    valve: str
    pipe: str | None
    distance: float


@dataclass(frozen=True)
class Part:
    """The stretch of a pipe between `start` and `end` metres from its from_node."""

    pipe: str
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Segment:
    """Pipe parts and nodes connected without crossing a valve; `valves` bound it."""

    id: int
    parts: tuple[Part, ...]
    nodes: frozenset[str]
    valves: frozenset[str]

    @property
    def pipes(self) -> frozenset[str]:
        return frozenset(p.pipe for p in self.parts)

    @property
    def length(self) -> float:
        return sum(p.length for p in self.parts)


@dataclass(frozen=True)
class Isolation:
    """What a break shuts off.

    Attributes:
        segments: the segments shut off: the break's, and those reached across stuck valves.
        close: the valves the crew closes.
        closed: boundary valves that are already closed (nothing to do).
        widened_by: each stuck valve crossed → the segments it added.
    """

    segments: frozenset[int]
    close: tuple[str, ...]
    closed: tuple[str, ...]
    widened_by: dict[str, tuple[int, ...]]
    parts: tuple[Part, ...]
    nodes: frozenset[str]

    @property
    def pipes(self) -> frozenset[str]:
        return frozenset(p.pipe for p in self.parts)

    @property
    def length(self) -> float:
        return sum(p.length for p in self.parts)


@dataclass(frozen=True)
class Segmentation:
    """The valve segments of one network, and what `isolate` needs to walk them."""

    segments: tuple[Segment, ...]
    placements: dict[str, Placement]
    unplaced: tuple[Unplaced, ...]
    sides: dict[str, tuple[int, ...]]  # valve → the segments on its sides (2, or a node's)
    node_segment: dict[str, int]
    part_segment: dict[Part, int]
    pipe_parts: dict[str, tuple[Part, ...]]
    states: dict[str, ValveState]
    pipes: dict[str, Pipe]
    tree: STRtree  # the drawn pipes, in the order of `drawn`
    drawn: tuple[str, ...]
    valve_nodes: dict[str, str]  # node → the valve that is that node


# A snapped valve before placement: valve, pipe, position, snap distance, node if given.
_Snapped = tuple[str, str, float, float, str | None]


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a network's objects are built.

    They are tens of thousands of small objects kept alive, and none is garbage: each
    collection they trigger walks the whole heap for nothing (half of segmenting 10k
    pipes in the server). Only for synchronous code, never across an await.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def segment_network(
    pipes: Iterable[Pipe], valves: Iterable[Valve], tolerance: float = 1.0
) -> Segmentation:
    """Snap the valves, split the pipes at them, and label the segments."""
    with paused_gc():
        return _segment_network(pipes, valves, tolerance)


def _segment_network(
    pipes: Iterable[Pipe], valves: Iterable[Valve], tolerance: float
) -> Segmentation:
    by_id = {p.asset_id: p for p in pipes}
    valves = list(valves)
    for p in by_id.values():
        if not p.no_length and p.geometry is None:
            raise InvalidParameter(f"pipe {p.asset_id} has no geometry and is not no_length")
    drawn = tuple(k for k, p in by_id.items() if not p.no_length)
    tree = STRtree([by_id[k].geometry for k in drawn])
    at_node = {v.at: v.asset_id for v in valves if isinstance(v.at, str)}
    known = {n for p in by_id.values() for n in (p.from_node, p.to_node)}
    if at_node.keys() - known:
        raise InvalidParameter(f"valve nodes not in the network: {sorted(at_node.keys() - known)}")
    node_valves = set(at_node.values())
    snapped, unplaced = _snap(
        by_id, drawn, tree, [v for v in valves if v.asset_id not in node_valves], tolerance
    )
    placements = _place(by_id, snapped, tolerance)
    on_pipe: dict[str, list[Placement]] = {}
    for pl in placements.values():
        on_pipe.setdefault(pl.pipe, []).append(pl)

    # Vertices are nodes and pipe parts, numbered as met (so segment ids are stable); a
    # valve is a missing edge between its sides. Union-find on ints: 2.4x networkx here.
    vertex: dict[str, int] = {}
    parent: list[int] = []

    def new_vertex() -> int:
        parent.append(len(parent))
        return len(parent) - 1

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    sides: dict[str, tuple[int, ...]] = {}
    around_node: dict[str, list[int]] = {n: [] for n in at_node}
    pipe_parts: dict[str, tuple[Part, ...]] = {}
    part_vertex: list[tuple[Part, int]] = []
    for p in by_id.values():
        here = on_pipe.get(p.asset_id, [])
        ends = {pl.node: pl.valve for pl in here if pl.node is not None}
        splits = sorted((pl.position, pl.valve) for pl in here if pl.node is None)
        cuts = [0.0, *(pos for pos, _ in splits), _length(p)]
        parts = tuple(Part(p.asset_id, a, b) for a, b in zip(cuts, cuts[1:], strict=False))
        pipe_parts[p.asset_id] = parts
        if p.from_node not in vertex:
            vertex[p.from_node] = new_vertex()
        ids = [new_vertex() for _ in parts]
        part_vertex += zip(parts, ids, strict=True)
        if p.to_node not in vertex:
            vertex[p.to_node] = new_vertex()
        for (_, valve), before, after in zip(splits, ids, ids[1:], strict=False):
            sides[valve] = (before, after)
        for node, end in ((p.from_node, ids[0]), (p.to_node, ids[-1])):
            if node in ends:
                sides[ends[node]] = (vertex[node], end)
            elif node in around_node:
                around_node[node].append(end)
            else:
                parent[find(end)] = find(vertex[node])
    for node, valve in at_node.items():
        sides[valve] = (vertex[node], *around_node[node])

    label: dict[int, int] = {}
    for x in range(len(parent)):
        label.setdefault(find(x), len(label))
    n = len(label)
    node_segment = {k: label[find(x)] for k, x in vertex.items()}
    part_segment = {q: label[find(x)] for q, x in part_vertex}
    seg_sides = {v: tuple(label[find(x)] for x in ends) for v, ends in sides.items()}
    parts_of: list[list[Part]] = [[] for _ in range(n)]
    nodes_of: list[set[str]] = [set() for _ in range(n)]
    valves_of: list[set[str]] = [set() for _ in range(n)]
    for part, s in part_segment.items():
        parts_of[s].append(part)
    for node, s in node_segment.items():
        nodes_of[s].add(node)
    for v, around in seg_sides.items():
        if len(set(around)) > 1:  # a valve with the same segment on all sides bounds nothing
            for s in around:
                valves_of[s].add(v)
    return Segmentation(
        segments=tuple(
            Segment(s, tuple(parts_of[s]), frozenset(nodes_of[s]), frozenset(valves_of[s]))
            for s in range(n)
        ),
        placements=placements,
        unplaced=tuple(unplaced),
        sides=seg_sides,
        node_segment=node_segment,
        part_segment=part_segment,
        pipe_parts=pipe_parts,
        states={v.asset_id: v.state for v in valves},
        pipes=by_id,
        tree=tree,
        drawn=drawn,
        valve_nodes=at_node,
    )


def isolate(
    seg: Segmentation, at: str | Point | tuple[str, Point], stuck_valves: Set[str] = frozenset()
) -> Isolation:
    """The valves to close for a break on pipe `at` (an id), nearest the point `at`, or at
    a point on a given pipe (a pipe id and a point).

    A break given by pipe id shuts every part of that pipe, since where along it is not
    known; a point picks the part it falls on. A stuck valve (and a broken one) cannot
    close, so the segment beyond it is added and that segment's valves are tried in turn.
    A closed valve stays closed, stuck or not.
    """
    unknown = set(stuck_valves) - seg.states.keys()
    if unknown:
        raise InvalidParameter(f"unknown valves: {', '.join(sorted(unknown))}")
    stuck = {
        v
        for v, state in seg.states.items()
        if state == "broken" or (state == "open" and v in stuck_valves)
    }
    region = _break_segments(seg, at)
    widened_by: dict[str, tuple[int, ...]] = {}
    todo = list(region)
    while todo:
        for v in sorted(seg.segments[todo.pop()].valves):
            beyond = tuple(dict.fromkeys(s for s in seg.sides[v] if s not in region))
            if beyond and v in stuck:
                widened_by[v] = beyond
                region.update(beyond)
                todo.extend(beyond)
    chosen = [seg.segments[s] for s in sorted(region)]
    boundary = sorted({v for s in chosen for v in s.valves if not set(seg.sides[v]) <= region})
    return Isolation(
        segments=frozenset(region),
        close=tuple(v for v in boundary if seg.states[v] == "open" and v not in stuck),
        closed=tuple(v for v in boundary if seg.states[v] == "closed"),
        widened_by=widened_by,
        parts=tuple(p for s in chosen for p in s.parts),
        nodes=frozenset(n for s in chosen for n in s.nodes),
    )


def cut_off(
    seg: Segmentation, iso: Isolation, sources: Set[str], fed: Set[int] = frozenset()
) -> tuple[frozenset[int], ...]:
    """Segments the closures leave with no path to a source, grouped into zones.

    WNTR calls this unintended isolation. `sources` are nodes (tanks, reservoirs); `fed`
    are segments supplied from beyond what `seg` holds (a network cut at a search radius).
    A segment already without a path before the closures is not the break's doing and is
    not counted; neither is the body of a valve node, which holds no pipe.
    """
    supplied_before = _supplied(seg, sources, fed, frozenset(), frozenset())
    supplied_after = _supplied(seg, sources, fed, iso.segments, frozenset(iso.close))
    dry = {
        s.id
        for s in seg.segments
        if s.id in supplied_before
        and s.id not in supplied_after
        and s.id not in iso.segments
        and (s.parts or not s.nodes <= seg.valve_nodes.keys())
    }
    zones = _components(seg, dry, frozenset(iso.close))
    return tuple(sorted(zones, key=min))


def _passes(seg: Segmentation, v: str, shut: Set[str]) -> bool:
    return seg.states[v] != "closed" and v not in shut


def _union(seg: Segmentation, keep: Set[int], shut: Set[str]) -> dict[int, int]:
    """Segments in `keep` joined through the valves that pass water: segment → its root."""
    root = {s: s for s in keep}

    def find(s: int) -> int:
        while root[s] != s:
            root[s] = root[root[s]]
            s = root[s]
        return s

    for v, around in seg.sides.items():
        inside = [s for s in around if s in root]
        if len(inside) > 1 and _passes(seg, v, shut):
            for s in inside[1:]:
                root[find(s)] = find(inside[0])
    return {s: find(s) for s in root}


def _supplied(
    seg: Segmentation, sources: Set[str], fed: Set[int], drained: Set[int], shut: Set[str]
) -> set[int]:
    keep = {s.id for s in seg.segments} - set(drained)
    root = _union(seg, keep, shut)
    wet = {root[seg.node_segment[n]] for n in sources if seg.node_segment.get(n) in root}
    wet |= {root[s] for s in fed if s in root}
    return {s for s, r in root.items() if r in wet}


def _components(seg: Segmentation, keep: Set[int], shut: Set[str]) -> list[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for s, r in _union(seg, keep, shut).items():
        groups.setdefault(r, set()).add(s)
    return [frozenset(g) for g in groups.values()]


def _length(p: Pipe) -> float:
    return 0.0 if p.no_length or p.geometry is None else float(p.geometry.length)


def _line(p: Pipe) -> LineString:
    if p.geometry is None:  # segment_network refuses drawn pipes without one
        raise InvalidParameter(f"pipe {p.asset_id} has no geometry")
    return p.geometry


def _snap(
    pipes: dict[str, Pipe],
    drawn: tuple[str, ...],
    tree: STRtree,
    valves: list[Valve],
    tolerance: float,
) -> tuple[list[_Snapped], list[Unplaced]]:
    """Put each valve on a pipe; report the points with no pipe within tolerance."""
    snapped: list[_Snapped] = []
    unplaced: list[Unplaced] = []
    points = [v for v in valves if not isinstance(v.at, tuple)]
    nearest: dict[int, tuple[float, str]] = {}
    if points and drawn:
        (which, hits), dists = tree.query_nearest(
            [v.at for v in points], return_distance=True, all_matches=True
        )
        for i, j, d in zip(which, hits, dists, strict=True):
            # A point drawn exactly on a junction touches all its pipes: take the lowest id.
            best = (float(d), drawn[j])
            nearest[int(i)] = min(nearest.get(int(i), best), best)
    for i, v in enumerate(points):
        if i not in nearest or nearest[i][0] > tolerance:
            d, pipe = nearest.get(i, (float("inf"), None))
            unplaced.append(Unplaced(v.asset_id, pipe, d))
            continue
        d, pipe = nearest[i]
        snapped.append((v.asset_id, pipe, float(_line(pipes[pipe]).project(v.at)), d, None))
    for v in valves:
        if isinstance(v.at, tuple):
            link, node = v.at
            p = pipes.get(link)
            if p is None or node not in (p.from_node, p.to_node):
                raise InvalidParameter(f"valve {v.asset_id}: {node} is not an end of {link}")
            pos = 0.0 if node == p.from_node else _length(p)
            snapped.append((v.asset_id, link, pos, 0.0, node))
    return snapped, unplaced


def _place(
    pipes: dict[str, Pipe], snapped: list[_Snapped], tolerance: float
) -> dict[str, Placement]:
    """A valve near a pipe end acts at that node; a second one at the same end would cut
    the same place twice, so only the nearest does and the others split the pipe."""
    out: dict[str, Placement] = {}
    taken: set[tuple[str, str]] = set()
    for valve, pipe, pos, dist, given in sorted(snapped, key=lambda s: _gap(pipes[s[1]], s[2])):
        p = pipes[pipe]
        length = _length(p)
        node = given or (p.from_node if pos <= length - pos else p.to_node)
        end = 0.0 if node == p.from_node else length
        if abs(pos - end) <= tolerance and (pipe, node) not in taken:
            taken.add((pipe, node))
            out[valve] = Placement(valve, pipe, node, end, dist)
        else:
            out[valve] = Placement(valve, pipe, None, pos, dist)
    return out


def _gap(p: Pipe, pos: float) -> float:
    return min(pos, _length(p) - pos)


def _break_segments(seg: Segmentation, at: str | Point | tuple[str, Point]) -> set[int]:
    if isinstance(at, str):
        if at not in seg.pipes:
            raise InvalidParameter(f"no pipe {at}")
        return {seg.part_segment[part] for part in seg.pipe_parts[at]}
    if isinstance(at, tuple):
        pipe, at = at
        if pipe not in seg.pipes or seg.pipes[pipe].no_length:
            raise InvalidParameter(f"no drawn pipe {pipe}")
    elif not seg.drawn:
        raise InvalidParameter("the network has no drawn pipes to place a break on")
    else:
        pipe = seg.drawn[int(seg.tree.nearest(at))]
    pos = _line(seg.pipes[pipe]).project(at)
    part = next(q for q in seg.pipe_parts[pipe] if q.end >= pos)
    return {seg.part_segment[part]}
