"""The same z14 pipeline tiles four ways, side by side: PostGIS alone, our server, and tipg.

    .venv/bin/python -m benchmarks.bench_tiles [--scale 18] [--tiles 200] [--repeat 3] [--write]

- floor: our tile SQL (tiles/mvt.py) run straight on PostgreSQL, no HTTP: the least time
  a tile can take with this generalisation;
- ours, cold: the API with its tile cache off (CITYGIS_TILES_CACHE_MB=0), so every request
  checks the layer's change version and renders;
- ours, warm: the API after one pass over the same tiles, served from its cache;
- tipg (developmentseed/tipg, its own venv, `--tipg-python`): a view of the current
  pipelines with the same columns, same 4096/256 extent/buffer and feature limit.

Every server is a single uvicorn worker on 127.0.0.1. The HTTP paths are driven by wrk
(apt: wrk; `./dev bench-setup`), cycling over the tile list with keep-alive connections for
`--seconds`: a Python client spends ~1 ms of CPU a request, so near a cached tile server's
rate it measures itself. The tiles are first fetched once with httpx, which checks every
answer and warms the cache. The table is built once (synthetic.generate → load_frames) in a scratch
database and kept for later runs. Uses the embedded cluster (or CITYGIS_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import mapbox_vector_tile
import morecantile
import numpy as np
import psycopg
import sqlalchemy as sa
from psycopg import sql

from benchmarks.record import SHARED_MACHINE, provenance, write_section
from citygis.cluster import database_url
from citygis.db import make_engine, upgrade
from citygis.settings import DatabaseSettings, ServerSettings
from layers import Catalog
from layers.source import LayerSource
from loaders import load_frames
from loaders.demo_city import generate
from tiles.cache import configure
from tiles.grid import TileCoords
from tiles.listener import libpq_conninfo
from tiles.mvt import attributes_at, render

DB = "citygis_bench_tiles"
Z = 14
TOKEN = "bench-token"
TIPG_SCHEMA = "tipg_bench"
ROOT = Path(__file__).resolve().parent.parent
Tile = tuple[int, int, int]  # z, y, x


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_factory():
    """What uvicorn runs for our server (--factory), configured by the environment."""
    from spatial_api import create_app

    return create_app(os.environ["BENCH_DATABASE_URL"], ServerSettings(), pool_size=10)


def build(url: str, scale: float, seed: int) -> int:
    """The pipelines table (kept between runs), and a view tipg can see."""
    engine = make_engine(url)
    with engine.connect() as c:
        have = c.execute(sa.text("SELECT count(*) FROM city.pipelines")).scalar_one()
    if have == 0:
        print(f"generating pipelines at scale {scale} …", flush=True)
        started = time.perf_counter()
        frame = generate(seed, scale)["pipelines"]
        print(
            f"  {len(frame):,} segments generated in {time.perf_counter() - started:.0f}s; "
            "loading …",
            flush=True,
        )
        report = load_frames(url, {"pipelines": frame}, source=f"synthetic bench {seed}")
        print(f"  loaded in {report.seconds:.0f}s", flush=True)
        with engine.begin() as c:
            c.execute(sa.text("ANALYZE city.pipelines"))
    with engine.begin() as c:
        c.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {TIPG_SCHEMA}"))
        c.execute(
            sa.text(
                f"CREATE OR REPLACE VIEW {TIPG_SCHEMA}.pipelines AS SELECT version_id, asset_id,"
                " utility, diameter_mm, material, geom FROM city.pipelines_current"
            )
        )
        n = c.execute(sa.text("SELECT count(*) FROM city.pipelines_current")).scalar_one()
    engine.dispose()
    return n


def pick_tiles(url: str, count: int, seed: int) -> list[Tile]:
    """z14 tiles where the pipes are, chosen as a map user would: weighted by density."""
    engine = make_engine(url)
    with engine.connect() as c:
        pts = c.execute(
            sa.text(
                "SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom))"
                " FROM city.pipelines TABLESAMPLE BERNOULLI (2) REPEATABLE (7)"
            )
        ).all()
    engine.dispose()
    tms = morecantile.tms.get("WebMercatorQuad")
    tiles = [tms.tile(lon, lat, Z) for lon, lat in pts]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(tiles), size=min(count * 4, len(tiles)), replace=False)
    unique = list(dict.fromkeys((Z, tiles[i].y, tiles[i].x) for i in chosen))
    return unique[:count]


class Floor:
    """Our tile rendering (tiles.mvt.render: its SQL, binary results) over every tile,
    straight on PostgreSQL through open psycopg connections: no HTTP, no cache."""

    def __init__(self, url: str, tiles: list[Tile], max_clients: int):
        self.conninfo = libpq_conninfo(url)
        self.spec = Catalog()["pipelines"]
        self.coords = [TileCoords.parse("WebMercatorQuad", *map(str, t)) for t in tiles]
        self(max_clients)  # reads every tile once, so PostgreSQL's buffers hold the data

    async def _run(self, clients: int) -> float:
        conns = [
            await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
            for _ in range(clients)
        ]
        for conn in conns:
            await configure(conn)  # as the server's tile pool does

        async def one(conn: psycopg.AsyncConnection, chunk: list[TileCoords]) -> None:
            for coords in chunk:
                await render(conn, [LayerSource(self.spec)], coords, None, {})

        started = time.perf_counter()
        await asyncio.gather(*(one(c, self.coords[i::clients]) for i, c in enumerate(conns)))
        elapsed = time.perf_counter() - started
        for conn in conns:
            await conn.close()
        return elapsed

    def __call__(self, clients: int) -> float:
        return asyncio.run(self._run(clients))


async def _fetch_all(urls: list[str], clients: int, headers: dict) -> tuple[float, list]:
    sem = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(
        headers=headers, timeout=120, limits=httpx.Limits(max_connections=clients)
    ) as client:

        async def get(u: str) -> httpx.Response:
            async with sem:
                return await client.get(u)

        started = time.perf_counter()
        responses = await asyncio.gather(*(get(u) for u in urls))
        elapsed = time.perf_counter() - started
    bad = [r for r in responses if r.status_code not in (200, 204)]
    if bad:
        raise RuntimeError(f"{len(bad)} failed requests, e.g. {bad[0].url}: {bad[0].text[:200]}")
    return elapsed, responses


def fetch(urls: list[str], clients: int, headers: dict | None = None) -> tuple[float, list]:
    return asyncio.run(_fetch_all(urls, clients, headers or {}))


_WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def wrk_seconds(urls: list[str], clients: int, headers: dict, seconds: float) -> float:
    """Seconds per pass over `urls` at wrk's measured rate (one wrk thread, `clients`
    keep-alive connections, each request the next URL of the list)."""
    base = re.match(r"https?://[^/]+", urls[0]).group(0)
    paths = ", ".join(f'"{u[len(base) :]}"' for u in urls)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_WRK_SCRIPT % paths)
        script.flush()
        head = [a for k, v in headers.items() for a in ("-H", f"{k}: {v}")]
        out = subprocess.run(
            ["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "-s", script.name, *head, base],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failed requests:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return len(urls) / rate


class Server:
    """A uvicorn process on 127.0.0.1, stopped by its own pid."""

    def __init__(self, argv: list[str], env: dict, cwd: Path, probe: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{self.port}.log"
        self.log = open(log, "w")  # noqa: SIM115 (open while the server runs; closed in stop)
        self.proc = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            env=os.environ | env,
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(self.base + probe, timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start; see {self.log.name}")
            time.sleep(0.5)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def ours(url: str, cache_mb: float) -> Server:
    # The data does not change during the run, so cached current tiles may outlive the
    # default 60 s clock TTL (the interleaved passes take minutes).
    return Server(
        [sys.executable, "-m", "uvicorn", "benchmarks.bench_tiles:app_factory", "--factory"],
        {
            "BENCH_DATABASE_URL": url,
            "CITYGIS_RESTRICTED_TOKENS": TOKEN,
            "CITYGIS_TILES_CACHE_MB": str(cache_mb),
            "CITYGIS_TILES_CURRENT_TTL_S": "86400",
        },
        ROOT,
        "/health",
    )


def tipg(url: str, python: str, max_features: int) -> Server:
    libpq = sa.engine.make_url(url).set(drivername="postgresql")
    return Server(
        [python, "-m", "uvicorn", "tipg.main:app"],
        {
            "DATABASE_URL": libpq.render_as_string(hide_password=False),
            "TIPG_DB_SCHEMAS": f'["{TIPG_SCHEMA}"]',
            "TIPG_MAX_FEATURES_PER_TILE": str(max_features),
            "TIPG_DB_SPATIAL_EXTENT": "false",
            "TIPG_DB_DATETIME_EXTENT": "false",
        },
        Path("/tmp"),
        "/collections",
    )


def feature_count(responses: list) -> float:
    n = [
        sum(len(layer["features"]) for layer in mapbox_vector_tile.decode(r.content).values())
        if r.status_code == 200
        else 0
        for r in responses
    ]
    return statistics.mean(n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=18)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--tiles", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--seconds", type=float, default=10, help="wrk run per path and clients")
    ap.add_argument(
        "--tipg-python",
        default="/tmp/tipg-venv/bin/python",
        help="a Python with tipg and uvicorn installed (kept out of our venv)",
    )
    ap.add_argument("--db", default=DB, help="scratch database, kept between runs")
    ap.add_argument("--write", action="store_true", help="record results in BENCHMARKS.md")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit(
            "bench_tiles drives the servers with wrk: run ./dev bench-setup "
            "(or apt-get install wrk)"
        )

    url, segments = scratch_table(args.db, args.scale, args.seed)
    tiles = pick_tiles(url, args.tiles, args.seed)
    print(f"{segments:,} current pipe segments; {len(tiles)} z{Z} tiles", flush=True)

    spec = Catalog()["pipelines"]
    props = ",".join(("asset_id", *attributes_at(spec, Z)))
    servers: dict[str, Server] = {"ours, cold": ours(url, 0), "ours, warm": ours(url, 256)}
    tipg_note = ""
    try:
        servers["tipg"] = tipg(url, args.tipg_python, 20_000)
    except (RuntimeError, OSError) as exc:
        tipg_note = f"tipg not measured: {exc}"
        print(tipg_note)
    urls = {
        "ours, cold": [
            f"{servers['ours, cold'].base}/collections/pipelines/tiles/WebMercatorQuad/{z}/{y}/{x}"
            for z, y, x in tiles
        ],
        "ours, warm": [
            f"{servers['ours, warm'].base}/collections/pipelines/tiles/WebMercatorQuad/{z}/{y}/{x}"
            for z, y, x in tiles
        ],
    }
    if "tipg" in servers:
        urls["tipg"] = [
            f"{servers['tipg'].base}/collections/{TIPG_SCHEMA}.pipelines/tiles/"
            f"WebMercatorQuad/{z}/{x}/{y}?properties={props}"
            for z, y, x in tiles
        ]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        results, sizes = measure(url, tiles, urls, auth, args)
    finally:
        for server in servers.values():
            server.stop()
    table = report(results, sizes, len(tiles), args)
    print(table)
    if tipg_note:
        print(tipg_note)
    if args.write:
        record(table, args, segments, len(tiles), tipg_note)


def measure(
    url: str, tiles: list[Tile], urls: dict[str, list[str]], auth: dict, args
) -> tuple[dict[tuple[str, int], list[float]], dict[str, tuple[float, float]]]:
    """Median-ready seconds per (path, clients); mean bytes and features per tile."""
    floor = Floor(url, tiles, max(args.clients))  # PostgreSQL's buffers now hold the data
    sizes = {}
    for name, u in urls.items():  # warms the warm cache; checks every path answers
        _, responses = fetch(u, 4, auth)
        sizes[name] = (statistics.mean(len(r.content) for r in responses), feature_count(responses))
    runs: dict[str, Callable[[int], float]] = {"floor (tile SQL, no HTTP)": floor}
    for name, u in urls.items():
        runs[name] = lambda c, u=u: wrk_seconds(u, c, auth, args.seconds)
    results: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.repeat):  # interleaved so drift hits every path alike
        for clients in args.clients:
            for name, run in runs.items():
                results.setdefault((name, clients), []).append(run(clients))
    return results, sizes


def report(results: dict, sizes: dict, n: int, args) -> str:
    head = "| path | " + " | ".join(f"tiles/s, {c} client{'s' * (c > 1)}" for c in args.clients)
    lines = [
        head + " | ÷ floor time (1 client) | mean KB/tile | mean features/tile |",
        "|---|" + "---|" * (len(args.clients) + 3),
    ]
    floor = statistics.median(results[("floor (tile SQL, no HTTP)", args.clients[0])])
    names = dict.fromkeys(name for name, _ in results)
    for name in names:
        rates = [n / statistics.median(results[(name, c)]) for c in args.clients]
        ratio = statistics.median(results[(name, args.clients[0])]) / floor
        kb, feats = sizes.get(name, (float("nan"), float("nan")))
        lines.append(
            f"| {name} | "
            + " | ".join(f"{r:,.0f}" for r in rates)
            + f" | {ratio:.2f} | {kb / 1024:.1f} | {feats:,.0f} |"
        )
    return "\n".join(lines).replace("| nan | nan |", "| – | – |")


def scratch_table(db: str, scale: float, seed: int) -> tuple[str, int]:
    """The scratch database (created and migrated if needed) with its pipelines built."""
    base = database_url(DatabaseSettings())
    url = sa.engine.make_url(base).set(database=db).render_as_string(hide_password=False)
    _ensure_database(base, url, db)
    return url, build(url, scale, seed)


def _ensure_database(base: str, url: str, db: str) -> None:
    u = sa.engine.make_url(base)
    conninfo = psycopg.conninfo.make_conninfo(
        host=u.host, port=u.port, user=u.username, password=u.password, dbname="postgres"
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def record(table: str, args, segments: int, n_tiles: int, note: str) -> None:
    body = (
        f"## Vector tiles: {n_tiles} z{Z} tiles of {segments:,} pipe segments\n\n"
        + provenance(
            f"python -m benchmarks.bench_tiles --scale {args.scale:g} --tiles "
            f"{args.tiles} --repeat {args.repeat} --seconds {args.seconds:g} --write",
            args.repeat,
            beside="servers and wrk",
        )
        + ". Servers are one uvicorn worker each (uvloop and httptools for both), driven "
        f"by wrk for {args.seconds:g} s per cell, cycling over the tiles. "
        "*floor* is our tile rendering (tiles.mvt.render: its SQL, binary results) run "
        "directly on PostgreSQL, no HTTP; *cold* renders every tile (cache off) after "
        "checking the layer's change version; *warm* answers from the in-process cache "
        "(still one version check per request; clock TTL raised for the run); tipg 1.6 "
        "reads a view of the current pipelines with the same four properties, extent, "
        "buffer and feature limit. tipg selects the features meeting the tile; we also "
        "take those within a line's half-width (plus a pixel) of its edge, and give "
        "every feature its id (the version id), hence our slightly heavier tiles. "
        f"A ratio below 1 means faster than the floor. {SHARED_MACHINE}\n\n"
        f"{table}\n" + (f"\n{note}\n" if note else "")
    )
    write_section("tiles", body)


if __name__ == "__main__":
    main()
