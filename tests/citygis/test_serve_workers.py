"""`citygis serve --workers 2`: two processes on one port, and a write through one is seen
at once in the tiles and items of the other (their caches stay coherent)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import mapbox_vector_tile

from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from tests.spatial_api.test_writes import shelter
from tests.support.server import free_port
from tests.tiles.test_tiles import LAT, LON, tile_path

CONNECTIONS = 24  # each a new TCP connection, which the kernel deals out to the workers


def each_connection(base: str, path: str, headers=None) -> list[tuple[int, int, bytes]]:
    """(worker pid, status, body) of `path`, asked once on each of many new connections."""
    out = []
    for _ in range(CONNECTIONS):
        with httpx.Client(base_url=base, timeout=10) as c:
            pid = c.get("/health/live").json()["process"]  # same connection: same worker
            r = c.get(path, headers=headers)
            out.append((pid, r.status_code, r.content))
    return out


def test_two_workers_serve_one_port_coherently(clean_db, engine):
    token = create_token(engine, load_roles(Catalog().values()), "emergency", "w", None)
    port = free_port()
    env = os.environ | {"CITYGIS_DATABASE_URL": clean_db, "CITYGIS_LOG_LEVEL": "warning"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "citygis.cli", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError(proc.stdout.read1().decode() if proc.stdout else "no server")
        path = tile_path("shelters", LON, LAT, 15)
        before = each_connection(base, path)  # both workers now cache the empty tile
        assert {status for _, status, _ in before} == {204}
        assert len({pid for pid, _, _ in before}) == 2, (
            "the kernel gave every connection to one worker"
        )

        made = httpx.post(
            f"{base}/collections/shelters/items",
            json=shelter("八大关避难场所"),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert made.status_code == 201, made.text

        after = each_connection(base, path)
        seen = {
            pid
            for pid, status, body in after
            if status == 200 and "八大关避难场所".encode() in body
        }
        assert seen == {pid for pid, _, _ in after} and len(seen) == 2
        for _, _, body in after:
            names = [
                f["properties"]["name"]
                for f in mapbox_vector_tile.decode(body)["shelters"]["features"]
            ]
            assert names == ["八大关避难场所"]
        items = each_connection(base, "/collections/shelters/items")
        assert {len(httpx.Response(200, content=b).json()["features"]) for _, _, b in items} == {1}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
