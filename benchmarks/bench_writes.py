"""OGC API Features Part 4 creates, side by side: PostgreSQL alone, our server, pygeoapi.

    .venv/bin/python -m benchmarks.bench_writes [--creates 300] [--batches 3] [--repeat 3]
        [--write]

- single: one shelter per request, `--creates` sequential requests per run after
  `--warmup` (httpx, one keep-alive connection), p50 and p99 latency. Ours is
  `POST /collections/shelters/items` with an emergency token (validation as the loaders
  validate, the version insert, a load_runs and an audit row, a NOTIFY, one commit).
  floor: a parameterised one-row INSERT through psycopg on a warm autocommit connection.
- batch: FeatureCollections of `--size` shelters, features/s. floors: our insert statement
  (INSERT … SELECT FROM jsonb_to_recordset, spatial_api/features/writes.py) and COPY, the
  rows prepared beforehand, each in one transaction.
- ours, no HTTP: spatial_api.features.writes.create on an open connection, and the
  loader validation alone (loaders.edit.prepare_features): where a request's time goes.
- pygeoapi (its own venv, `--pygeoapi-python`): its PostgreSQL provider with
  `editable: true`, over a plain table of the same columns (no versions, no audit). It takes
  one Feature per POST, so it has no batch row.

Bodies are serialised before timing. Runs are interleaved over the repeats; the median of
the runs is reported. A fresh scratch database (`--db`) on the embedded cluster (or
CITYGIS_DATABASE_URL) each run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import numpy as np
import psycopg
import shapely
import sqlalchemy as sa

from benchmarks.bench_tiles import ROOT, Server
from benchmarks.record import SHARED_MACHINE, provenance, write_section
from citygis.cluster import database_url
from citygis.db import make_async_engine, make_engine, upgrade
from citygis.settings import DatabaseSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.access import Principal
from layers.roles import load_roles
from loaders.edit import prepare_features
from spatial_api.features import writes
from spatial_api.features.crs import DEFAULT
from spatial_api.features.crs import STORAGE_SRID as SRID
from tests.support.database import recreate_database
from tiles.listener import libpq_conninfo

DB = "citygis_bench_writes"
LAYER = "shelters"
ROLE, TOKEN_NAME = "emergency", "bench"
PYGEOAPI_SCHEMA = "pygeoapi_bench"
TARGET_P50_MS, TARGET_RATE = 15.0, 5_000
KINDS = ("park", "square", "school", "stadium", "indoor", "other")
STATUSES = ("open", "closed", "full")
COLUMNS = ("name", "capacity", "kind", "area_m2", "status")
Op = Callable[[], None]


class Shelters:
    """Random shelters around Qingdao, as GeoJSON features or as floor rows."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def features(self, n: int) -> list[dict]:
        rng = self.rng
        lon, lat = rng.uniform(120.2, 120.6, n), rng.uniform(35.95, 36.25, n)
        return [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]},
                "properties": {
                    "name": f"避难场所 {uuid4().hex[:8]}",
                    "capacity": int(rng.integers(50, 5000)),
                    "kind": KINDS[int(rng.integers(len(KINDS)))],
                    "area_m2": round(float(rng.uniform(200, 50_000)), 1),
                    "status": STATUSES[int(rng.integers(len(STATUSES)))],
                },
            }
            for x, y in zip(lon, lat, strict=True)
        ]

    def rows(self, n: int) -> list[dict]:
        """Staging rows as writes.create hands them to its insert: typed, hex EWKB."""
        feats = self.features(n)
        pts = shapely.points([f["geometry"]["coordinates"] for f in feats])
        geoms = shapely.to_wkb(shapely.set_srid(pts, SRID), hex=True, include_srid=True)
        return [
            {"asset_id": f"{LAYER}-{uuid4().hex[:12]}", **f["properties"], "geom": g}
            for f, g in zip(feats, geoms, strict=True)
        ]


def body(features: list[dict]) -> bytes:
    doc = features[0] if len(features) == 1 else {"type": "FeatureCollection", "features": features}
    return json.dumps(doc).encode()


