"""An outage in the middle of a 50-client load: only 200s and 503s come back, and 200s
again within 5 s of the database's return (issue 15), over real HTTP.

The database "stops" by a proxy cutting the line (tests/support/proxy.py): every open
connection is reset and new ones are refused, as when the server goes down, while the
shared test cluster keeps running for everyone else.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy.engine import make_url

from citygis.settings import ServerSettings
from spatial_api import create_app
from tests.support.proxy import CuttableProxy
from tests.support.server import serving
from tests.tiles.test_tiles import LAT, LON, insert, tile_path

pytestmark = pytest.mark.clients  # 50 threads for 16 s
CLIENTS = 50
WARM_S, OUTAGE_S, AFTER_S = 3.0, 5.0, 8.0
RECOVERY_S = 5.0
BUSY = "503 at capacity"  # 50 clients on one process: the admission queue may say so
PATHS = [
    "/collections/shelters/items?limit=5",
    "/collections/shelters/items/S1",
    f"/lbs/nearest?layer=shelters&lon={LON}&lat={LAT}",
    "/health/ready",
    tile_path("shelters", LON, LAT, 15),
]


def test_an_outage_under_load_gives_only_200s_and_503s_then_heals(clean_db, engine):
    insert(engine, "shelters", "S1")
    url = make_url(clean_db)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    app = create_app(
        url.set(port=proxy.port).render_as_string(hide_password=False),
        ServerSettings(),
        pool_size=4,
    )
    answers: list[tuple[float, int | str]] = []  # (seconds since start, status or error)
    lock, stop = threading.Lock(), threading.Event()
    start = time.monotonic()

    def client(n: int, base: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            i = n
            while not stop.is_set():
                path = PATHS[i % len(PATHS)]
                i += 1
                try:
                    r = http.get(path)
                    status: int | str = r.status_code
                    if status == 503 and "at capacity" in r.text:
                        status = BUSY  # the bounded queue at work, not the database
                    elif status == 503:
                        status = f"503 {path} {r.json()['detail']}"
                except httpx.HTTPError as exc:  # a reset or a hang is a failure too
                    status = f"{type(exc).__name__} {path}"
                with lock:
                    answers.append((time.monotonic() - start, status))

    with serving(app) as base:
        threads = [threading.Thread(target=client, args=(n, base)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(WARM_S)
        cut = time.monotonic() - start  # before: answers failing as the line goes count as after
        proxy.cut()
        time.sleep(OUTAGE_S)
        proxy.start()
        back = time.monotonic() - start
        time.sleep(AFTER_S)
        stop.set()
        for t in threads:
            t.join(timeout=60)
    proxy.cut()

    seen = Counter(status for _, status in answers)
    assert all(s in (200, BUSY) or str(s).startswith("503") for s in seen), seen
    during = Counter(s for t, s in answers if cut + 0.5 < t < back)
    assert any(str(s).startswith("503 ") for s in during), during  # met, and answered 503
    before = Counter(s for t, s in answers if t < cut)
    settled = Counter(s for t, s in answers if t > back + RECOVERY_S)
    assert before[200] > 0 and set(before) <= {200, BUSY}, ("before the cut", before)
    assert settled[200] > 0 and set(settled) <= {200, BUSY}, ("5 s after", settled)
