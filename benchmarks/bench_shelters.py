"""Shelter assignment (issue 13: ≤ 2 s for 100,000 people in 200 origin cells and 60
shelters): the solver alone beside OR-Tools, then the whole request with its road times.

    .venv/bin/python -m benchmarks.bench_shelters [--repeat 5] [--base-url URL] [--write]

The peer solver is OR-Tools, kept out of the venv (tests/test_lock.py holds the venv to
requirements.lock, as ./dev bench-setup keeps tipg out):

    .venv/bin/python -m pip install --no-deps --target /tmp/ortools-peer \
        ortools absl-py immutabledict
    PYTHONPATH=/tmp/ortools-peer .venv/bin/python -m benchmarks.bench_shelters --write

Without it the peer is scipy's linprog (HiGHS) on the same network as a transportation LP.

- The scratch database holds the demo city at scale 1 (seed 20261123): its roads, its 60
  shelters and its synthetic population grid (250 m cells, 4.09 M people). The demo marks
  2 of the 60 shelters closed; the benchmark opens them, so 60 are usable.
- The zone is a geodesic circle of RADIUS_M about CENTRE (chosen so the nearest 200 cell
  centres hold ~100,000 people); no shelter lies inside it, and search_m 50 km makes
  every shelter a candidate.
- **Solver alone:** the origins are the zone's cells with their people, pooled per road
  node as the request pools them; costs are their pgRouting road times to the 60 shelters
  on the request's own graph (`build_graph`, `snap_all`, `travel_times`), in whole
  deciseconds as the request sends them. Capacities are the demo's (12× the demand), and
  the same scaled to 120 % and to 80 % of the demand (largest remainder). networkx's
  network simplex (ours) and the peer solve the same network (the "unassigned" arc at
  cost M); the totals housed and person-deciseconds must be equal.
- **The request:** POST /analysis/shelter-assignment through the in-process TestClient
  (validation and JSON count, the network does not), one cold request then `--repeat`,
  with where its time goes (the phases timed by wrapping the module's calls): once with
  the demo's capacities, once with them scaled in the database to 80 % of the zone's
  people (put back afterwards), so that every shelter fills and people are left over.

Times are wall and CPU seconds (this process's and PostgreSQL's backends'), with the load
average: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_isolation import BackendCpu, scratch  # noqa: E402
from benchmarks.record import SHARED_MACHINE, provenance, write_section  # noqa: E402
from citygis.cluster import database_url  # noqa: E402
from citygis.db import make_async_engine, make_engine  # noqa: E402
from citygis.settings import DatabaseSettings, ServerSettings  # noqa: E402

DB = "citygis_bench_shelters"
SEED = 20261123
SCALE = 1.0
LAYERS = ("roads", "shelters", "population")
CENTRE = (120.4397, 36.1702)
RADIUS_M = 2050.0
SEARCH_M = 50_000.0
TOKEN = "bench-shelters"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TARGET_S = 2.0
LOAD: list[float] = []  # the machine's load average when the run began


def zone() -> dict[str, Any]:
    """A geodesic circle of RADIUS_M about CENTRE, 128 vertices."""
    from pyproj import Geod

    geod = Geod(ellps="GRS80")
    az = [360.0 * k / 128 for k in range(128)]
    lon, lat, _ = geod.fwd([CENTRE[0]] * 128, [CENTRE[1]] * 128, az, [RADIUS_M] * 128)
    ring = [[round(x, 7), round(y, 7)] for x, y in zip(lon, lat, strict=True)]
    return {"type": "Polygon", "coordinates": [[*ring[::-1], ring[-1]]]}


def build(url: str) -> dict[str, float]:
    """The demo's roads, shelters and population at scale 1, loaded once; every shelter open."""
    from loaders import load_frames
    from loaders.demo_city import demo_sources

    took: dict[str, float] = {}
    engine = make_engine(url)
    with engine.connect() as c:
        have = c.execute(sa.text("SELECT count(*) FROM city.population")).scalar_one()
    if have == 0:
        print(f"generating the demo city at scale {SCALE:g} …", flush=True)
        started = time.perf_counter()
        sources = [s for s in demo_sources(seed=SEED, scale=SCALE) if s.layer in LAYERS]
        for src in sources:
            load_frames(url, {src.layer: src.frame}, source=src.source)
        took["load_s"] = time.perf_counter() - started
        print(f"  generated and loaded in {took['load_s']:.0f} s", flush=True)
    with engine.begin() as c:
        c.execute(sa.text("UPDATE city.shelters SET status = 'open' WHERE status <> 'open'"))
        for layer in LAYERS:
            c.execute(sa.text(f"ANALYZE city.{layer}"))
    engine.dispose()
    return took


def counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as c:
        out = {
            layer: int(
                c.execute(sa.text(f"SELECT count(*) FROM city.{layer}_current")).scalar_one()
            )
            for layer in LAYERS
        }
    engine.dispose()
    return out


# --- the solver alone ------------------------------------------------------------------------


def ortools_assignment(
    people: list[int], capacity: list[int], cost: dict[tuple[int, int], int]
) -> dict[tuple[int, int], int]:
    """The network min_cost_assignment solves (same M), by OR-Tools' SimpleMinCostFlow."""
    min_cost_flow = importlib.import_module("ortools.graph.python.min_cost_flow")

    top = max(cost.values(), default=0)
    m = (min(len(people), len(capacity)) + 1) * top + 1
    n_o, n_s = len(people), len(capacity)
    unassigned, sink = n_o + n_s, n_o + n_s + 1
    total = sum(people)
    f = min_cost_flow.SimpleMinCostFlow()
    pairs = sorted(cost)
    arcs = [f.add_arc_with_capacity_and_unit_cost(i, n_o + j, total, cost[i, j]) for i, j in pairs]
    for i in range(n_o):
        f.add_arc_with_capacity_and_unit_cost(i, unassigned, total, m)
        f.set_node_supply(i, people[i])
    for j, c in enumerate(capacity):
        f.add_arc_with_capacity_and_unit_cost(n_o + j, sink, c, 0)
    f.add_arc_with_capacity_and_unit_cost(unassigned, sink, total, 0)
    f.set_node_supply(sink, -total)
    if f.solve() != f.OPTIMAL:
        raise SystemExit("OR-Tools found no optimal flow")
    return {p: f.flow(a) for p, a in zip(pairs, arcs, strict=True) if f.flow(a) > 0}


def linprog_assignment(
    people: list[int], capacity: list[int], cost: dict[tuple[int, int], int]
) -> dict[tuple[int, int], int]:
    """The same network as a transportation LP (HiGHS): its optimal vertices are integral."""
    import numpy as np
    from scipy.optimize import linprog  # type: ignore[import-untyped]
    from scipy.sparse import coo_array  # type: ignore[import-untyped]

    top = max(cost.values(), default=0)
    m = (min(len(people), len(capacity)) + 1) * top + 1
    pairs = sorted(cost)
    n_o, k = len(people), len(pairs)
    # Variables: one per pair, then each origin's unassigned people.
    c = np.array([cost[p] for p in pairs] + [m] * n_o, dtype=float)
    cols = np.arange(k)
    eq = coo_array(
        (
            np.ones(k + n_o),
            (np.r_[[i for i, _ in pairs], np.arange(n_o)], np.r_[cols, k + np.arange(n_o)]),
        ),
        shape=(n_o, k + n_o),
    )
    ub = coo_array((np.ones(k), ([j for _, j in pairs], cols)), shape=(len(capacity), k + n_o))
    r = linprog(c, A_ub=ub, b_ub=capacity, A_eq=eq, b_eq=people, method="highs-ds")
    if r.status != 0:
        raise SystemExit(f"linprog: {r.message}")
    return {p: round(x) for p, x in zip(pairs, r.x[:k], strict=True) if round(x) > 0}


def peer() -> tuple[str, Callable[[list[int], list[int], dict], dict]]:
    """OR-Tools when it can be imported, else scipy's linprog."""
    if importlib.util.find_spec("ortools") is None:
        return "scipy linprog (HiGHS dual simplex)", linprog_assignment
    return "OR-Tools SimpleMinCostFlow", ortools_assignment


def scaled(capacity: list[int], total: int) -> list[int]:
    """Capacities in the same proportions adding up to `total` (largest remainder)."""
    exact = [c * total / sum(capacity) for c in capacity]
    out = [math.floor(x) for x in exact]
    for j in sorted(range(len(out)), key=lambda j: out[j] - exact[j])[: total - sum(out)]:
        out[j] += 1
    return out