def timed(fn: Op) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Http:
    """Sequential POSTs on one keep-alive connection; every answer must be a 201."""

    def __init__(self, url: str, headers: dict[str, str]):
        self.url = url
        self.client = httpx.Client(
            headers=headers | {"Content-Type": "application/geo+json"}, timeout=120
        )
        self.posts = 0

    def post(self, content: bytes) -> Op:
        def run() -> None:
            r = self.client.post(self.url, content=content)
            if r.status_code != 201 or "location" not in r.headers:
                raise RuntimeError(f"{self.url}: {r.status_code} {r.text[:300]}")
            self.posts += 1

        return run


class InProcess:
    """writes.create on one open connection of our async engine: our write path, no HTTP.

    The loop runs in its own thread under one long-lived task, as uvicorn's does: anyio
    keeps the worker threads prepare_features runs in (and their per-thread pyproj
    transformers, loaders/crs.py) only while the task that started them lives, so an
    asyncio.Runner.run per request paid a new thread and a ~40 ms transformer each time.
    """

    def __init__(self, url: str, principal: Principal):
        self.spec, self.who = Catalog()[LAYER], principal
        self.loop = asyncio.new_event_loop()
        self.jobs: asyncio.Queue[tuple[Coroutine, Future] | None] | None = None
        ready = threading.Event()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self._serve(url, ready),), daemon=True
        )
        self.thread.start()
        ready.wait()

    async def _serve(self, url: str, ready: threading.Event) -> None:
        engine = make_async_engine(url, pool_size=1)
        self.engine, self.jobs = engine, asyncio.Queue()
        ready.set()
        while (job := await self.jobs.get()) is not None:
            coro, done = job
            try:
                done.set_result(await coro)
            except BaseException as exc:  # handed to the caller's thread
                done.set_exception(exc)
        await engine.dispose()

    def run(self, coro: Coroutine) -> Any:
        done: Future = Future()
        assert self.jobs is not None
        self.loop.call_soon_threadsafe(self.jobs.put_nowait, (coro, done))
        return done.result()

    def create(self, features: list[dict], prof: cProfile.Profile | None = None) -> Op:
        async def go() -> None:
            if prof:  # profiles this (the loop's) thread
                prof.enable()
            try:
                async with self.engine.connect() as conn:
                    made = await writes.create(
                        conn, self.spec, self.who, features, datetime.now(UTC), DEFAULT
                    )
                    await conn.commit()
            finally:
                if prof:
                    prof.disable()
            assert len(made) == len(features)

        return lambda: self.run(go())

    def close(self) -> None:
        assert self.jobs is not None
        self.loop.call_soon_threadsafe(self.jobs.put_nowait, None)
        self.thread.join()
        self.loop.close()


_FLOOR_ONE = f"""
INSERT INTO city.{LAYER} (asset_id, valid, {", ".join(COLUMNS)}, geom, source)
VALUES (%s, tstzrange(now(), NULL), %s, %s, %s, %s, %s, ST_GeomFromEWKB(decode(%s, 'hex')),
        'bench floor')
RETURNING version_id
"""
_FLOOR_COPY = f"COPY city.{LAYER} (asset_id, valid, {', '.join(COLUMNS)}, geom, source) FROM STDIN"


class Floor:
    """The same inserts straight on PostgreSQL, over an open psycopg connection."""

    def __init__(self, url: str):
        self.conn = psycopg.connect(libpq_conninfo(url), autocommit=True)
        self.sa = make_engine(url).connect()
        self.insert = sa.text(writes._insert_sql(LAYER))

    def one(self, row: dict) -> Op:
        params = (row["asset_id"], *(row[c] for c in COLUMNS), row["geom"])
        return lambda: self.conn.execute(_FLOOR_ONE, params).fetchone()

    def recordset(self, rows: list[dict]) -> Op:
        """Our batch insert statement, bound as writes.create binds it."""
        params = {"rows": json.dumps(rows), "vf": datetime.now(UTC), "source": "bench floor"}

        def run() -> None:
            assert len(self.sa.execute(self.insert, params).all()) == len(rows)
            self.sa.commit()

        return run

    def copy(self, rows: list[dict]) -> Op:
        valid = f"[{datetime.now(UTC).isoformat()},)"
        data = [
            (r["asset_id"], valid, *(r[c] for c in COLUMNS), r["geom"], "bench floor") for r in rows
        ]

        def run() -> None:
            with (
                self.conn.transaction(),
                self.conn.cursor() as cur,
                cur.copy(_FLOOR_COPY) as copy,
            ):
                for d in data:
                    copy.write_row(d)

        return run

    def close(self) -> None:
        self.sa.close()
        self.conn.close()


