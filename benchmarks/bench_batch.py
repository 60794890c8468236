"""`citygis batch grid-length` on Dask against single-process geopandas (issue 15).

    .venv/bin/python -m benchmarks.bench_batch [--scale 18] [--cell 100] [--workers 2]
        [--repeat 2] [--skip-sjoin] [--base-url URL] [--write]

The job: the length of every current pipe per utility per 100 m cell (EPSG:4549), over the
demo city's pipelines at `--scale` (18: ~1M segments; the database bench_isolation builds,
kept between runs). Three ways, in one run, interleaved:

- **ours on Dask**: citygis.batch.run_grid on a local cluster of `--workers` processes,
  the cluster's start included;
- **ours in one process**: the same kernel over every block range in turn (run_grid_here);
- **plain geopandas**: what one writes without us: `read_postgis` of the layer, `to_crs`,
  a GeoDataFrame of the 100 m cells over its bounds, `sjoin`, then `intersection` per pair
  and `groupby`.

Every way's cells and lengths must agree, and their totals per utility must equal
PostGIS's own `sum(ST_Length(ST_Transform(geom, 4549)))` (the check is reported).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_isolation import DB_DEMO, build_demo, scratch  # noqa: E402
from benchmarks.record import SHARED_MACHINE, provenance, write_section  # noqa: E402
from citygis.batch import GridJob, run_grid, run_grid_here  # noqa: E402
from citygis.cluster import database_url  # noqa: E402
from citygis.db import make_engine  # noqa: E402
from citygis.settings import DatabaseSettings  # noqa: E402

CRS = "EPSG:4549"
NAMES = {"here": "one process", "sjoin": "plain geopandas"}
POSTGIS_TOTALS = """
SELECT utility, sum(ST_Length(ST_Transform(ST_Force2D(geom), 4549)))
FROM city.pipelines WHERE valid @> CAST(:at AS timestamptz) GROUP BY 1
"""
CURRENT = "SELECT utility, geom FROM city.pipelines WHERE valid @> CAST(:at AS timestamptz)"


def plain_geopandas(url: str, at: datetime, cell_m: float) -> pd.DataFrame:
    """The straightforward single-process job, as a geopandas user writes it."""
    engine = make_engine(url)
    with engine.connect() as c:
        lines = gpd.read_postgis(sa.text(CURRENT), c, geom_col="geom", params={"at": at})
    engine.dispose()
    lines = lines.to_crs(CRS)
    x0, y0, x1, y1 = lines.total_bounds
    ix, iy = np.meshgrid(
        np.arange(np.floor(x0 / cell_m), np.floor(x1 / cell_m) + 1),
        np.arange(np.floor(y0 / cell_m), np.floor(y1 / cell_m) + 1),
    )
    ix, iy = ix.ravel(), iy.ravel()
    cells = gpd.GeoDataFrame(
        {"ix": ix.astype(np.int64), "iy": iy.astype(np.int64)},
        geometry=shapely.box(ix * cell_m, iy * cell_m, (ix + 1) * cell_m, (iy + 1) * cell_m),
        crs=CRS,
    )
    pairs = gpd.sjoin(lines, cells, predicate="intersects")
    cut = shapely.intersection(
        pairs.geometry.values, cells.geometry.values[pairs["index_right"].to_numpy()]
    )
    pairs["length_m"] = shapely.length(shapely.force_2d(cut))
    pairs = pairs[pairs["length_m"] > 0]
    return pairs.groupby(["ix", "iy", "utility"], as_index=False)["length_m"].sum()


def as_series(frame: pd.DataFrame) -> pd.Series:
    return frame.set_index(["ix", "iy", "utility"])["length_m"].sort_index()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=18.0)
    ap.add_argument("--cell", type=float, default=100.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--skip-sjoin", action="store_true", help="leave plain geopandas out")
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--write", action="store_true", help="record results in BENCHMARKS.md")
    args = ap.parse_args()
    load = os.getloadavg()
    base = args.base_url or database_url(DatabaseSettings())
    url = scratch(base, DB_DEMO.format(scale=f"{args.scale:g}".replace(".", "_")))
    build_demo(url, args.scale)
    at = datetime.now(UTC)
    job = GridJob(url, "pipelines", ("utility",), args.cell, CRS, at)
    engine = make_engine(url)
    with engine.connect() as c:
        postgis = dict(c.execute(sa.text(POSTGIS_TOTALS), {"at": at}).all())
    engine.dispose()

    times: dict[str, list[float]] = {"dask": [], "dask start": [], "here": [], "sjoin": []}
    answers: dict[str, pd.Series] = {}
    rows = tasks = 0
    for _ in range(args.repeat):
        r = run_grid(job, workers=args.workers)
        times["dask"].append(r.seconds)
        times["dask start"].append(r.start_seconds)
        answers["dask"], rows, tasks = as_series(r.cells), r.rows, r.tasks
        h = run_grid_here(job)
        times["here"].append(h.seconds)
        answers["here"] = as_series(h.cells)
        if not args.skip_sjoin:
            started = time.perf_counter()
            answers["sjoin"] = as_series(plain_geopandas(url, at, args.cell))
            times["sjoin"].append(time.perf_counter() - started)
        print({k: [round(t, 1) for t in v] for k, v in times.items()}, flush=True)

    ref = answers["dask"]
    agree = {
        k: (a.index.equals(ref.index), float((a - ref).abs().max()))
        for k, a in answers.items()
        if k != "dask"
    }
    totals = ref.groupby(level="utility").sum()
    off = max(abs(totals[u] - v) for u, v in postgis.items())
    print(f"{rows:,} pipes, {len(ref):,} cells; agree {agree}; max |total − PostGIS| {off:.6f} m")
    med = {k: statistics.median(v) for k, v in times.items() if v}
    for k, v in med.items():
        print(f"  {k}: {v:.1f} s")
    if args.write:
        record(args, load, rows, tasks, len(ref), med, agree, off, postgis)


def record(args, load, rows, tasks, cells, med, agree, off, postgis) -> None:
    def line(name: str, key: str, note: str) -> str:
        ratio = med["here"] / med[key]
        return f"| {name} | {med[key]:.1f} s | {ratio:.2f} | {note} |"

    sjoin = "sjoin" in med
    lines = [
        "## Batch on Dask: pipe length per utility per 100 m cell (issue 15)",
        "",
        provenance(
            f"python -m benchmarks.bench_batch --scale {args.scale:g} --cell {args.cell:g} "
            f"--workers {args.workers} --repeat {args.repeat} --write",
            args.repeat,
            "database and workers",
        )
        + f"; load average {load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end. "
        f"{rows:,} current pipe segments of the "
        f"demo at scale {args.scale:g}, every one cut into {args.cell:g} m cells of EPSG:4549: "
        f"{cells:,} (cell, utility) rows. Dask runs {tasks} tasks, one per 2,000-page block "
        f"range of the table, each reading its own rows. {SHARED_MACHINE}",
        "",
        "| way | median | ÷ one process (speed-up) | |",
        "|---|---|---|---|",
        line(
            f"ours on Dask, local cluster of {args.workers} processes",
            "dask",
            f"cluster start {med['dask start']:.1f} s included",
        ),
        line("ours in one process (same kernel)", "here", "reference"),
        *(
            [line("plain geopandas: read_postgis, sjoin with the cells, intersection", "sjoin", "")]
            if sjoin
            else []
        ),
        "",
        "Checks: "
        + "; ".join(
            f"{NAMES[k]} has {'the same' if same else 'different'} cells as Dask, lengths within "
            f"{diff:.2g} m"
            for k, (same, diff) in agree.items()
        )
        + f"; totals per utility equal PostGIS's ST_Length within {off:.2g} m "
        f"(6 utilities, {sum(postgis.values()) / 1000:,.0f} km).",
    ]
    write_section("batch", "\n".join(lines))


if __name__ == "__main__":
    main()