async def road_matrix(url: str) -> tuple[list[int], list[int], dict[tuple[int, int], int]]:
    """The request's own problem: its origins pooled per node, its shelters, its costs."""
    from layers import Catalog
    from layers.access import SYSTEM
    from spatial_api.analysis import shelter_assignment as sa_ops
    from spatial_api.analysis.impact_models import ShelterAssignmentRequest

    seen: dict[str, Any] = {}

    def keep(people: list[int], capacity: list[int], cost: dict) -> dict:
        seen.update(people=people, capacity=capacity, cost=cost)
        return {}

    req = ShelterAssignmentRequest.model_validate({"zone": zone(), "search_m": SEARCH_M})
    engine = make_async_engine(url, pool_size=1)
    solve, sa_ops.min_cost_assignment = sa_ops.min_cost_assignment, keep
    try:
        async with engine.connect() as conn:
            await sa_ops.assign_shelters(conn, Catalog(), SYSTEM, req)
    finally:
        sa_ops.min_cost_assignment = solve
        await engine.dispose()
    return seen["people"], seen["capacity"], seen["cost"]


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], list[float], Any]:
    """Wall and CPU seconds of `repeat` calls, and the last answer."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return walls, cpus, out


def score(flows: dict[tuple[int, int], int], cost: dict[tuple[int, int], int]) -> tuple[int, int]:
    """(people housed, person-deciseconds driven)."""
    return sum(flows.values()), sum(n * cost[k] for k, n in flows.items())


def run_solver(url: str, repeat: int) -> dict[str, Any]:
    from spatial_api.analysis.shelter_assignment import min_cost_assignment

    people, capacity, cost = asyncio.run(road_matrix(url))
    demand = sum(people)
    cases = {
        f"demo capacities ({sum(capacity) / demand:.1f}× demand)": capacity,
        "scaled to 120 % of demand": scaled(capacity, round(1.2 * demand)),
        "scaled to 80 % of demand": scaled(capacity, round(0.8 * demand)),
    }
    rows = []
    name_of_peer, solve = peer()
    for name, cap in cases.items():
        ours = timed(partial(min_cost_assignment, people, cap, cost), repeat)
        theirs = timed(partial(solve, people, cap, cost), repeat)
        a, b = score(ours[2], cost), score(theirs[2], cost)
        rows.append({"case": name, "capacity": sum(cap), "ours": ours, "peer": theirs, "score": a})
        print(
            f"solver, {name}: ours {ms(statistics.median(ours[0]))} (CPU "
            f"{ms(statistics.median(ours[1]))}), {name_of_peer} "
            f"{ms(statistics.median(theirs[0]))}; "
            f"housed {a[0]:,} of {demand:,}, {a[1]:,} person-ds; "
            f"{'same optimum' if a == b else f'DIFFERENT: the peer {b}'}",
            flush=True,
        )
        rows[-1]["same"] = a == b
    return {
        "origins": len(people),
        "shelters": len(capacity),
        "pairs": len(cost),
        "demand": demand,
        "peer": name_of_peer,
        "rows": rows,
    }


# --- the request -----------------------------------------------------------------------------

REQUEST_CASES = {  # the shelters' capacities: as loaded, or scaled to a share of the people
    "the demo's": None,
    "scaled to 80 % of the people": 0.8,
}
PHASES = {  # shelter_assignment's names → what they do
    "_origins": "the zone's cells and their people",
    "_shelters": "the candidate shelters",
    "build_graph": "the road graph (build_graph)",
    "snap_all": "snapping origins and shelters to roads",
    "travel_times": "road times, one pgr_dijkstraCost",
    "min_cost_assignment": "the min-cost flow",
    "_features": "the answer's features",
}


def instrument() -> dict[str, list[float]]:
    """Wrap shelter_assignment's phases with timers; their wall seconds per call."""
    from spatial_api.analysis import shelter_assignment as sa_ops

    spent: dict[str, list[float]] = {k: [] for k in PHASES}
    for name in PHASES:
        fn = getattr(sa_ops, name)

        def wrap(fn: Any = fn, name: str = name) -> Any:
            if asyncio.iscoroutinefunction(fn):

                async def a(*args: Any, **kw: Any) -> Any:
                    started = time.perf_counter()
                    try:
                        return await fn(*args, **kw)
                    finally:
                        spent[name].append(time.perf_counter() - started)

                return a

            def s(*args: Any, **kw: Any) -> Any:
                started = time.perf_counter()
                try:
                    return fn(*args, **kw)
                finally:
                    spent[name].append(time.perf_counter() - started)

            return s

        setattr(sa_ops, name, wrap())
    return spent