_PYGEOAPI_TABLE = f"""
CREATE SCHEMA IF NOT EXISTS {PYGEOAPI_SCHEMA};
CREATE TABLE {PYGEOAPI_SCHEMA}.shelters (
    id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name text NOT NULL, capacity integer, kind text, area_m2 double precision, status text,
    geom geometry(Point, 4326) NOT NULL
);
CREATE INDEX ON {PYGEOAPI_SCHEMA}.shelters USING gist (geom);
"""

_PYGEOAPI_CONFIG = """
server:
  bind: {{host: 127.0.0.1, port: 5000}}
  url: http://127.0.0.1:5000
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  language: en-US
  pretty_print: false
  limits: {{default_items: 10, max_items: 1000}}
  map: {{url: "https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png", attribution: osm}}
logging: {{level: ERROR}}
metadata:
  identification:
    title: bench
    description: bench
    keywords: [bench]
    keywords_type: theme
    terms_of_service: https://example.org
    url: https://example.org
  license: {{name: CC-BY 4.0, url: https://creativecommons.org/licenses/by/4.0/}}
  provider: {{name: bench, url: https://example.org}}
  contact: {{name: bench, email: bench@example.org}}
resources:
  shelters:
    type: collection
    title: shelters
    description: shelters
    keywords: [shelters]
    extents:
      spatial:
        bbox: [-180, -90, 180, 90]
        crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84
    providers:
      - type: feature
        name: PostgreSQL
        editable: true
        data:
          host: {host}
          port: {port}
          dbname: {db}
          user: {user}
          password: {password}
          search_path: [{schema}]
        id_field: id
        table: shelters
        geom_field: geom
        # The default (CRS84) has no EPSG code, and pygeoapi 0.21 then writes `SRID=None;`.
        storage_crs: http://www.opengis.net/def/crs/EPSG/0/4326
"""


def pygeoapi(url: str, python: str) -> Server:
    """pygeoapi's Starlette app over its PostgreSQL provider, transactions on."""
    if not Path(python).exists():
        raise RuntimeError(f"no {python}: ./dev bench-setup makes it")
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(sa.text(_PYGEOAPI_TABLE))
    engine.dispose()
    u = sa.engine.make_url(url)
    work = Path(tempfile.mkdtemp(prefix="citygis-pygeoapi-"))
    config, openapi = work / "config.yml", work / "openapi.yml"
    config.write_text(
        _PYGEOAPI_CONFIG.format(
            host=u.host,
            port=u.port,
            db=u.database,
            user=u.username,
            password=json.dumps(u.password),
            schema=PYGEOAPI_SCHEMA,
        )
    )
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run(
        [str(Path(python).parent / "pygeoapi"), "openapi", "generate", str(config)]
        + ["--output-file", str(openapi)],
        check=True,
        capture_output=True,
        env={**env, "PATH": str(Path(python).parent)},
    )
    return Server([python, "-m", "uvicorn", "pygeoapi.starlette_app:APP"], env, work, "/")


