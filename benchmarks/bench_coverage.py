"""Coverage on the demo city: the link-budget grid against the fixed-radius wedges it replaces.

    .venv/bin/python -m benchmarks.bench_coverage [--repeat 3] [--base-url URL] [--write]

The three questions of issue 14, each asked both ways over HTTP (in-process TestClient,
so JSON encoding counts and the network does not):

- one operator: China Mobile's coverage dissolved per operator (old: wedges, 19 s);
- the whole city: covered area per district and operator (old: the overlay of the
  dissolved wedges with the districts, 48 s; new: /analysis/coverage/stats);
- one district's gaps: 市南区 less the coverage (old: overlay difference, 9 s; new: stats
  of 市南区 with its holes).

The scratch database holds the demo's districts, sites and sectors (seed 20261123) and is
kept between runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_tiles import _ensure_database  # noqa: E402
from benchmarks.record import SHARED_MACHINE, provenance, write_section  # noqa: E402
from citygis.cluster import database_url  # noqa: E402
from citygis.db import make_engine  # noqa: E402
from citygis.settings import DatabaseSettings, ServerSettings  # noqa: E402

DB = "citygis_bench_coverage"
SEED = 20261123
DISTRICT = "市南区"
OPERATOR = {"operator": "china_mobile"}
WEDGES = {"model": "fixed"}  # the default 800 m: the 362,952 m² wedges


def build(url: str) -> int:
    """Districts, sites and sectors of the demo, loaded once."""
    from loaders import load_frames
    from loaders.demo_city import demo_sources

    engine = make_engine(url)
    with engine.connect() as c:
        have = c.execute(sa.text("SELECT count(*) FROM city.sectors")).scalar_one()
    if have == 0:
        for src in demo_sources(seed=SEED):
            if src.layer in ("districts", "base_stations", "sectors"):
                load_frames(url, {src.layer: src.frame}, source=src.source)
        with engine.begin() as c:
            c.execute(sa.text("ANALYZE city.sectors"))
    with engine.connect() as c:
        n = c.execute(sa.text("SELECT count(*) FROM city.sectors_current")).scalar_one()
    engine.dispose()
    return n


Request = tuple[str, dict[str, Any]]  # path, body
QUESTIONS: dict[str, tuple[Request, Request]] = {
    "one operator": (
        ("/analysis/coverage", WEDGES | {"filter": OPERATOR, "dissolve_by": "operator"}),
        ("/analysis/coverage", {"filter": OPERATOR, "dissolve_by": "operator"}),
    ),
    "the whole city, per district and operator": (
        (
            "/analysis/overlay",
            {
                "operation": "intersection",
                "group_by": ["a_operator", "b_name"],
                "a": {"coverage": {"dissolve_by": "operator"}},
                "b": {"layer": "districts"},
            },
        ),
        ("/analysis/coverage/stats", {"holes": False}),
    ),
    f"one district's gaps ({DISTRICT})": (
        (
            "/analysis/overlay",
            {
                "operation": "difference",
                "a": {"layer": "districts", "filter": {"name": DISTRICT}},
                "b": {"coverage": {"dissolve_by": "all"}},
            },
        ),
        (
            "/analysis/coverage/stats",
            {"areas": {"layer": "districts", "filter": {"name": DISTRICT}}},
        ),
    ),
}


def clear_caches() -> None:
    """Forget computed windows, footprints and area cells: the next answer starts cold."""
    from spatial_api.analysis.coverage_grid import WINDOWS, clear_footprints
    from spatial_api.analysis.coverage_stats import _cell_areas

    WINDOWS.clear()
    clear_footprints()
    _cell_areas.cache_clear()


def timed(client: Any, path: str, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    r = client.post(path, json=body)
    took = time.perf_counter() - started
    if r.status_code != 200:
        raise SystemExit(f"{path}: {r.status_code} {r.text[:300]}")
    return took


RETILT = (
    "UPDATE city.sectors SET tilt_deg = tilt_deg + :by WHERE valid @> now() AND asset_id = "
    "(SELECT min(s.asset_id) FROM city.sectors s JOIN city.districts d ON d.name = :n "
    "AND ST_Intersects(s.geom, d.geom) WHERE s.valid @> now())"
)


def what_if(url: str, client: Any) -> float:
    """Re-tilt one sector of 市南区 in the database, ask for the district again, put it back."""
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(sa.text(RETILT), {"by": 2.0, "n": DISTRICT})
    try:
        return timed(client, *QUESTIONS[f"one district's gaps ({DISTRICT})"][1])
    finally:
        with engine.begin() as c:
            c.execute(sa.text(RETILT), {"by": -2.0, "n": DISTRICT})
        engine.dispose()


def straightforward_city(url: str) -> float:
    """The same model done plainly: geopandas in and out, each sector on a square of its
    pattern-free reach, nothing kept between runs, one city-wide union per operator then
    geopandas.overlay with the districts."""
    import geopandas as gpd
    import numpy as np

    from spatial_api.analysis import propagation as prop
    from spatial_api.analysis.coverage_budget import link_budgets
    from spatial_api.analysis.coverage_grid import AREAS, Grid, compute_window, mask_polygons
    from spatial_api.analysis.coverage_models import GridCoverage

    started = time.perf_counter()
    engine = make_engine(url)
    sectors = gpd.read_postgis("SELECT * FROM city.sectors_current", engine, "geom").to_crs(4549)
    districts = gpd.read_postgis(
        "SELECT name, geom FROM city.districts_current", engine, "geom"
    ).to_crs(4549)
    engine.dispose()
    req = GridCoverage()
    props = sectors.drop(columns="geom").astype(object).where(sectors.notna(), None)
    rows = [(p, g.x, g.y) for p, g in zip(props.to_dict("records"), sectors.geometry, strict=True)]
    budgets = link_budgets(rows, req)
    squares = []
    for r in budgets.radios:
        d = prop.distance_for_loss(
            r.model, r.eirp_dbm - r.threshold_dbm, r.frequency_mhz, r.height_m, 1.5, AREAS["urban"]
        )
        d = min(d, 20_000.0)
        squares.append(type(r)(**{**r.__dict__, "box": (-d, -d, d, d)}))
    b = np.array([q.bounds for q in squares])
    grid = Grid.around((b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()), 25.0)
    g_r0, g_c0 = round(grid.y0 / 25.0), round(grid.x0 / 25.0)
    covered: dict[str, np.ndarray] = {}
    for q, p in zip(squares, budgets.props, strict=True):
        w = compute_window(q, 25.0, 1.5, "urban")
        mask = covered.setdefault(p["operator"], np.zeros((grid.rows, grid.cols), bool))
        r0, c0 = w.row0 - g_r0, w.col0 - g_c0
        h, wd = w.rx_dbm.shape
        mask[r0 : r0 + h, c0 : c0 + wd] |= w.rx_dbm >= q.threshold_dbm
    cover = gpd.GeoDataFrame(
        {"operator": list(covered)},
        geometry=[mask_polygons(m, grid) for m in covered.values()],
        crs=4549,
    )
    pieces = gpd.overlay(districts, cover, how="intersection")
    pieces["area_m2"] = pieces.to_crs(4490).geometry.to_crs("+proj=cea").area
    pieces.groupby(["name", "operator"]).area_m2.sum()
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--base-url", default=None, help="a server to create the database on")
    ap.add_argument("--skip-old", action="store_true", help="time only the grid")
    ap.add_argument("--write", action="store_true", help="record results in BENCHMARKS.md")
    args = ap.parse_args()
    from fastapi.testclient import TestClient

    from spatial_api import create_app

    base = args.base_url or database_url(DatabaseSettings())
    url = sa.engine.make_url(base).set(database=DB).render_as_string(hide_password=False)
    _ensure_database(base, url, DB)
    sectors = build(url)
    print(f"{sectors:,} current sectors", flush=True)
    rows = []
    with TestClient(create_app(url, ServerSettings(), pool_size=2)) as client:
        for question, (old, new) in QUESTIONS.items():
            clear_caches()
            cold = timed(client, *new)
            warm = statistics.median(timed(client, *new) for _ in range(args.repeat))
            wedges = float("nan")
            if not args.skip_old:
                wedges = statistics.median(timed(client, *old) for _ in range(args.repeat))
            rows.append((question, wedges, cold, warm))
            print(f"{question}: wedges {wedges:.2f} s, grid cold {cold:.2f} s, warm {warm:.2f} s")
        edit = what_if(url, client)
        print(f"after re-tilting one sector of {DISTRICT}: {edit:.2f} s", flush=True)
    plain = statistics.median(straightforward_city(url) for _ in range(args.repeat))
    print(f"the whole city, straightforward numpy + geopandas: {plain:.2f} s", flush=True)
    if args.write:
        lines = [
            "## Coverage (issue 14)",
            "",
            provenance("python -m benchmarks.bench_coverage --write", args.repeat, "server"),
            f"; {sectors:,} demo sectors, 25 m cells, default models. Cold: computed windows, "
            "footprints and area cells forgotten first; warm: the median of the repeats after. "
            f"{SHARED_MACHINE}",
            "",
            "| question | fixed-radius wedges | grid, cold | grid, warm |",
            "|---|---|---|---|",
            *(f"| {q} | {o:.2f} s | {c:.2f} s | {w:.2f} s |" for q, o, c, w in rows),
            f"| {DISTRICT} again after re-tilting one of its sectors | | | {edit:.2f} s |",
            "",
            "The whole city done straightforwardly (the same link budgets; geopandas in, each "
            "sector on a square of its pattern-free reach, no cache, a city-wide union per "
            f"operator and geopandas.overlay with the districts): {plain:.2f} s.",
        ]
        write_section("coverage", "\n".join(lines))


if __name__ == "__main__":
    main()
