"""The time per pipe break (issue 12: ≤ 200 ms on ~1k pipes, ≤ 500 ms on the demo at
--scale 18), beside WNTR's whole-network `valve_segments` on the same network.

    .venv/bin/python -m benchmarks.bench_isolation [--breaks 50] [--scale 18]
        [--demo-breaks 30] [--passes 2] [--wntr-runs 5] [--skip-demo] [--base-url URL]
        [--write]

- ky4 (WNTR's library, 1,156 pipes, pumps drawn as points) is loaded by our EPANET loader
  exactly as tests/spatial_api/analysis/test_isolation_wntr.py loads it: its local plane,
  WNTR's random valve layer of 200 valves (seed 123) less the valves on pumps drawn as
  points, every valve 0.5 m from its node. `--breaks` pipes (fixed seed) are broken by id
  through POST /analysis/isolate; WNTR's `valve_segments(G, layer)` segments the whole
  network once, on the same graph and layer. Each answer must shut exactly the break's
  WNTR segment and close exactly the valves bounding it (the check is reported).
- The demo city at `--scale` (its pipe nodes and pipelines, seed 20261123, as
  bench_tiles generates them): `--demo-breaks` random current water pipes (fixed seed),
  broken by id and by their midpoint with utility water, the default max_radius_m.

Requests go through the in-process TestClient with a crew token (as bench_dig), so
validation and encoding count and the network does not: one cold request first, then
`--passes` passes over the breaks; median, p95 and max are over every timed request.
Scratch databases are kept between runs (one for ky4, one per demo scale).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_tiles import _ensure_database  # noqa: E402
from benchmarks.record import SHARED_MACHINE, provenance, write_section  # noqa: E402
from citygis.cluster import database_url  # noqa: E402
from citygis.db import make_engine  # noqa: E402
from citygis.settings import DatabaseSettings, ServerSettings  # noqa: E402

DB_KY4 = "citygis_bench_isolation_ky4"
DB_DEMO = "citygis_bench_isolation_s{scale}"
SEED = 20261123
VALVE_SEED = 123
TOKEN = "bench-isolation"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# The test's local plane for ky4 (near Qingdao, US feet).
KY4_CRS = (
    "+proj=tmerc +lat_0=36.4 +lon_0=120.8 +x_0=-1514200 +y_0=-1189600 +ellps=GRS80 +units=us-ft"
)
DEMO_LAYERS = ("pipe_nodes", "pipelines")
LOAD: list[float] = []  # the machine's load average when the run began
WATER_PIPES = """
SELECT asset_id,
       ST_X(ST_LineInterpolatePoint(ST_GeometryN(ST_Multi(ST_Force2D(geom)), 1), 0.5)) AS lon,
       ST_Y(ST_LineInterpolatePoint(ST_GeometryN(ST_Multi(ST_Force2D(geom)), 1), 0.5)) AS lat
