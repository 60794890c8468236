"""Every test talks to a real PostGIS: the self-managed cluster, or CITYGIS_DATABASE_URL.

Each session gets a fresh database (`citygis_test`, or `$CITYGIS_TEST_DB` so that
sessions running side by side do not drop each other's), migrated to head.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from citygis.cluster import Cluster
from citygis.db import make_engine, upgrade
from citygis.settings import DatabaseSettings

TEST_DB = os.environ.get("CITYGIS_TEST_DB", "citygis_test")
TEST_PORT = 55433


def test_cluster_settings() -> DatabaseSettings:
    # /tmp is traversable by the unprivileged server user, unlike root's home.
    data_dir = Path(tempfile.gettempdir()) / f"citygis-test-{os.geteuid()}"
    return DatabaseSettings(database_url=None, data_dir=data_dir, pg_port=TEST_PORT)


def server_url() -> str:
    """URL of a server where the tests may create databases."""
    external = os.environ.get("CITYGIS_DATABASE_URL")
    if external:
        return make_url(external).set(drivername="postgresql+psycopg").render_as_string(
            hide_password=False)
    return Cluster(test_cluster_settings()).up()


def recreate_database(url: str, name: str) -> str:
    u = make_url(url)
    conninfo = psycopg.conninfo.make_conninfo(
        host=u.host, port=u.port, user=u.username, password=u.password, dbname="postgres")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        ident = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    return u.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def base_url() -> str:
    return server_url()


@pytest.fixture(scope="session")
def db_url(base_url: str) -> str:
    url = recreate_database(base_url, TEST_DB)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def conn(engine: Engine):
    """A connection whose transaction is rolled back after the test."""
    with engine.connect() as c:
        tx = c.begin()
        yield c
        tx.rollback()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def clean_db(db_url: str, engine: Engine) -> Iterator[str]:
    """The test database, emptied of layer rows after the test (loads commit for real)."""
    from sqlalchemy import text

    from layers import ALL_LAYERS

    yield db_url
    tables = ", ".join(f"city.{spec.id}" for spec in ALL_LAYERS)
    with engine.begin() as c:
        c.execute(text(f"TRUNCATE {tables}, city.load_runs, city.sensor_readings"))


@contextmanager
def serving(app) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread: for real HTTP clients."""
    import threading
    import time

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(),
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