CAPACITY = "SELECT asset_id, capacity FROM city.shelters_current ORDER BY asset_id"
SET_CAPACITY = (
    "UPDATE city.shelters s SET capacity = c.n FROM unnest(CAST(:ids AS text[]), "
    "CAST(:ns AS int[])) AS c(id, n) WHERE s.asset_id = c.id AND s.valid @> now()"
)


@contextmanager
def capacities(url: str, total: int | None) -> Iterator[None]:
    """The shelters' capacities scaled to add up to `total` (None: as loaded), then back."""
    engine = make_engine(url)
    with engine.connect() as c:
        ids, loaded = zip(*c.execute(sa.text(CAPACITY)).all(), strict=True)
    try:
        if total is not None:
            with engine.begin() as c:
                c.execute(
                    sa.text(SET_CAPACITY), {"ids": list(ids), "ns": scaled(list(loaded), total)}
                )
        yield
    finally:
        with engine.begin() as c:
            c.execute(sa.text(SET_CAPACITY), {"ids": list(ids), "ns": list(loaded)})
        engine.dispose()


def run_request(url: str, repeat: int, spent: dict[str, list[float]]) -> dict[str, Any]:
    """One cold request, then `repeat`: wall, CPU, the answer's summary and the phases."""
    from fastapi.testclient import TestClient

    from spatial_api import create_app

    body = {"zone": zone(), "search_m": SEARCH_M}
    walls, cpus, dbs = [], [], []
    backends = BackendCpu(url)
    with TestClient(create_app(url, ServerSettings(restricted_tokens=TOKEN), pool_size=2)) as c:
        answer: dict[str, Any] = {}
        for k in range(repeat + 1):
            before = backends()
            started, cpu = time.perf_counter(), time.process_time()
            r = c.post("/analysis/shelter-assignment", json=body, headers=AUTH)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            if r.status_code != 200:
                raise SystemExit(f"shelter-assignment: {r.status_code} {r.text[:300]}")
            db = BackendCpu.used(before, backends())
            answer = r.json()
            if k == 0:
                cold = wall
                for v in spent.values():
                    v.clear()
                continue
            walls.append(wall)
            cpus.append(cpu)
            dbs.append(db)
    feats = [f["properties"] for f in answer["features"]]
    summary = feats[0]
    origins = [p for p in feats if p["role"] == "origin"]
    out = {
        "cold": cold,
        "walls": walls,
        "cpu": statistics.median(cpus),
        "db_cpu": statistics.median(dbs),
        "summary": summary,
        "cells": len(origins),
        "assignments": sum(p["role"] == "assignment" for p in feats),
        "phases": {k: statistics.median(v) for k, v in spent.items() if v},
    }
    print(
        f"request: cold {ms(cold)}, median {ms(statistics.median(walls))}, max "
        f"{ms(max(walls))}; CPU Python {ms(out['cpu'])} + PostgreSQL {ms(out['db_cpu'])}; "
        f"{summary['people']:,} people in {len(origins)} cells, {summary['assigned']:,} "
        f"assigned to {summary['shelters_used']} of {summary['shelters_usable']} shelters "
        f"(capacity {summary['capacity_usable']:,})",
        flush=True,
    )
    for k, v in out["phases"].items():
        print(f"  {PHASES[k]}: {ms(v)}", flush=True)
    return out