FROM city.pipelines_current
WHERE utility = 'water' AND from_node IS NOT NULL AND to_node IS NOT NULL
ORDER BY asset_id
"""


@dataclass(frozen=True)
class Timing:
    """Wall times of requests, and the CPU they took: this process's (client and server
    threads) per request, PostgreSQL's backends' per request on average."""

    cold: float
    runs: list[float]
    cpu: list[float]
    db_cpu: float

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def p95(self) -> float:
        return float(np.percentile(self.runs, 95))

    @property
    def max(self) -> float:
        return max(self.runs)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    def line(self, name: str) -> str:
        return (
            f"{name}: cold {self.cold * 1000:.0f} ms, median {self.median * 1000:.0f} ms, "
            f"p95 {self.p95 * 1000:.0f} ms, max {self.max * 1000:.0f} ms; CPU a break: "
            f"Python {self.cpu_median * 1000:.0f} ms, PostgreSQL {self.db_cpu * 1000:.0f} ms"
        )


class BackendCpu:
    """CPU seconds used so far by PostgreSQL's backends on one database (Linux /proc, the
    server on this machine): on a busy shared machine, work told apart from waiting."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        self.tick = os.sysconf("SC_CLK_TCK")

    def __call__(self) -> dict[int, float]:
        with self.engine.connect() as c:
            pids = c.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                )
            ).scalars()
            return {pid: self._cpu(pid) for pid in pids}

    def _cpu(self, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # not on this machine, or gone
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self.tick

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def scratch(base: str, db: str) -> str:
    url = sa.engine.make_url(base).set(database=db).render_as_string(hide_password=False)
    _ensure_database(base, url, db)
    return url


def empty(url: str) -> bool:
    engine = make_engine(url)
    with engine.connect() as c:
        n = c.execute(sa.text("SELECT count(*) FROM city.pipelines")).scalar_one()
    engine.dispose()
    return n == 0


def analyze(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as c:
        for layer in DEMO_LAYERS:
            c.execute(sa.text(f"ANALYZE city.{layer}"))
    engine.dispose()


def post(client: Any, body: dict[str, Any]) -> tuple[float, float, dict, list[dict]]:
    """Wall and process CPU seconds of one isolate request, and its answer."""
    started, cpu = time.perf_counter(), time.process_time()
    r = client.post("/analysis/isolate", json=body, headers=AUTH)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    if r.status_code != 200:
        raise SystemExit(f"isolate {body}: {r.status_code} {r.text[:300]}")
    summary, *rest = r.json()["features"]
    return took, cpu, summary["properties"], [f["properties"] for f in rest]


def timing(
    client: Any, bodies: list[dict[str, Any]], passes: int, backends: BackendCpu
) -> tuple[Timing, list]:
    """One cold request (the first body), then `passes` passes; the answers of the last."""
    cold, *_ = post(client, bodies[0])
    runs: list[float] = []
    cpu: list[float] = []
    answers: list = []
    before = backends()
    for _ in range(passes):
        answers = []
        for body in bodies:
            took, used, summary, rest = post(client, body)
            runs.append(took)
            cpu.append(used)
            answers.append((summary, rest))
    db_cpu = BackendCpu.used(before, backends()) / len(runs)
    return Timing(cold, runs, cpu, db_cpu), answers


# --- ky4 and WNTR ----------------------------------------------------------------------------


def ky4_layer(wn: Any) -> pd.DataFrame:
    """WNTR's random 200-valve layer less valves on pumps drawn as points, as the test has."""
    import wntr

    from loaders.epanet import joined_nodes

    layer = wntr.network.generate_valve_layer(wn, "random", 200, seed=VALVE_SEED)
    joined = joined_nodes(wn)

    def drawn(k: str) -> bool:
        link = wn.get_link(k)
        at_one_spot = link.start_node_name in joined or link.end_node_name in joined
        return link.link_type == "Pipe" or not at_one_spot

    return layer[[drawn(k) for k in layer.link]].reset_index(drop=True)


def build_ky4(url: str, path: Path, layer: pd.DataFrame) -> gpd.GeoDataFrame:
    """ky4's pipelines; loaded with the valve points once, as the test loads them."""
    from loaders import load_frames
    from loaders.epanet import read_epanet
    from loaders.valve_layer import valve_points

    frames = read_epanet(path, KY4_CRS)
    if empty(url):
        valves, refused = valve_points(layer, frames["pipelines"], 0.5)
        if not refused.empty:
            raise SystemExit(f"valve rows refused: {refused.to_dict('records')[:5]}")
        nodes = pd.concat([frames["pipe_nodes"], valves], ignore_index=True)
        frames["pipe_nodes"] = gpd.GeoDataFrame(nodes, crs=frames["pipelines"].crs)
        load_frames(url, frames, source="bench-isolation:ky4")
        analyze(url)
    return frames["pipelines"]


def wntr_segments(G: Any, layer: pd.DataFrame, runs: int) -> tuple[list[float], dict, dict]:
    """`valve_segments` on the whole network, `runs` times: times, node and link segments."""
    import wntr

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        nodes, links, _ = wntr.metrics.valve_segments(G, layer.copy())
        times.append(time.perf_counter() - started)
    return times, dict(nodes), dict(links)


def bounding(members: set[str], nodes: set[str], layer: pd.DataFrame) -> list[str]:
    """WNTR's rule: a valve on link l at node n bounds S when exactly one of l, n is in S."""
    return sorted(f"V{i}" for i, r in layer.iterrows() if (r.link in members) != (r.node in nodes))


def run_ky4(args: argparse.Namespace, base: str) -> dict[str, Any]:
    import wntr
    from fastapi.testclient import TestClient

    from spatial_api import create_app

    path = Path(wntr.__file__).parent / "library" / "networks" / "ky4.inp"
    wn = wntr.network.WaterNetworkModel(str(path))
    layer = ky4_layer(wn)
    url = scratch(base, DB_KY4)
    lines = build_ky4(url, path, layer)
    pipes = sorted(lines.asset_id)
    rng = np.random.default_rng(SEED)
    breaks = [
        pipes[i] for i in rng.choice(len(pipes), size=min(args.breaks, len(pipes)), replace=False)
    ]
    started = time.perf_counter()
    G = wn.to_graph()
    graph_s = time.perf_counter() - started
    w_times, node_seg, link_seg = wntr_segments(G, layer, args.wntr_runs)
    print(
        f"ky4: {len(pipes):,} drawn pipes, {wn.num_links:,} links, {len(layer)} valves; "
        f"WNTR valve_segments median {statistics.median(w_times) * 1000:.0f} ms "
        f"(to_graph {graph_s * 1000:.0f} ms), {len(set(link_seg.values()))} segments with a link",
        flush=True,
    )
    bodies = [{"pipe": p, "max_radius_m": 20_000} for p in breaks]
    with TestClient(create_app(url, ServerSettings(restricted_tokens=TOKEN), pool_size=2)) as c:
        ours, answers = timing(c, bodies, args.passes, BackendCpu(url))
    print(ours.line("ky4 isolate by pipe id"), flush=True)
    same = 0
    drawn = set(pipes)
    for brk, (summary, rest) in zip(breaks, answers, strict=True):
        s = link_seg[brk]
        links = {k for k, v in link_seg.items() if v == s}
        nodes = {k for k, v in node_seg.items() if v == s}
        got = {p["asset_id"] for p in rest if p["role"] == "isolated_pipe"}
        if got == links & drawn and summary["close"] == bounding(links, nodes, layer):
            same += 1
        else:
            print(f"  {brk}: ours {sorted(got)} {summary['close']}, WNTR {sorted(links)}")
    print(f"  {same}/{len(breaks)} answers equal WNTR's segment and bounding valves", flush=True)
    return {
        "pipes": len(pipes),
        "links": wn.num_links,
        "valves": len(layer),
        "breaks": len(breaks),
        "ours": ours,
        "wntr": w_times,
        "graph_s": graph_s,
        "segments": len(set(link_seg.values()) | set(node_seg.values())),
        "same": same,
        "shut": statistics.median(s["isolated_pipes"] for s, _ in answers),
    }


# --- the demo city ---------------------------------------------------------------------------


def build_demo(url: str, scale: float) -> dict[str, float]:
    """The demo's pipe nodes and pipelines at `scale`, generated and loaded once."""
    from loaders import load_frames
    from loaders.demo_city import generate

    took: dict[str, float] = {}
    if empty(url):
        print(f"generating the demo city at scale {scale:g} …", flush=True)
        started = time.perf_counter()
        layers = generate(SEED, scale)
        took["generate_s"] = time.perf_counter() - started
        frames = {k: layers[k] for k in DEMO_LAYERS}
        print(
            f"  {len(frames['pipelines']):,} pipes, {len(frames['pipe_nodes']):,} nodes in "
            f"{took['generate_s']:.0f} s; loading …",
            flush=True,
        )
        started = time.perf_counter()
        load_frames(url, frames, source=f"synthetic bench seed={SEED} scale={scale:g}")
        analyze(url)
        took["load_s"] = time.perf_counter() - started
        print(f"  loaded in {took['load_s']:.0f} s", flush=True)
    return took


def demo_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as c:
        counts = {
            "pipes": c.execute(sa.text("SELECT count(*) FROM city.pipelines_current")),
            "water": c.execute(
                sa.text("SELECT count(*) FROM city.pipelines_current WHERE utility = 'water'")
            ),
            "valves": c.execute(
                sa.text(
                    "SELECT count(*) FROM city.pipe_nodes_current"
                    " WHERE utility = 'water' AND node_kind = 'valve'"
                )
            ),
        }
        out = {k: int(v.scalar_one()) for k, v in counts.items()}
    engine.dispose()
    return out


def demo_breaks(url: str, n: int) -> list[Any]:
    engine = make_engine(url)
    with engine.connect() as c:
        rows = c.execute(sa.text(WATER_PIPES)).all()
    engine.dispose()
    rng = np.random.default_rng(SEED)
    return [rows[i] for i in rng.choice(len(rows), size=n, replace=False)]


def run_demo(args: argparse.Namespace, base: str) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from spatial_api import create_app

    url = scratch(base, DB_DEMO.format(scale=f"{args.scale:g}".replace(".", "_")))
    took = build_demo(url, args.scale)
    counts = demo_counts(url)
    breaks = demo_breaks(url, args.demo_breaks)
    print(
        f"demo at scale {args.scale:g}: {counts['pipes']:,} current pipes, "
        f"{counts['water']:,} water, {counts['valves']:,} water valves",
        flush=True,
    )
    by_id = [{"pipe": b.asset_id} for b in breaks]
    by_point = [{"point": [b.lon, b.lat], "utility": "water"} for b in breaks]
    with TestClient(create_app(url, ServerSettings(restricted_tokens=TOKEN), pool_size=2)) as c:
        backends = BackendCpu(url)
        pipe_t, pipe_answers = timing(c, by_id, args.passes, backends)
        print(pipe_t.line("demo isolate by pipe id"), flush=True)
        point_t, point_answers = timing(c, by_point, args.passes, backends)
        print(point_t.line("demo isolate by point + utility"), flush=True)
    snapped = sum(
        s["broken_pipe"] == b.asset_id for b, (s, _) in zip(breaks, point_answers, strict=True)
    )
    same = sum(
        (a["close"], a["isolated_pipes"]) == (b["close"], b["isolated_pipes"])
        for (a, _), (b, _) in zip(pipe_answers, point_answers, strict=True)
    )
    summaries = [s for s, _ in pipe_answers]
    print(
        f"  points snapped to their pipe {snapped}/{len(breaks)}; complete "
        f"{sum(s['complete'] for s in summaries)}/{len(breaks)}",
        flush=True,
    )
    return {
        **took,
        **counts,
        "breaks": len(breaks),
        "by_id": pipe_t,
        "by_point": point_t,
        "snapped": snapped,
        "same_as_point": same,
        "complete": sum(s["complete"] for s in summaries),
        "shut": statistics.median(s["isolated_pipes"] for s in summaries),
        "close": statistics.median(s["valves_to_close"] for s in summaries),
        "cut_off": sum(s["cut_off_zones"] > 0 for s in summaries),
    }


# --- the record ------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def cpu(t: Timing) -> str:
    return f"{ms(t.cpu_median)} + {ms(t.db_cpu)}"


def verdict(median: float, target: float) -> str:
    return f"**met** ({ms(median)} ≤ {ms(target)})" if median <= target else "**not met**"


def record(args: argparse.Namespace, ky4: dict[str, Any], demo: dict[str, Any] | None) -> None:
    command = (
        f"python -m benchmarks.bench_isolation --breaks {args.breaks} --scale {args.scale:g} "
        f"--demo-breaks {args.demo_breaks} --passes {args.passes} --wntr-runs "
        f"{args.wntr_runs}{' --skip-demo' if demo is None else ''} --write"
    )
    ours: Timing = ky4["ours"]
    wntr_med = statistics.median(ky4["wntr"])
    lines = [
        "## Isolating a pipe break (issue 12: ≤ 200 ms on ~1k pipes, ≤ 500 ms on the demo "
        "at scale 18)",
        "",
        provenance(command, args.passes, "server (in-process TestClient)")
        + f" over every break; one cold request first. POST /analysis/isolate with a crew "
        "token. WNTR's `valve_segments(G, layer)` (median of "
        f"{args.wntr_runs} runs) segments the whole network on the graph `wn.to_graph()` "
        f"gives ({ms(ky4['graph_s'])} to build, not counted). *CPU* is what a break "
        "costs however busy the machine: this process's CPU time (client and server "
        "threads, median) and PostgreSQL's backends' (/proc, mean). Load average "
        f"{LOAD[0]:.1f} at the start. {SHARED_MACHINE}",
        "",
        f"**ky4** (WNTR's library: {ky4['links']:,} links, {ky4['pipes']:,} drawn pipes; "
        "pumps drawn as points are joined away, as tests/spatial_api/analysis/"
        f"test_isolation_wntr.py loads it): WNTR's random valve layer, seed {VALVE_SEED}, "
        f"{ky4['valves']} valves (200 less those on pumps drawn as points), each 0.5 m from "
        f"its node; {ky4['segments']} WNTR segments. {ky4['breaks']} pipes broken by id "
        f"(seed {SEED}), max_radius_m 20,000 (the whole network).",
        "",
        "| path | cold | median | p95 | max | CPU: Python + PostgreSQL | "
        "÷ WNTR whole network (median) |",
        "|---|---|---|---|---|---|---|",
        f"| ours: one break (read, segment, isolate, cut-off, answer) | {ms(ours.cold)} | "
        f"{ms(ours.median)} | {ms(ours.p95)} | {ms(ours.max)} | {cpu(ours)} | "
        f"{ours.median / wntr_med:.2g} |",
        f"| WNTR `valve_segments`, whole network | – | {ms(wntr_med)} | – | "
        f"{ms(max(ky4['wntr']))} | – | 1 |",
        "",
        f"Check: {ky4['same']}/{ky4['breaks']} answers shut exactly the break's WNTR segment "
        "(its drawn pipes) and close exactly the valves WNTR's rule says bound it. "
        f"Target ≤ 200 ms a break: {verdict(ours.median, 0.2)}.",
    ]
    if demo is not None:
        load = (
            f" Generated in {demo['generate_s']:.0f} s and loaded in {demo['load_s']:.0f} s "
            "this run."
            if "load_s" in demo
            else ""
        )
        lines += [
            "",
            f"**The demo city at scale {args.scale:g}** (seed {SEED}, pipe nodes and "
            f"pipelines only): {demo['pipes']:,} current pipes, {demo['water']:,} of them "
            f"water, {demo['valves']:,} water valves.{load} {demo['breaks']} random current "
            f"water pipes (seed {SEED}), the default max_radius_m (3,000 m); a median break "
            f"shuts {demo['shut']:g} pipes behind {demo['close']:g} valves; "
            f"{demo['complete']}/{demo['breaks']} answers complete within the radius, "
            f"{demo['cut_off']} with a cut-off zone.",
            "",
            "| break given by | cold | median | p95 | max | CPU: Python + PostgreSQL |",
            "|---|---|---|---|---|---|",
            *(
                f"| {name} | {ms(t.cold)} | {ms(t.median)} | {ms(t.p95)} | {ms(t.max)} | {cpu(t)} |"
                for name, t in (
                    ("pipe id", demo["by_id"]),
                    ("point (the pipe's midpoint) + utility", demo["by_point"]),
                )
            ),
            "",
            f"Checks: every point snapped to its pipe {demo['snapped']}/{demo['breaks']}; the "
            f"same valves and pipe count as by id {demo['same_as_point']}/{demo['breaks']}. "
            f"Target ≤ 500 ms a break: by id {verdict(demo['by_id'].median, 0.5)}, by point "
            f"{verdict(demo['by_point'].median, 0.5)}.",
        ]
    write_section("isolation", "\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--breaks", type=int, default=50, help="ky4 pipes to break")
    ap.add_argument("--scale", type=float, default=18.0, help="the demo city's scale")
    ap.add_argument("--demo-breaks", type=int, default=30)
    ap.add_argument("--passes", type=int, default=2, help="timed passes over the breaks")
    ap.add_argument("--wntr-runs", type=int, default=5)
    ap.add_argument("--skip-demo", action="store_true", help="ky4 only")
    ap.add_argument("--base-url", default=None, help="a server to create the databases on")
    ap.add_argument("--write", action="store_true", help="record results in BENCHMARKS.md")
    args = ap.parse_args()
    LOAD[:] = os.getloadavg()
    base = args.base_url or database_url(DatabaseSettings())
    ky4 = run_ky4(args, base)
    demo = None if args.skip_demo else run_demo(args, base)
    if args.write:
        record(args, ky4, demo)


if __name__ == "__main__":
    main()