def ours(url: str) -> Server:
    return Server(
        [sys.executable, "-m", "uvicorn", "benchmarks.bench_tiles:app_factory", "--factory"],
        {"BENCH_DATABASE_URL": url},
        ROOT,
        "/health",
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--creates", type=int, default=300, help="single creates per run")
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--size", type=int, default=1000, help="features per batch")
    ap.add_argument("--batches", type=int, default=3, help="batches per path and run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--pygeoapi-python",
        default="/tmp/pygeoapi-venv/bin/python",
        help="a Python with pygeoapi, psycopg2 and uvicorn installed (kept out of our venv)",
    )
    ap.add_argument("--db", default=DB, help="scratch database, recreated each run")
    ap.add_argument("--write", action="store_true", help="record results in BENCHMARKS.md")
    args = ap.parse_args()

    url = recreate_database(database_url(DatabaseSettings()), args.db)
    engine = make_engine(url)
    upgrade(engine)
    roles = load_roles(Catalog().values())
    token = create_token(engine, roles, ROLE, TOKEN_NAME, None)
    principal = Principal(roles[ROLE], TOKEN_NAME)

    servers = {"ours": ours(url)}
    note = ""
    try:
        servers["pygeoapi"] = pygeoapi(url, args.pygeoapi_python)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        note = f"pygeoapi not measured: {exc}"
        print(note)
    load_before = os.getloadavg()
    try:
        singles, batches = measure(url, servers, token, principal, args)
    finally:
        for server in servers.values():
            server.stop()
    checks = check(engine, args)
    profile = profiled(url, principal, args)
    engine.dispose()
    table = report(singles, batches, args) + "\n\n" + machine_load(load_before, os.getloadavg())
    print(table)
    print(checks)
    print(profile)
    if note:
        print(note)
    if args.write:
        record(table, checks, profile, args, note)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_load(before: tuple[float, ...], after: tuple[float, ...]) -> str:
    """The other jobs on the machine, which wall-clock figures include."""
    load = ", ".join(f"{b:.2f} → {a:.2f}" for b, a in zip(before, after, strict=True))
    return (
        f"Load average (1, 5, 15 min) before → after the measured runs: {load}, on "
        f"{os.cpu_count()} cores. CPU ms/request is the Python process's own CPU time (the "
        "server's for a POST, this process's for in-process paths), PostgreSQL's not counted: "
        "it moves less than wall time when other jobs hold the cores."
    )


def measure(url: str, servers: dict[str, Server], token: str, principal: Principal, args):
    """Per path: [(p50, p99, mean, CPU ms per op)] per run for singles, [s] per batch."""
    make = Shelters(args.seed)
    auth = {"Authorization": f"Bearer {token}"}
    http = {
        "ours": Http(f"{servers['ours'].base}/collections/{LAYER}/items", auth),
    }
    if "pygeoapi" in servers:
        http["pygeoapi 0.21 (PostgreSQL provider)"] = Http(
            f"{servers['pygeoapi'].base}/collections/shelters/items", {}
        )
    local, floor = InProcess(url, principal), Floor(url)
    spec = Catalog()[LAYER]
    server_pid = {
        f"{name}: POST a Feature": servers[key].proc.pid
        for name, key in (("ours", "ours"), ("pygeoapi 0.21 (PostgreSQL provider)", "pygeoapi"))
        if key in servers
    }

    def cpu_clock(name: str) -> float:
        return cpu_seconds(server_pid[name]) if name in server_pid else time.process_time()

    def validate(features: list[dict]) -> Op:
        ids = [writes.new_asset_id(spec) for _ in features]
        return lambda: prepare_features(features, spec, ids, "EPSG:4326")

    one: dict[str, Callable[[], Op]] = {
        "floor: one-row INSERT (psycopg)": lambda: floor.one(make.rows(1)[0]),
        "ours, no HTTP: writes.create": lambda: local.create(make.features(1)),
        "ours, validation only (prepare_features)": lambda: validate(make.features(1)),
    }
    for name, client in http.items():
        one[f"{name}: POST a Feature"] = lambda c=client: c.post(body(make.features(1)))
    many: dict[str, Callable[[], Op]] = {
        "floor: our INSERT … jsonb_to_recordset": lambda: floor.recordset(make.rows(args.size)),
        "floor: COPY": lambda: floor.copy(make.rows(args.size)),
        "ours, no HTTP: writes.create": lambda: local.create(make.features(args.size)),
        "ours, validation only (prepare_features)": lambda: validate(make.features(args.size)),
        "ours: POST a FeatureCollection": lambda: http["ours"].post(body(make.features(args.size))),
    }
    for build in one.values():  # warm-up: connections, prepared statements, caches
        for _ in range(args.warmup):
            build()()
    for build in many.values():
        build()()

    singles: dict[str, list[tuple[float, float, float, float]]] = {n: [] for n in one}
    batches: dict[str, list[float]] = {n: [] for n in many}
    try:
        for _ in range(args.repeat):  # interleaved so drift hits every path alike
            for name, build in one.items():
                ops = [build() for _ in range(args.creates)]
                cpu = cpu_clock(name)
                ms = np.array([timed(op) for op in ops]) * 1000
                cpu_ms = (cpu_clock(name) - cpu) * 1000 / len(ops)
                singles[name].append(
                    (float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), ms.mean(), cpu_ms)
                )
            for name, build in many.items():
                for _ in range(args.batches):
                    op = build()
                    batches[name].append(timed(op))
    finally:
        local.close()
        floor.close()
    return singles, batches


