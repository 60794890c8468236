"""The dig report on the demo city: a 50 × 50 m dig in its densest spot (issue 12: ≤ 300 ms).

    .venv/bin/python -m benchmarks.bench_dig [--scale 1] [--repeat 20] [--base-url URL]
        [--write]

The scratch database holds the demo's pipe nodes, pipelines and owners (seed 20261123) and
is kept between runs. The densest spot is the water node whose 50 × 50 m square holds the
most current pipes of every utility; the dig is that square, drawn exactly in metres (an
azimuthal equidistant square about the node), 2 m deep, with the default 0.5 m tolerance
zone. Each answer (GeoJSON, the printable page, the section as SVG) is asked over HTTP
through the in-process TestClient, so validation and encoding count and the network does
not: once cold, then `--repeat` times, and the median and the slowest are reported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_tiles import _ensure_database  # noqa: E402
from benchmarks.record import SHARED_MACHINE, provenance, write_section  # noqa: E402
from citygis.cluster import database_url  # noqa: E402
from citygis.db import make_engine  # noqa: E402
from citygis.settings import DatabaseSettings, ServerSettings  # noqa: E402

DB = "citygis_bench_dig_s{scale}"  # one per scale: a database is kept between runs
SEED = 20261123
TOKEN = "bench-dig"
HALF_M = 25.0
LAYERS = ("pipe_nodes", "pipelines", "owners")
ROUTES = ("/analysis/dig", "/analysis/dig/report.html", "/analysis/dig/section.svg")
# Per water node, the current pipes in the 50 m square about it (degrees at 36°N, 1 % over;
# the dig itself is exact, this only picks the spot).
DENSEST = """
SELECT ST_X(n.geom) AS lon, ST_Y(n.geom) AS lat, count(*) AS pipes
FROM city.pipe_nodes_current n
JOIN city.pipelines_current p ON p.geom && ST_Expand(n.geom, :dlon, :dlat)
 AND ST_Intersects(p.geom, ST_Expand(n.geom, :dlon, :dlat))
WHERE n.utility = 'water'
GROUP BY n.asset_id, n.geom
ORDER BY count(*) DESC, n.asset_id
LIMIT 1
"""


def build(url: str, scale: float) -> int:
    """The demo's network and owners, loaded once."""
    from loaders import load_frames
    from loaders.demo_city import demo_sources

    engine = make_engine(url)
    with engine.connect() as c:
        have = c.execute(sa.text("SELECT count(*) FROM city.pipelines")).scalar_one()
    if have == 0:
        for src in demo_sources(seed=SEED, scale=scale):
            if src.layer in LAYERS:
                load_frames(url, {src.layer: src.frame}, source=src.source)
        with engine.begin() as c:
            for layer in LAYERS:
                c.execute(sa.text(f"ANALYZE city.{layer}"))
    with engine.connect() as c:
        n = c.execute(sa.text("SELECT count(*) FROM city.pipelines_current")).scalar_one()
    engine.dispose()
    return n


def densest_dig(url: str) -> tuple[dict[str, Any], int]:
    """The 50 × 50 m square (GeoJSON, lon/lat) about the densest node, and its pipe count."""
    engine = make_engine(url)
    with engine.connect() as c:
        spot = c.execute(
            sa.text(DENSEST), {"dlon": HALF_M / 90_000 * 1.01, "dlat": HALF_M / 110_574 * 1.01}
        ).one()
    engine.dispose()
    plane = Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=aeqd +lat_0={spot.lat!r} +lon_0={spot.lon!r} +ellps=GRS80"
    )
    h = HALF_M
    corners = [(-h, -h), (h, -h), (h, h), (-h, h), (-h, -h)]
    ring = [list(plane.transform(x, y, direction="INVERSE")) for x, y in corners]
    return {"type": "Polygon", "coordinates": [ring]}, spot.pipes


def timed(client: Any, path: str, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    r = client.post(path, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    took = time.perf_counter() - started
    if r.status_code != 200:
        raise SystemExit(f"{path}: {r.status_code} {r.text[:300]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--base-url", default=None, help="a server to create the database on")
    ap.add_argument("--write", action="store_true", help="record results in BENCHMARKS.md")
    args = ap.parse_args()
    from fastapi.testclient import TestClient

    from spatial_api import create_app

    base = args.base_url or database_url(DatabaseSettings())
    db = DB.format(scale=f"{args.scale:g}".replace(".", "_"))
    url = sa.engine.make_url(base).set(database=db).render_as_string(hide_password=False)
    _ensure_database(base, url, db)
    pipes = build(url, args.scale)
    area, here = densest_dig(url)
    print(f"{pipes:,} current pipes; the densest 50 m square holds {here}", flush=True)
    body = {"area": area, "depth_m": 2.0}
    rows = []
    settings = ServerSettings(restricted_tokens=TOKEN)
    with TestClient(create_app(url, settings, pool_size=2)) as client:
        found = client.post(ROUTES[0], json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        summary = found.json()["features"][0]["properties"]
        for path in ROUTES:
            cold = timed(client, path, body)
            runs = [timed(client, path, body) for _ in range(args.repeat)]
            rows.append((path, cold, statistics.median(runs), max(runs)))
            print(
                f"{path}: cold {cold * 1000:.0f} ms, median {rows[-1][2] * 1000:.0f} ms, "
                f"slowest {rows[-1][3] * 1000:.0f} ms",
                flush=True,
            )
    print(f"{summary['pipes']} pipes and {summary['nodes']} nodes in the report", flush=True)
    if args.write:
        lines = [
            "## Dig report (issue 12: ≤ 300 ms for 50 × 50 m in the densest demo area)",
            "",
            provenance(
                f"python -m benchmarks.bench_dig --scale {args.scale:g} --write",
                args.repeat,
                "server",
            )
            + f"; {pipes:,} demo pipes, a 50 × 50 m dig about the densest water node "
            f"({summary['pipes']} pipes and {summary['nodes']} nodes in the report), "
            f"2 m deep, 0.5 m tolerance zone. {SHARED_MACHINE}",
            "",
            "| answer | cold | median | slowest |",
            "|---|---|---|---|",
            *(
                f"| `{p}` | {c * 1000:.0f} ms | {m * 1000:.0f} ms | {s * 1000:.0f} ms |"
                for p, c, m, s in rows
            ),
        ]
        write_section("dig", "\n".join(lines))


if __name__ == "__main__":
    main()
