"""A mixed workload held by many clients at once (issue 15, item 3 "Load").

    .venv/bin/python -m benchmarks.bench_mixed [--duration 60] [--clients 50] [--write]

wrk (apt: wrk; `./dev bench-setup`) keeps `--clients` keep-alive connections busy for
`--duration` seconds against one uvicorn worker of our server, in its shipped settings
(pool 10, statement timeout, admission limits). Each request picks its kind by weight
(`KINDS`) inside the Lua script (benchmarks/bench_mixed.lua), from concrete request lists
made here from the data:

- items: pipelines (crew token) by bbox and `utility=`, shelters (public) by bbox and
  `status=open`, windows around random pipe points;
- tiles: pipelines z13–16, cold (many distinct tiles, each thread walking its own stride)
  and warm (a small fixed set, fetched once before the run);
- nearest: /lbs/nearest on shelters (public) and pipelines (crew);
- isolation: POST /analysis/isolate of a real water pipe (crew);
- coverage statistics: POST /analysis/coverage/stats of a drawn ~2 km square, no holes;
- writes: POST /collections/shelters/items, a new shelter each time (emergency token).

wrk runs one thread per connection, so a thread's response always answers its last
request: the script counts statuses and times latency per kind that way (its own
monotonic clock, request built → response parsed). The overall p50/p99 are wrk's
(--latency). Before the run every kind is fetched once with httpx and must answer 2xx.
The scratch database holds the synthetic demo city (seed 20261123, scale 1), loaded once.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import uuid4

import httpx
import morecantile
import numpy as np
import sqlalchemy as sa

from benchmarks.bench_tiles import ROOT, Server, _ensure_database
from benchmarks.record import SHARED_MACHINE, provenance, write_section
from citygis.cluster import database_url
from citygis.db import make_engine
from citygis.settings import DatabaseSettings
from citygis.tokens import create_token, revoke_token
from layers import Catalog
from layers.roles import load_roles

DB = "citygis_bench_mixed"
SEED = 20261123
LUA = Path(__file__).with_suffix(".lua")
TILES = "/collections/pipelines/tiles/WebMercatorQuad"
TIMEOUT_S = 40  # wrk's; above the server's 30 s statement timeout, so slow answers count
UTILITIES = ("water", "gas", "drainage", "heating", "power", "telecom")
# Relative weights per request: a map session's mix, tiles first, costly analyses rarer.
KINDS: dict[str, int] = {
    "items_pipelines": 10,
    "items_shelters": 8,
    "tiles_cold": 20,
    "tiles_warm": 25,
    "nearest_shelters": 8,
    "nearest_pipelines": 7,
    "isolate": 5,
    "coverage_stats": 2,
    "write_shelter": 5,
}


def scratch_database(db: str) -> str:
    """The scratch database with the demo city (load_demo skips the layers already in)."""
    from citygis.demo_cmd import load_demo

    base = database_url(DatabaseSettings())
    url = sa.engine.make_url(base).set(database=db).render_as_string(hide_password=False)
    _ensure_database(base, url, db)
    load_demo(url, seed=SEED, scale=1)
    return url


class Data:
    """What the requests are made of, drawn from the loaded city."""

    def __init__(self, url: str, seed: int):
        engine = make_engine(url)
        with engine.connect() as c:
            self.points = c.execute(
                sa.text(
                    "SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom))"
                    " FROM city.pipelines_current WHERE abs(hashtext(asset_id)) % 20 = 0"
                )
            ).all()
            self.water = list(
                c.execute(
                    sa.text(
                        "SELECT asset_id FROM city.pipelines_current WHERE utility = 'water'"
                        " ORDER BY md5(asset_id) LIMIT 500"
                    )
                ).scalars()
            )
            self.box = c.execute(
                sa.text(
                    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM"
                    " (SELECT ST_Extent(geom) AS e FROM city.pipelines_current) s"
                )
            ).one()
        engine.dispose()
        self.rng = np.random.default_rng(seed)

    def centres(self, n: int) -> list[tuple[float, float]]:
        idx = self.rng.choice(len(self.points), size=n, replace=len(self.points) < n)
        return [(float(self.points[i][0]), float(self.points[i][1])) for i in idx]

    def windows(self, n: int, halves: tuple[float, ...]) -> list[str]:
        out = []
        for x, y in self.centres(n):
            h = float(self.rng.choice(halves))
            out.append(f"{x - h:.6f},{y - h:.6f},{x + h:.6f},{y + h:.6f}")
        return out

    def tiles(self, n: int) -> list[str]:
        """Distinct z13–16 tiles under random pipe points, shuffled."""
        tms = morecantile.tms.get("WebMercatorQuad")
        seen: dict[tuple[int, int, int], None] = {}
        for x, y in self.centres(n * 3):
            t = tms.tile(x, y, int(self.rng.integers(13, 17)))
            seen[(t.z, t.y, t.x)] = None
        out = [f"{TILES}/{z}/{y}/{x}" for z, y, x in seen]
        self.rng.shuffle(out)
        return out[:n]


def square(x: float, y: float, half: float) -> dict[str, Any]:
    ring = [[x - half, y - half], [x + half, y - half], [x + half, y + half]]
    return {"type": "Polygon", "coordinates": [[*ring, [x - half, y + half], ring[0]]]}


def requests(data: Data, crew: str, emergency: str) -> list[dict[str, Any]]:
    """Every kind with its weight, headers and concrete paths (and bodies)."""
    crew_h = {"Authorization": f"Bearer {crew}"}
    json_h = {"Content-Type": "application/json"}
    items = "/collections/{}/items?"
    near = [f"lon={x:.6f}&lat={y:.6f}" for x, y in data.centres(500)]
    kinds: dict[str, dict[str, Any]] = {
        "items_pipelines": {
            "headers": crew_h,
            "paths": [
                items.format("pipelines")
                + urlencode({"bbox": b, "utility": data.rng.choice(UTILITIES), "limit": 100})
                for b in data.windows(500, (0.004, 0.008, 0.015))
            ],
        },
        "items_shelters": {
            "paths": [
                items.format("shelters") + urlencode({"bbox": b, "status": "open", "limit": 100})
                for b in data.windows(500, (0.02, 0.04, 0.08))
            ],
        },
        "tiles_cold": {"headers": crew_h, "paths": data.tiles(20_000), "cycle": True},
        "tiles_warm": {"headers": crew_h, "paths": data.tiles(20)},
        "nearest_shelters": {"paths": [f"/lbs/nearest?layer=shelters&k=5&{p}" for p in near]},
        "nearest_pipelines": {
            "headers": crew_h,
            "paths": [f"/lbs/nearest?layer=pipelines&k=5&{p}" for p in near],
        },
        "isolate": {
            "method": "POST",
            "headers": crew_h | json_h,
            "paths": ["/analysis/isolate"],
            "bodies": [json.dumps({"pipe": p}) for p in data.water],
        },
        "coverage_stats": {
            "method": "POST",
            "headers": json_h,
            "paths": ["/analysis/coverage/stats"],
            "bodies": [
                json.dumps({"areas": {"geometry": square(x, y, 0.01)}, "holes": False})
                for x, y in data.centres(50)
            ],
        },
        "write_shelter": {
            "method": "POST",
            "headers": {"Authorization": f"Bearer {emergency}"}
            | {"Content-Type": "application/geo+json"},
            "paths": ["/collections/shelters/items"],
            "shelter": True,
        },
    }
    return [
        {"tag": tag, "weight": KINDS[tag], "method": "GET", "headers": {}} | k
        for tag, k in kinds.items()
    ]


def lua_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid Lua string literal here (no \u)
    if isinstance(v, dict):
        return "{" + ", ".join(f"[{json.dumps(k)}] = {lua_value(x)}" for k, x in v.items()) + "}"
    return "{" + ", ".join(lua_value(x) for x in v) + "}"


def lua_script(kinds: list[dict[str, Any]], box: tuple[float, ...]) -> str:
    return f"KINDS = {lua_value(kinds)}\nBOX = {lua_value(list(box))}\n\n" + LUA.read_text()


def check(base: str, kinds: list[dict[str, Any]]) -> dict[str, float]:
    """One request of each kind must be a 2xx (it warms the warm tiles too); its ms."""
    took, bad = {}, []
    with httpx.Client(base_url=base, timeout=TIMEOUT_S) as client:
        for k in kinds:
            paths = k["paths"] if k["tag"] == "tiles_warm" else k["paths"][:1]
            for path in paths:
                body = k.get("bodies", [None])[0]
                if k.get("shelter"):
                    body = json.dumps(
                        {
                            "type": "Feature",
                            "geometry": {"type": "Point", "coordinates": [120.38, 36.07]},
                            "properties": {"name": "bench shelter check", "status": "open"},
                        }
                    )
                started = time.perf_counter()
                r = client.request(k["method"], path, headers=k["headers"], content=body)
                took[k["tag"]] = (time.perf_counter() - started) * 1000
                if not 200 <= r.status_code < 300:
                    bad.append(
                        f"{k['tag']}: {k['method']} {path} {body or ''} → {r.status_code}"
                        f" {r.text[:300]}"
                    )
    if bad:
        print("requests that failed before the run:\n  " + "\n  ".join(bad), flush=True)
    return took


def run_wrk(base: str, script: str, clients: int, duration: float) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as f:
        f.write(script)
        f.flush()
        argv = ["wrk", f"-t{clients}", f"-c{clients}", f"-d{duration:g}s", "--latency"]
        argv += [f"--timeout={TIMEOUT_S}s", "-s", f.name, base, "--", str(clients)]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _find(pattern: str, text: str) -> re.Match[str]:
    """A line wrk always prints; without it, its output is shown."""
    if m := re.search(pattern, text):
        return m
    raise RuntimeError(f"no {pattern!r} in wrk's output:\n{text}")


def _ms(text: str) -> float:
    value, unit = _find(r"^([\d.]+)(us|ms|s|m)$", text).groups()
    return float(value) * _UNIT[unit]


def parse(out: str) -> dict[str, Any]:
    """wrk's totals and latency percentiles, and the script's per-kind lines."""
    total, secs = _find(r"(\d+) requests in ([\d.]+\w+)", out).groups()
    res: dict[str, Any] = {
        "requests": int(total),
        "seconds": _ms(secs) / 1000,
        "rate": float(_find(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(_find(r"\s50%\s+(\S+)", out).group(1)),
        "p99": _ms(_find(r"\s99%\s+(\S+)", out).group(1)),
        "socket": {},
        "non2xx": 0,
        "status": {},
        "latency": {},
    }
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        res["socket"] = dict(
            zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True)
        )
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        res["non2xx"] = int(m.group(1))
    for tag, status, n in re.findall(r"^MIXED status (\S+) (\d+) (\d+)$", out, re.M):
        res["status"].setdefault(tag, {})[int(status)] = int(n)
    for tag, n, p50, p99, top in re.findall(
        r"^MIXED latency (\S+) (\d+) (\S+) (\S+) (\S+)$", out, re.M
    ):
        res["latency"][tag] = (int(n), float(p50), float(p99), float(top))
    return res


def report(res: dict[str, Any], single: dict[str, float], args) -> str:
    sock = res["socket"]
    errors = sum(sock.values()) + res["non2xx"]
    lines = [
        "| clients | seconds | requests | requests/s | p50 ms | p99 ms | socket errors "
        "(connect/read/write/timeout) | non-2xx/3xx |",
        "|---|---|---|---|---|---|---|---|",
        f"| {args.clients} | {res['seconds']:.0f} | {res['requests']:,} | {res['rate']:,.1f} | "
        f"{res['p50']:.1f} | {res['p99']:.1f} | "
        + ("/".join(str(sock.get(k, 0)) for k in ("connect", "read", "write", "timeout")))
        + f" | {res['non2xx']} |",
        "",
        f"**errors: {errors}**",
        "",
        "| kind | weight | requests | statuses | p50 ms | p99 ms | max ms "
        "| once before the run, ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for tag, weight in KINDS.items():
        n, p50, p99, top = res["latency"].get(tag, (0, 0.0, 0.0, 0.0))
        statuses = ", ".join(f"{s}: {c:,}" for s, c in sorted(res["status"].get(tag, {}).items()))
        lines.append(
            f"| {tag} | {weight} | {n:,} | {statuses or '–'} | {p50:.1f} | {p99:.1f} | "
            f"{top:.0f} | {single.get(tag, float('nan')):.0f} |"
        )
    return "\n".join(lines)


def tokens(url: str) -> tuple[Any, list[str], str, str]:
    """A crew and an emergency token, named for this run (revoked after it)."""
    engine = make_engine(url)
    roles = load_roles(Catalog().values())
    run = uuid4().hex[:8]
    names = [f"bench-mixed-crew-{run}", f"bench-mixed-emergency-{run}"]
    crew = create_token(engine, roles, "crew", names[0], None)
    emergency = create_token(engine, roles, "emergency", names[1], None)
    return engine, names, crew, emergency


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=60, help="seconds of load")
    ap.add_argument("--clients", type=int, default=50, help="concurrent connections")
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--db", default=DB, help="scratch database, kept between runs")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--write", action="store_true", help="record results in BENCHMARKS.md")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench_mixed drives the server with wrk: run ./dev bench-setup")

    url = scratch_database(args.db)
    data = Data(url, args.seed)
    engine, names, crew, emergency = tokens(url)
    kinds = requests(data, crew, emergency)
    server = Server(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.bench_tiles:app_factory",
            "--factory",
            "--workers",
            str(args.workers),
        ],
        {"BENCH_DATABASE_URL": url},
        ROOT,
        "/health",
    )
    try:
        single = check(server.base, kinds)
        print(f"{args.clients} clients for {args.duration:g} s …", flush=True)
        out = run_wrk(server.base, lua_script(kinds, data.box), args.clients, args.duration)
    finally:
        server.stop()
        for name in names:
            revoke_token(engine, name)
        engine.dispose()
    res = parse(out)
    table = report(res, single, args)
    print(table)
    print(f"server log: {server.log.name}")
    if args.write:
        record(table, args)


def record(table: str, args) -> None:
    body = (
        f"## Mixed load: {args.clients} clients for {args.duration:g} s"
        + ("" if args.workers == 1 else f", {args.workers} API processes")
        + "\n\n"
        + provenance(
            f"python -m benchmarks.bench_mixed --duration {args.duration:g} "
            f"--clients {args.clients}"
            + ("" if args.workers == 1 else f" --workers {args.workers}")
            + " --write",
            1,
            beside="server and wrk",
        )
        + (
            ". One uvicorn worker"
            if args.workers == 1
            else f". {args.workers} uvicorn workers (one tile cache each, kept coherent by "
            "the change versions in their keys)"
        )
        + " in its shipped settings over the demo city (scale 1); wrk "
        f"holds {args.clients} keep-alive connections, each request's kind picked by weight "
        "in benchmarks/bench_mixed.lua: items by bbox and attribute (pipelines with a crew "
        "token, shelters public), pipeline tiles z13–16 cold (distinct) and warm (20 "
        "tiles), nearest-5 on shelters and pipelines, isolation of a water pipe, coverage "
        "statistics of a 2 km square, and a new shelter written each time. Overall p50/p99 "
        "are wrk's; per-kind latency is timed in the script. "
        f"{SHARED_MACHINE}\n\n{table}\n"
    )
    write_section("mixed" if args.workers == 1 else f"mixed_workers_{args.workers}", body)


if __name__ == "__main__":
    main()