# --- the record ------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def record(
    args: argparse.Namespace,
    solver: dict[str, Any],
    reqs: dict[str, dict[str, Any]],
    have: dict[str, int],
) -> None:
    first = next(iter(reqs.values()))
    worst = max(statistics.median(r["walls"]) for r in reqs.values())
    slowest = max(max(r["walls"]) for r in reqs.values())
    cpu = max(r["cpu"] + r["db_cpu"] for r in reqs.values())
    lines = [
        "## Shelter assignment (issue 13: ≤ 2 s for 100,000 people in 200 cells and 60 shelters)",
        "",
        provenance(
            f"python -m benchmarks.bench_shelters --repeat {args.repeat} --write",
            args.repeat,
            "server (in-process TestClient)",
        ).replace(" interleaved", "")
        + f". Load average {LOAD[0]:.1f} / {LOAD[1]:.1f} / {LOAD[2]:.1f} (1, 5, 15 min) at "
        f"the start, {os.getloadavg()[0]:.1f} (1 min) at the end: where wall time is well "
        "above CPU time, the request waited for the cores. *CPU* is this process's CPU "
        "time (median) and, for the request, "
        f"PostgreSQL's backends' (/proc, median). {SHARED_MACHINE}",
        "",
        f"**Data.** The demo city at scale {SCALE:g} (seed {SEED}): {have['roads']:,} roads, "
        f"{have['shelters']} shelters (the demo's 2 closed ones opened for the run, so all "
        f"60 are usable), {have['population']:,} synthetic population cells of 250 m. The "
        f"zone: a geodesic circle of {RADIUS_M:,.0f} m about {CENTRE[0]}, {CENTRE[1]}, no "
        f"shelter inside; search_m {SEARCH_M:,.0f} (every shelter a candidate). It holds "
        f"{first['summary']['people']:,} people in {first['cells']} cells: the 200 cells "
        "whose centres are nearest, and those on the edge with their share.",
        "",
        f"**The solver alone** ({solver['origins']} origins, pooled per road node as the "
        f"request pools them, × {solver['shelters']} shelters, {solver['pairs']:,} pairs; "
        "costs the request's own pgRouting road times in whole deciseconds; median of "
        f"{args.repeat}):",
        "",
        f"| capacities | sum | ours: networkx network_simplex | CPU | {solver['peer']} "
        "| CPU | housed | person-seconds | same optimum |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {r['case']} | {r['capacity']:,} | {ms(statistics.median(r['ours'][0]))} | "
            f"{ms(statistics.median(r['ours'][1]))} | {ms(statistics.median(r['peer'][0]))} | "
            f"{ms(statistics.median(r['peer'][1]))} | {r['score'][0]:,} | "
            f"{r['score'][1] / 10:,.0f} | {'yes' if r['same'] else '**no**'} |"
            for r in solver["rows"]
        ),
        "",
        f"**The request**, end to end: one cold request, then {args.repeat}.",
        "",
        "| shelters' capacities | sum | assigned | shelters used | mean / longest drive | "
        "cold | median | max | CPU: Python + PostgreSQL |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {name} | {r['summary']['capacity_usable']:,} | {r['summary']['assigned']:,} "
            f"of {r['summary']['people']:,} | {r['summary']['shelters_used']} of "
            f"{r['summary']['shelters_usable']} | {r['summary']['mean_time_s']:,.0f} s / "
            f"{r['summary']['max_time_s']:,.0f} s | {ms(r['cold'])} | "
            f"**{ms(statistics.median(r['walls']))}** | {ms(max(r['walls']))} | "
            f"{ms(r['cpu'])} + {ms(r['db_cpu'])} |"
            for name, r in reqs.items()
        ),
        "",
        "Where the time goes (median per phase, timed by wrapping the module's calls):",
        "",
        "| phase | " + " | ".join(reqs) + " |",
        "|---|" + "---|" * len(reqs),
        *(
            f"| {what} | "
            + " | ".join(ms(r["phases"].get(k, math.nan)) for r in reqs.values())
            + " |"
            for k, what in PHASES.items()
        ),
        "| the rest: validation, zone extent, the answer's record and JSON (median less the "
        "phases) | "
        + " | ".join(
            ms(statistics.median(r["walls"]) - sum(r["phases"].values())) for r in reqs.values()
        )
        + " |",
        "",
        f"Target ≤ 2 s: {'**met**' if worst <= TARGET_S else '**not met**'} on the median "
        f"(the slower case's {ms(worst)}); the slowest single request took {ms(slowest)}, "
        f"and a request costs at most {ms(cpu)} of CPU (Python and PostgreSQL, medians) "
        "whatever the load.",
    ]
    write_section("shelters", "\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5, help="timed runs of each")
    ap.add_argument("--base-url", default=None, help="a server to create the database on")
    ap.add_argument("--write", action="store_true", help="record results in BENCHMARKS.md")
    args = ap.parse_args()
    LOAD[:] = os.getloadavg()
    print(f"load average {LOAD[0]:.2f} {LOAD[1]:.2f} {LOAD[2]:.2f}", flush=True)
    url = scratch(args.base_url or database_url(DatabaseSettings()), DB)
    build(url)
    solver = run_solver(url, args.repeat)
    spent = instrument()
    reqs = {}
    for name, share in REQUEST_CASES.items():
        with capacities(url, None if share is None else round(share * solver["demand"])):
            reqs[name] = run_request(url, args.repeat, spent)
    if args.write:
        record(args, solver, reqs, counts(url))


if __name__ == "__main__":
    main()