def check(engine: sa.Engine, args) -> str:
    """What our creates left: every row, and one load_runs and audit row per request."""
    requests = args.warmup + args.repeat * args.creates + 1 + args.repeat * args.batches
    features = (
        args.warmup + args.repeat * args.creates + args.size * (1 + args.repeat * args.batches)
    )
    with engine.connect() as c:
        rows, live, runs, audits = c.execute(
            sa.text(
                f"SELECT (SELECT count(*) FROM city.{LAYER}),"
                f" (SELECT count(*) FROM city.{LAYER}_current),"
                " (SELECT count(*) FROM city.load_runs WHERE mode = 'edit'),"
                " (SELECT count(*) FROM city.audit WHERE action = 'create')"
            )
        ).one()
    # ours over HTTP and in process make the same requests; the floors add plain rows.
    ours_rows = 2 * features
    return (
        f"- ours: every response 201 with a Location; {2 * requests:,} create requests (HTTP and"
        f" in process) left {runs:,} `load_runs` and {audits:,} audit rows (expected"
        f" {2 * requests:,} each); `city.{LAYER}` holds {rows:,} rows, {live:,} current"
        f" ({ours_rows:,} from ours, the rest from the floors)."
    )


PROFILED = {
    "pyproj Transformer.from_crs (loaders/crs.py to_storage)": (
        "pyproj/transformer.py",
        "from_crs",
    ),
    "attribute checks (loaders/attributes.py conform)": ("loaders/attributes.py", "conform"),
    "features → frame (loaders/edit.py features_frame)": ("loaders/edit.py", "features_frame"),
    "SQL text (writes._create_sql, cached per layer)": ("features/writes.py", "_create_sql"),
    "the statement (AsyncConnection.execute)": ("sqlalchemy/ext/asyncio/engine.py", "execute"),
    "commit": ("sqlalchemy/ext/asyncio/engine.py", "commit"),
}


def profiled(url: str, principal: Principal, args) -> str:
    """cProfile of one create, in process: validation called on this thread, then the create
    profiled on the loop's (cProfile sees one thread per profile; the create's own
    validation runs in a worker thread neither sees): ms per request in PROFILED's parts."""
    make, out = Shelters(args.seed + 1), []
    local, spec = InProcess(url, principal), Catalog()[LAYER]
    for n, calls in ((1, 20), (args.size, 2)):
        feats = [make.features(n) for _ in range(calls + 1)]
        ids = [[writes.new_asset_id(spec) for _ in f] for f in feats]
        local.create(feats[0])()  # warm
        prof, in_loop = cProfile.Profile(), cProfile.Profile()
        for f, i in zip(feats[1:], ids[1:], strict=True):
            prof.enable()
            prepare_features(f, spec, i, "EPSG:4326")
            prof.disable()
            local.create(f, in_loop)()
        stats = pstats.Stats(prof).add(in_loop).stats  # type: ignore[attr-defined]
        cum = {what: 0.0 for what in PROFILED}
        total = 0.0
        for (file, _, func), (_, _, _, ct, _) in stats.items():
            if file.endswith("loaders/edit.py") and func == "prepare_features":
                total += ct
            for what, (suffix, name) in PROFILED.items():
                if file.endswith(suffix) and func == name:
                    cum[what] += ct
        named = [f"{what} {_ms(1000 * t / calls)}" for what, t in cum.items()]
        out.append(
            f"- {n} feature(s), ms per request under cProfile: prepare_features "
            f"{_ms(1000 * total / calls)} (in it: {'; '.join(named[:3])}); then, in "
            f"writes.create: {'; '.join(named[3:])}."
        )
    local.close()
    return "\n".join(out)


def _ms(v: float) -> str:
    return f"{v:,.2f}" if v < 10 else f"{v:,.1f}"


