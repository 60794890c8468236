"""Faults in the middle of a load (issue 15): the database restarted under it, a statement
timeout. Each leaves the layer exactly as it was, says why, and a retry loads everything.

A load killed mid-COPY is in test_load_bad_files.py. The restart needs a cluster of its
own: stopping the shared test cluster would fail every other test running beside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest

from tests.support.loading import count, load, snapshot

CITYGIS = [sys.executable, "-m", "citygis.cli"]
N = 300_000
SHELTERS = "SELECT asset_id, capacity, valid FROM city.shelters ORDER BY 1"
COPYING = (
    "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'COPY stage%' AND state = 'active'"
)


def many_shelters(path: Path) -> Path:
    rng = np.random.default_rng(7)
    lon, lat = 120.3 + rng.random(N) * 0.2, 36.0 + rng.random(N) * 0.2
    with open(path, "w") as f:
        f.write("id,name,capacity,lon,lat\n")
        f.writelines(
            f"K{i},s{i},{i % 500},{x:.6f},{y:.6f}\n"
            for i, (x, y) in enumerate(zip(lon, lat, strict=True))
        )
    return path


def one_shelter(path: Path) -> Path:
    path.write_text("id,name,capacity,lon,lat\nS1,中山公园,5000,120.3436,36.0690\n")
    return path


def citygis(args: list[str], env: dict, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CITYGIS, *args], env=env, capture_output=True, text=True, timeout=300, **kw
    )


def wait_for(predicate, what: str, proc: subprocess.Popen | None = None, limit_s=120) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert proc is None or proc.poll() is None, f"the load ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {limit_s} s"
        time.sleep(0.02)


def test_a_statement_timeout_cancels_the_load_whole(clean_db, engine, tmp_path):
    load(clean_db, "shelters", one_shelter(tmp_path / "seed.csv"))
    before = snapshot(engine)
    path = many_shelters(tmp_path / "many.csv")
    env = os.environ | {
        "CITYGIS_DATABASE_URL": clean_db,
        # 300k rows take seconds to COPY and merge: any statement of theirs passes 200 ms.
        "PGOPTIONS": "-c statement_timeout=200",
    }
    proc = citygis(["-q", "load", "shelters", str(path)], env)
    said = " ".join(proc.stderr.split())
    assert proc.returncode == 1, proc.stderr
    assert "the database cancelled the load: canceling statement due to statement timeout" in said
    assert "PGOPTIONS='-c statement_timeout=0'" in said
    assert "The database is unchanged." in said
    assert "Traceback" not in proc.stderr
    assert snapshot(engine) == before
    report = load(clean_db, "shelters", path)
    assert (report.layers[0].new, report.layers[0].closed) == (N, 0)
    assert count(engine, "SELECT count(*) FROM city.shelters_current") == N + 1


@pytest.fixture
def own_cluster():
    """A PostGIS cluster for this test alone, up, with its URL."""
    from tests.support.server import free_port

    base = Path(tempfile.mkdtemp(prefix="citygis-restart-"))
    base.chmod(0o755)  # the unprivileged server user walks into it
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYGIS_")}
    env |= {"CITYGIS_DATA_DIR": str(base / "data"), "CITYGIS_PG_PORT": str(free_port())}
    up = citygis(["db", "up"], env, cwd="/")
    assert up.returncode == 0, up.stderr
    url = citygis(["db", "url"], env, cwd="/").stdout.strip()
    yield env, url
    citygis(["db", "down"], env, cwd="/")
    shutil.rmtree(base, ignore_errors=True)


def shelters_state(url: str) -> tuple:
    with psycopg.connect(url) as c:
        rows = c.execute(SHELTERS).fetchall()
        runs = c.execute("SELECT count(*) FROM city.load_runs").fetchone()
    return rows, runs


def copying(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as c:
            return bool(c.execute(COPYING).fetchone()[0])  # type: ignore[index]
    except psycopg.OperationalError:
        return False


@pytest.mark.clients  # its own cluster: initdb, PostGIS, migrations, a restart
def test_a_database_restart_mid_load_leaves_the_layer_as_it_was(own_cluster, tmp_path):
    env, url = own_cluster
    seeded = citygis(["-q", "load", "shelters", str(one_shelter(tmp_path / "s.csv"))], env)
    assert seeded.returncode == 0, seeded.stderr
    before = shelters_state(url)
    assert len(before[0]) == 1
    path = many_shelters(tmp_path / "many.csv")
    proc = subprocess.Popen(
        [*CITYGIS, "-q", "load", "shelters", str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: copying(url), "COPY", proc)
    # A restart, as `pg_ctl restart -m fast` does it: every session terminated mid-statement.
    assert citygis(["db", "down"], env, cwd="/").returncode == 0
    _, stderr = proc.communicate(timeout=120)
    said = " ".join(stderr.split())
    assert proc.returncode == 1, stderr
    assert "database connection failed during the load" in said
    assert "The database is unchanged." in said
    assert "Traceback" not in stderr
    assert citygis(["db", "up"], env, cwd="/").returncode == 0
    assert shelters_state(url) == before
    again = citygis(["-q", "load", "shelters", str(path)], env)
    assert again.returncode == 0, again.stderr
    rows, runs = shelters_state(url)
    assert (len(rows), runs[0]) == (N + 1, before[1][0] + 1)  # type: ignore[index]
