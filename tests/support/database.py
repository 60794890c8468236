"""Where the tests' databases live: the self-managed test cluster, or CITYGIS_DATABASE_URL.

Each session gets a fresh database (`citygis_test`, or `$CITYGIS_TEST_DB` so that
sessions running side by side do not drop each other's).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from citygis.cluster import Cluster
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
        return (
            make_url(external)
            .set(drivername="postgresql+psycopg")
            .render_as_string(hide_password=False)
        )
    return Cluster(test_cluster_settings()).up()


def recreate_database(url: str, name: str) -> str:
    u = make_url(url)
    conninfo = psycopg.conninfo.make_conninfo(
        host=u.host, port=u.port, user=u.username, password=u.password, dbname="postgres"
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        ident = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    return u.set(database=name).render_as_string(hide_password=False)