def report(singles: dict, batches: dict, args) -> str:
    med = {
        n: tuple(statistics.median(r[i] for r in runs) for i in range(4))
        for n, runs in singles.items()
    }
    floor1 = med["floor: one-row INSERT (psycopg)"]
    out = [
        f"**one create per request** ({args.creates} sequential per run, after {args.warmup})",
        "",
        "| path | p50 ms | p99 ms | req/s | CPU ms/request | ÷ floor p50 | ÷ floor p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, (p50, p99, mean, cpu) in med.items():
        out.append(
            f"| {name} | {_ms(p50)} | {_ms(p99)} | {1000 / mean:,.0f} | {_ms(cpu)} | "
            f"{p50 / floor1[0]:.3g} | {p99 / floor1[1]:.3g} |"
        )
    rate = {n: args.size / statistics.median(t) for n, t in batches.items()}
    floor = rate["floor: our INSERT … jsonb_to_recordset"]
    out += [
        "",
        f"**batches** ({args.size} features per request, {args.batches} per run)",
        "",
        "| path | ms/batch | features/s | ÷ recordset floor time | ÷ COPY time |",
        "|---|---|---|---|---|",
    ]
    for name, r in rate.items():
        out.append(
            f"| {name} | {1000 * args.size / r:,.0f} | {r:,.0f} | {floor / r:.3g} |"
            f" {rate['floor: COPY'] / r:.3g} |"
        )
    p50 = med["ours: POST a Feature"][0]
    ours_rate = rate["ours: POST a FeatureCollection"]
    out += [
        "",
        "Where a request's time goes (medians; SQL = no HTTP − validation, HTTP = ours − no HTTP):",
        "",
    ]
    for what, total, local, valid in (
        (
            "one create",
            p50,
            med["ours, no HTTP: writes.create"][0],
            med["ours, validation only (prepare_features)"][0],
        ),
        (
            f"a {args.size}-feature batch",
            1000 * args.size / ours_rate,
            1000 * args.size / rate["ours, no HTTP: writes.create"],
            1000 * args.size / rate["ours, validation only (prepare_features)"],
        ),
    ):
        http = (
            f"{_ms(total - local)} ({(total - local) / total:.0%})"
            if total >= local
            else f"≈ 0 (the in-process run was {_ms(local - total)} ms slower: noise)"
        )
        out.append(
            f"- {what}: {_ms(total)} ms = validation {_ms(valid)} ({valid / total:.0%}) + SQL "
            f"and commit {_ms(local - valid)} ({(local - valid) / total:.0%}) + HTTP, JSON, "
            f"token and FastAPI {http}."
        )
    out += [
        "",
        f"Targets: single create ≤ {TARGET_P50_MS:g} ms p50: {_ms(p50)} ms, "
        + ("**met**" if p50 <= TARGET_P50_MS else "**not met**")
        + f"; batch ≥ {TARGET_RATE:,} features/s: {ours_rate:,.0f}, "
        + ("**met**" if ours_rate >= TARGET_RATE else "**not met**")
        + ".",
    ]
    pg = "pygeoapi 0.21 (PostgreSQL provider): POST a Feature"
    if pg in med:
        out.append(
            f"ours ÷ pygeoapi, single create: p50 {p50 / med[pg][0]:.2f}, "
            f"p99 {med['ours: POST a Feature'][1] / med[pg][1]:.2f}. pygeoapi takes one Feature "
            "per POST, so it has no batch row."
        )
    return "\n".join(out)


def record(table: str, checks: str, profile: str, args, note: str) -> None:
    body_ = (
        "## Writes: creating shelters (OGC API Features Part 4)\n\n"
        + provenance(
            f"python -m benchmarks.bench_writes --creates {args.creates} --batches "
            f"{args.batches} --repeat {args.repeat} --write",
            args.repeat,
        )
        + "; one uvicorn worker per server, one keep-alive httpx client, requests in "
        "sequence. Ours validates each feature as the loaders do, inserts versions in "
        "valid time, and logs a load_runs row, an audit row and a NOTIFY per request (one "
        "statement, writes._create_sql); the floors insert the same rows into the same "
        "table with none of that. *no HTTP* is spatial_api.features.writes.create on an "
        "open connection, on an event loop that lives through the run as uvicorn's does; "
        "*validation only* is loaders.edit.prepare_features. pygeoapi 0.21 (Python 3.11 "
        "has no newer release) writes through its PostgreSQL provider (`editable: true`) "
        "into a plain table of "
        f"the same columns. {SHARED_MACHINE}\n\n"
        f"{table}\n\nChecks:\n\n{checks}\n\nProfile (one request in process):\n\n{profile}\n"
        + (f"\n{note}\n" if note else "")
    )
    write_section("writes", body_)


if __name__ == "__main__":
    main()
