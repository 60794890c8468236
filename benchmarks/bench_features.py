"""OGC API Features items and nearest-k, side by side: PostgreSQL alone, our server, tipg.

    .venv/bin/python -m benchmarks.bench_features [--windows 50] [--points 200] [--repeat 3]
        [--write]

Reuses bench_tiles' scratch database (the ~1M-row pipelines table is built there once and
kept), its uvicorn launchers and its bounded-loop HTTP client.

- items: `limit=1000` pages over the same bbox windows and offsets (every window holds at
  least offset + 1000 current pipes, so every page is full). Ours asks for the properties
  tipg's view carries (`properties=version_id,utility,diameter_mm,material`; asset_id is our
  feature id) and tipg for its default, all view columns, both ordered by version_id.
  floor: the exact page SQL our server sends (spatial_api/features/items.py), run directly.
- nearest-5 from the same random points in the data extent: ours `GET /lbs/nearest?k=5`
  (exact geodesic order); floors: our nearest SQL run directly (its first statement, the
  sphere-order walk of the geography index, spatial_api/analysis/lbs.py), and a bare KNN
  (`ORDER BY geom <-> point LIMIT 5`, planar degrees). tipg 1.6 has no nearest endpoint and
  its `sortby` accepts only column names (no distance expression), so it is not measured.

Each path is a bounded loop over its request list at 1 and 4 concurrent clients; passes are
interleaved over the repeats, and the median is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_tiles import (  # noqa: E402
    DB,
    TIPG_SCHEMA,
    TOKEN,
    fetch,
    ours,
    scratch_table,
    tipg,
)
from benchmarks.record import SHARED_MACHINE, provenance, write_section
from citygis.db import make_engine  # noqa: E402
from layers import Catalog  # noqa: E402
from spatial_api.features.crs import STORAGE_SRID as SRID  # noqa: E402

LIMIT = 1000
K = 5
PROPS = ("version_id", "utility", "diameter_mm", "material")
Window = tuple[float, float, float, float, int]  # minx, miny, maxx, maxy, offset


def pick_windows(url: str, count: int, seed: int) -> list[Window]:
    """bbox windows around sampled pipes (density-weighted), each with ≥ offset + LIMIT hits."""
    engine = make_engine(url)
    rng = np.random.default_rng(seed)
    with engine.connect() as c:
        pts = c.execute(
            sa.text(
                "SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom))"
                " FROM city.pipelines TABLESAMPLE BERNOULLI (0.2) REPEATABLE (11)"
            )
        ).all()
        order = rng.permutation(len(pts))
        windows: list[Window] = []
        for i in order:
            if len(windows) == count:
                break
            x, y = pts[i]
            half = float(rng.choice([0.01, 0.015, 0.02, 0.03]))
            box = (round(x - half, 6), round(y - half, 6), round(x + half, 6), round(y + half, 6))
            n = c.execute(
                sa.text(
                    "SELECT count(*) FROM (SELECT 1 FROM city.pipelines_current WHERE "
                    f"ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, {SRID})) LIMIT 20000) s"
                ),
                dict(zip("abcd", box, strict=True)),
            ).scalar_one()
            if n < LIMIT:
                continue
            offset = int(rng.integers(0, min(n // LIMIT, 10))) * LIMIT  # 0 … 9000
            windows.append((*box, offset))
    engine.dispose()
    return windows


def pick_points(url: str, count: int, seed: int) -> list[tuple[float, float]]:
    """Uniform random points in the extent of the data."""
    engine = make_engine(url)
    with engine.connect() as c:
        x0, y0, x1, y1 = c.execute(
            sa.text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT ST_Extent(geom) AS e FROM city.pipelines_current) s"
            )
        ).one()
    engine.dispose()
    rng = np.random.default_rng(seed)
    return [
        (round(float(x), 6), round(float(y), 6))
        for x, y in zip(rng.uniform(x0, x1, count), rng.uniform(y0, y1, count), strict=True)
    ]


class _Capture:
    """Stands in for an AsyncConnection: keeps the statement our code would send."""

    def __init__(self, row: tuple):
        self.row, self.sent = row, []

    async def execute(self, clause, params=None):
        self.sent.append((clause, dict(params or {})))
        row = self.row

        class Result:
            def one(self):
                return row

            def all(self):
                return []

        return Result()


def items_sql(windows: list[Window]) -> list[tuple]:
    """The statement spatial_api.features.items.page sends for each window."""
    from layers.source import LayerSource
    from spatial_api.features import items
    from spatial_api.features.crs import parse_crs
    from spatial_api.features.params import BBox, ItemsQuery

    spec = LayerSource(Catalog()["pipelines"])
    out = []
    for *box, offset in windows:
        q = ItemsQuery(
            limit=LIMIT,
            offset=offset,
            properties=PROPS,
            bbox=BBox.parse(",".join(map(str, box)), parse_crs(None, "bbox-crs")),
        )
        conn = _Capture(("", 0, 0))
        asyncio.run(items.page(conn, spec, q))
        out.append(conn.sent[0])
    return out


def nearest_sql(points: list[tuple[float, float]]) -> list[tuple]:
    """The statement spatial_api.analysis.lbs.nearest sends first for each point: the
    sphere walk (with no rows to read, the capture also records the planar fallback)."""
    from layers.access import SYSTEM
    from spatial_api.analysis import lbs
    from spatial_api.analysis.models import NearestQuery

    catalog, who = Catalog(), SYSTEM
    out = []
    for lon, lat in points:
        conn = _Capture(())
        asyncio.run(
            lbs.nearest(conn, catalog, who, NearestQuery(layer="pipelines", lon=lon, lat=lat, k=K))
        )
        out.append(conn.sent[0])
    return out


def knn_sql(points: list[tuple[float, float]]) -> list[tuple]:
    """The bare index KNN: planar `<->` order, GeoJSON out, nothing else."""
    stmt = sa.text(
        "SELECT asset_id, ST_AsGeoJSON(geom) FROM city.pipelines_current "
        f"ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:x, :y), {SRID}) LIMIT :k"
    )
    return [(stmt, {"x": x, "y": y, "k": K}) for x, y in points]


class SqlFloor:
    """Statements run straight on PostgreSQL over already open connections."""

    def __init__(self, url: str, statements: list[tuple], max_clients: int):
        self.engine = make_engine(url, pool_size=max_clients)
        self.statements = statements
        self.results = [None] * len(statements)
        self(max_clients)  # opens the connections, reads the data once

    def _one(self, chunk: list[int]) -> None:
        with self.engine.connect() as c:
            for i in chunk:
                clause, params = self.statements[i]
                self.results[i] = c.execute(clause, params).all()

    def __call__(self, clients: int) -> float:
        idx = range(len(self.statements))
        chunks = [list(idx[i::clients]) for i in range(clients)]
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(self._one, chunks))
        return time.perf_counter() - started


def check_page(r, name: str) -> list:
    """Valid GeoJSON FeatureCollection with LIMIT line features; their version_ids."""
    body = json.loads(r.content)
    assert body.get("type") == "FeatureCollection", f"{name}: not a FeatureCollection"
    feats = body["features"]
    assert len(feats) == LIMIT, f"{name}: {len(feats)} features at {r.url}"
    assert body.get("numberReturned", LIMIT) == LIMIT, f"{name}: numberReturned"
    for f in feats:
        g = f.get("geometry") or {}
        assert f.get("type") == "Feature", f"{name}: not a Feature"
        assert g.get("type") in ("LineString", "MultiLineString") and g.get("coordinates"), (
            f"{name}: bad geometry {str(g)[:80]}"
        )
    return [f["properties"]["version_id"] for f in feats]


def check_nearest(r) -> list:
    body = json.loads(r.content)
    assert body.get("type") == "FeatureCollection" and len(body["features"]) == K, (
        f"nearest: {len(body.get('features', []))} features at {r.url}"
    )
    for f in body["features"]:
        assert f.get("type") == "Feature" and (f.get("geometry") or {}).get("coordinates")
    return [f["id"] for f in body["features"]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=18, help="only if the table is missing")
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--windows", type=int, default=50)
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--tipg-python", default="/tmp/tipg-venv/bin/python")
    ap.add_argument("--db", default=DB, help="scratch database, shared with bench_tiles")
    ap.add_argument("--write", action="store_true", help="record results in BENCHMARKS.md")
    args = ap.parse_args()

    url, segments = scratch_table(args.db, args.scale, args.seed)
    windows = pick_windows(url, args.windows, args.seed)
    points = pick_points(url, args.points, args.seed)
    print(
        f"{segments:,} current pipe segments; {len(windows)} bbox windows "
        f"(offsets {sorted({w[4] for w in windows})}); {len(points)} points",
        flush=True,
    )

    servers = {"ours": ours(url, 0)}
    note = ""
    try:
        servers["tipg"] = tipg(url, args.tipg_python, 20_000)
    except (RuntimeError, OSError) as exc:
        note = f"tipg not measured: {exc}"
        print(note)
    try:
        results, checks = measure(url, servers, windows, points, args)
    finally:
        for server in servers.values():
            server.stop()
    table = report(results, len(windows), len(points), args)
    print(table)
    print(checks)
    if note:
        print(note)
    if args.write:
        record(table, checks, args, segments, len(windows), len(points), note)


def _urls(servers: dict, windows: list[Window], points: list[tuple[float, float]]) -> dict:
    out = {}
    for name, server in servers.items():
        coll = "pipelines" if name == "ours" else f"{TIPG_SCHEMA}.pipelines"
        extra = {"properties": ",".join(PROPS)} if name == "ours" else {"sortby": "version_id"}
        out[("items", name)] = [
            f"{server.base}/collections/{coll}/items?"
            + urlencode({"limit": LIMIT, "offset": o, "bbox": f"{a},{b},{c},{d}"} | extra)
            for a, b, c, d, o in windows
        ]
    out[("nearest", "ours")] = [
        f"{servers['ours'].base}/lbs/nearest?"
        + urlencode({"layer": "pipelines", "lon": x, "lat": y, "k": K})
        for x, y in points
    ]
    return out


def measure(url: str, servers: dict, windows: list[Window], points: list, args) -> tuple[dict, str]:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    clients = max(args.clients)
    floors = {
        ("items", "floor: our page SQL, no HTTP"): SqlFloor(url, items_sql(windows), clients),
        ("nearest", "floor: our nearest SQL, no HTTP"): SqlFloor(url, nearest_sql(points), clients),
        ("nearest", "floor: bare KNN SQL (<->), no HTTP"): SqlFloor(url, knn_sql(points), clients),
    }
    urls = _urls(servers, windows, points)

    # One checked pass per HTTP path (also warms each server's pool and caches).
    pages = {}
    for key, u in urls.items():
        _, responses = fetch(u, clients, auth)
        if key[0] == "items":
            pages[key[1]] = [check_page(r, key[1]) for r in responses]
        else:
            ours_ids = [check_nearest(r) for r in responses]
    lines = [
        f"- every items response of {', '.join(pages)}: HTTP 200, a GeoJSON "
        f"FeatureCollection of exactly {LIMIT} (Multi)LineString features."
    ]
    if "tipg" in pages:
        same = sum(a == b for a, b in zip(pages["ours"], pages["tipg"], strict=True))
        lines.append(
            f"- identical pages (same version_ids, same order), ours vs tipg: "
            f"{same}/{len(windows)}."
        )
    knn = floors[("nearest", "floor: bare KNN SQL (<->), no HTTP")].results
    exact = floors[("nearest", "floor: our nearest SQL, no HTTP")].results
    fallback = sum(not e[0].complete for e in exact)
    same_sql = sum(
        [r.props["asset_id"] for r in e if r.props is not None] == ids
        for e, ids in zip(exact, ours_ids, strict=True)
        if e[0].complete
    )
    same_knn = sum(
        {r.asset_id for r in k} == set(ids) for k, ids in zip(knn, ours_ids, strict=True)
    )
    lines.append(
        f"- nearest: every response has {K} features; same as our SQL run directly "
        f"{same_sql}/{len(points) - fallback}; the sphere walk proved itself complete for "
        f"{len(points) - fallback}/{len(points)} points (the rest took the planar path); "
        f"same set as the planar KNN {same_knn}/{len(points)}"
        " (planar degrees vs geodesic metres may rank differently)."
    )

    runs: dict[tuple[str, str], Callable[[int], float]] = dict(floors)
    for key, u in urls.items():
        runs[key] = lambda c, u=u: fetch(u, c, auth)[0]
    results: dict[tuple[str, str, int], list[float]] = {}
    for _ in range(args.repeat):  # interleaved so drift hits every path alike
        for c in args.clients:
            for (kind, name), run in runs.items():
                results.setdefault((kind, name, c), []).append(run(c))
    for f in floors.values():
        f.engine.dispose()
    lat = latencies(urls[("nearest", "ours")], auth, args.repeat)
    lines.append(
        f"- nearest through our API, one client, each of the {len(lat)} requests timed "
        f"({args.repeat} passes): p50 {np.percentile(lat, 50):.1f} ms, p90 "
        f"{np.percentile(lat, 90):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms, max "
        f"{max(lat):.1f} ms."
    )
    return results, "\n".join(lines)


def latencies(urls: list[str], headers: dict, passes: int) -> list[float]:
    """Milliseconds of each request, one at a time over a kept-alive connection."""
    out = []
    with httpx.Client(headers=headers, timeout=120) as client:
        for _ in range(passes):
            for u in urls:
                started = time.perf_counter()
                client.get(u).raise_for_status()
                out.append((time.perf_counter() - started) * 1000)
    return out


def report(results: dict, n_windows: int, n_points: int, args) -> str:
    cs = args.clients
    plural = [f"{c} client{'s' * (c > 1)}" for c in cs]
    out = []
    for kind, n, unit in (("items", n_windows, LIMIT), ("nearest", n_points, K)):
        rate = {
            (name, c): n / statistics.median(results[(k, name, c)])
            for k, name, c in results
            if k == kind
        }
        names = list(dict.fromkeys(name for name, _ in rate))
        floor = next(name for name in names if name.startswith("floor"))
        out += [
            f"**{kind}** ({n} requests of {unit} features each)",
            "",
            "| path | "
            + " | ".join(f"req/s, {p}" for p in plural)
            + " | "
            + " | ".join(f"features/s, {p}" for p in plural)
            + f" | ms/req, {plural[0]} | ÷ floor time ({plural[0]}) |",
            "|---|" + "---|" * (2 * len(cs) + 2),
        ]
        for name in names:
            rs = [rate[(name, c)] for c in cs]
            out.append(
                f"| {name} | "
                + " | ".join(f"{r:,.1f}" for r in rs)
                + " | "
                + " | ".join(f"{r * unit:,.0f}" for r in rs)
                + f" | {1000 / rs[0]:,.1f} | {rate[(floor, cs[0])] / rs[0]:.3g} |"
            )
        if ("ours" in names) and ("tipg" in names):
            out += [
                "",
                "ours ÷ tipg throughput: "
                + ", ".join(
                    f"{rate[('ours', c)] / rate[('tipg', c)]:.2f} ({p})"
                    for c, p in zip(cs, plural, strict=True)
                ),
            ]
        elif kind == "nearest":
            out += [
                "",
                "tipg: not measured — it has no nearest endpoint, and its `sortby` "
                "takes column names only (no distance ordering).",
            ]
        out.append("")
    return "\n".join(out).rstrip()


def record(
    table: str, checks: str, args, segments: int, n_windows: int, n_points: int, note: str
) -> None:
    body = (
        f"## Features: items pages and nearest-{K} over {segments:,} pipe "
        f"segments\n\n"
        + provenance(
            f"python -m benchmarks.bench_features --windows {args.windows} "
            f"--points {args.points} --repeat {args.repeat} --write",
            args.repeat,
        )
        + "; one uvicorn worker per server. *items*: "
        f"`limit={LIMIT}` pages over {n_windows} bbox windows at offsets 0–9000 (every page "
        "full); ours returns the four properties tipg's view has "
        f"(`properties={','.join(PROPS)}`), tipg (1.6, a view of the current pipelines) "
        "all its columns, both by version_id; both count numberMatched (ours up to "
        "100,000). The floor is the page statement our server sends, run directly. "
        f"*nearest*: {n_points} uniform random points in the data extent, "
        f"`/lbs/nearest?k={K}` (exact geodesic order: a KNN bound, then a geodesic "
        "re-rank); floors are that statement run directly and a bare planar KNN. "
        f"{SHARED_MACHINE}\n\n"
        f"{table}\n\nChecks:\n\n{checks}\n" + (f"\n{note}\n" if note else "")
    )
    write_section("features", body)


if __name__ == "__main__":
    main()
