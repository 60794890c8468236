"""Load the same 200k-line GeoPackage three ways, side by side, and report the ratios.

    .venv/bin/python -m benchmarks.bench_load [--features 200000] [--repeat 3] [--write]

Peers: `ogr2ogr -f PostgreSQL` (COPY mode) and `geopandas.GeoDataFrame.to_postgis`.
Our loader does more work: it validates every row against the catalog, reprojects
EPSG:4549 → EPSG:4490, derives Z from depth, and merges as valid-time versions.
Uses the embedded cluster (or CITYGIS_DATABASE_URL), in a scratch database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import sqlalchemy as sa
from shapely import linestrings

from benchmarks.record import provenance, write_section
from citygis.cluster import database_url
from citygis.db import make_engine, upgrade
from citygis.settings import DatabaseSettings
from loaders import LoadOptions, load_path, read_mapping
from tests.support.database import recreate_database

UTILITIES = np.array(["water", "drainage", "gas", "heating", "telecom", "power"])
MATERIALS = np.array(["steel", "ductile_iron", "pe", "pvc", "concrete"])


def make_gpkg(path: Path, n: int, seed: int = 1) -> None:
    """n pipe segments around Qingdao in EPSG:4549 (CGCS2000 / 3-degree GK CM 120E)."""
    rng = np.random.default_rng(seed)
    x0 = 500_000 + rng.uniform(-30_000, 30_000, n)
    y0 = 3_990_000 + rng.uniform(-20_000, 20_000, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    length = rng.uniform(20, 120, n)
    mid = rng.uniform(0.3, 0.7, n)
    xs = np.column_stack([x0, x0 + np.cos(angle) * length * mid, x0 + np.cos(angle) * length])
    ys = np.column_stack(
        [y0, y0 + np.sin(angle) * length * mid + rng.normal(0, 2, n), y0 + np.sin(angle) * length]
    )
    coords = np.stack([xs, ys], axis=-1).reshape(-1, 2)
    geoms = linestrings(coords, indices=np.repeat(np.arange(n), 3))
    frame = gpd.GeoDataFrame(
        {
            "pipe_id": [f"P{i:07d}" for i in range(n)],
            "utility": UTILITIES[rng.integers(0, 6, n)],
            "DN": rng.choice([100, 150, 200, 300, 400, 600], n).astype(float),
            "material": MATERIALS[rng.integers(0, 5, n)],
            "depth_start_m": rng.uniform(0.8, 3.0, n).round(2),
            "depth_end_m": rng.uniform(0.8, 3.0, n).round(2),
            "install_date": rng.integers(1970, 2025, n).astype(str),
        },
        geometry=geoms,
        crs="EPSG:4549",
    )
    pyogrio.write_dataframe(frame, path, layer="pipes")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--features", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="record results in BENCHMARKS.md")
    args = ap.parse_args()

    base = database_url(DatabaseSettings())
    url = recreate_database(base, "citygis_bench_load")
    engine = make_engine(url)
    upgrade(engine)
    libpq = sa.engine.make_url(url)
    pg = (
        f"PG:host={libpq.host} port={libpq.port} dbname={libpq.database} "
        f"user={libpq.username} password={libpq.password}"
    )

    workdir = Path(tempfile.mkdtemp(prefix="citygis-bench-"))
    gpkg = workdir / "pipes.gpkg"
    make_gpkg(gpkg, args.features)
    print(f"{args.features} line features, {gpkg.stat().st_size / 1e6:.1f} MB GeoPackage")

    def ours():
        with engine.begin() as c:
            c.execute(sa.text("TRUNCATE city.pipelines"))
        report = load_path(
            url,
            "pipelines",
            gpkg,
            LoadOptions(
                mapping=read_mapping(None, {}, "pipe_id"), rejects_path=workdir / "rejects.csv"
            ),
        )
        assert report.layers[0].new == args.features, report

    def ogr2ogr(reproject: bool):
        def run():
            cmd = [
                "ogr2ogr",
                "-f",
                "PostgreSQL",
                pg,
                str(gpkg),
                "pipes",
                "-nln",
                "public.ogr_pipes",
                "-overwrite",
                "-lco",
                "SPATIAL_INDEX=GIST",
                "-lco",
                "GEOMETRY_NAME=geom",
            ]
            if reproject:
                cmd += ["-t_srs", "EPSG:4490"]
            subprocess.run(
                cmd, check=True, env=os.environ | {"PG_USE_COPY": "YES"}, capture_output=True
            )

        return run

    def to_postgis():
        frame = pyogrio.read_dataframe(gpkg, use_arrow=True)
        frame.to_postgis(
            "gpd_pipes", engine, schema="public", if_exists="replace", chunksize=50_000
        )
        with engine.begin() as c:
            c.execute(sa.text("CREATE INDEX ON public.gpd_pipes USING gist (geometry)"))

    runs = {
        "citygis load (validate, 4549→4490, Z, versions)": ours,
        "ogr2ogr -f PostgreSQL (COPY, GiST)": ogr2ogr(False),
        "ogr2ogr … -t_srs EPSG:4490": ogr2ogr(True),
        "geopandas to_postgis (+ GiST)": to_postgis,
    }
    results = {name: [] for name in runs}
    for _ in range(args.repeat):  # interleaved so drift hits every tool alike
        for name, fn in runs.items():
            results[name].append(timed(fn))
    ours_s = statistics.median(results[next(iter(runs))])
    lines = ["| tool | median s | features/s | ours ÷ tool time |", "|---|---|---|---|"]
    for name, times in results.items():
        med = statistics.median(times)
        lines.append(f"| {name} | {med:.2f} | {args.features / med:,.0f} | {ours_s / med:.2f} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        record(table, args)
    engine.dispose()


def record(table: str, args) -> None:
    body = (
        f"## Loading: {args.features:,} line features from a GeoPackage\n\n"
        + provenance(
            f"python -m benchmarks.bench_load --repeat {args.repeat} --write",
            args.repeat,
            beside="our loader and the tools",
        )
        + ". A ratio below 1 means we are faster.\n\n"
        f"{table}\n"
    )
    write_section("load", body)


if __name__ == "__main__":
    main()
