"""A streaming replica of the test cluster (`citygis db replica add`): reads go there,
writes to the primary, and a caller always reads its own writes."""

from __future__ import annotations

import contextlib
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from citygis.cluster import Cluster, ClusterError
from citygis.db import make_engine
from citygis.replica import add_replica, caught_up, remove_replica, replicas, start_replicas
from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.spatial_api.test_writes import LAT, LON, shelter
from tests.support import database
from tests.tiles.test_tiles import features, tile_path

pytestmark = pytest.mark.clients  # a base backup of the test cluster: minutes, not seconds


@pytest.fixture(scope="module")
def replica_url(db_url):
    if make_url(db_url).port != database.test_cluster_settings().pg_port:
        pytest.skip("replicas are of the embedded test cluster")
    primary = Cluster(database.test_cluster_settings())
    with contextlib.suppress(ClusterError):  # one that cannot start is removed below
        start_replicas(primary)
    for stale in replicas(primary):  # of an earlier cluster here, or too far behind
        if not caught_up(primary, stale):
            remove_replica(primary, int(stale.data_dir.name[1:]))
    rep = replicas(primary)[0] if replicas(primary) else add_replica(primary)
    assert caught_up(primary, rep)
    return make_url(rep.url(dbname=database.TEST_DB)).render_as_string(hide_password=False)


def wait_for(predicate, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_reads_go_to_the_replica_and_a_writer_reads_its_writes(clean_db, engine, replica_url):
    replica = make_engine(replica_url)
    try:
        with replica.connect() as c:
            assert c.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
    finally:
        replica.dispose()
    token = create_token(engine, load_roles(Catalog().values()), "emergency", "rw", None)
    auth = {"Authorization": f"Bearer {token}"}
    app = create_app(clean_db, ServerSettings(), pool_size=2, replica_urls=(replica_url,))
    with TestClient(app) as client:
        reads = client.app.state.reads
        for i in range(10):  # each write is read back at once by its writer
            made = client.post(
                "/collections/shelters/items", json=shelter(f"避难场所{i}"), headers=auth
            )
            assert made.status_code == 201, made.text
            asset = made.json()["ids"][0]
            got = client.get(f"/collections/shelters/items/{asset}", headers=auth)
            assert got.status_code == 200, (i, got.text)
            assert got.json()["properties"]["name"] == f"避难场所{i}"

        # Someone who wrote nothing reads from the replica, and sees it all once replayed.
        def everyone_sees_ten() -> bool:
            r = client.get("/collections/shelters/items", params={"limit": 100})
            return r.status_code == 200 and r.json()["numberReturned"] == 10

        before = reads.served["replica"]
        assert wait_for(everyone_sees_ten)
        assert reads.served["replica"] > before
        # Writes never go to the replica (it would refuse them).
        assert (
            client.delete(f"/collections/shelters/items/{asset}", headers=auth).status_code == 204
        )
        assert client.get(f"/collections/shelters/items/{asset}", headers=auth).status_code == 404


def test_tiles_come_from_the_replica_and_a_writer_sees_its_own_at_once(
    clean_db, engine, replica_url
):
    """A tile's versions and render are read on the replica that serves it; a caller who
    just wrote gets its tile from the primary until the replica has replayed the write."""
    token = create_token(engine, load_roles(Catalog().values()), "emergency", "tiles", None)
    auth = {"Authorization": f"Bearer {token}"}
    app = create_app(clean_db, ServerSettings(), pool_size=2, replica_urls=(replica_url,))
    path = tile_path("shelters", LON, LAT, 15)
    with TestClient(app) as client:
        reads = client.app.state.reads
        assert client.get(path).status_code == 204  # an empty tile
        for i in range(5):
            made = client.post(
                "/collections/shelters/items", json=shelter(f"避难场所{i}"), headers=auth
            )
            assert made.status_code == 201, made.text
            # At once, whatever the replica's lag: the writer's tile holds every write.
            assert len(features(client.get(path, headers=auth), "shelters")) == i + 1

        def everyone_sees_five() -> bool:
            return len(features(client.get(path), "shelters")) == 5

        before = reads.served["replica"]
        assert wait_for(everyone_sees_five)
        assert reads.served["replica"] > before  # anonymous tiles were read there


def test_wal_positions_compare_as_numbers():
    from spatial_api.replicas import lsn

    assert lsn("16/B374D848") == (0x16 << 32) + 0xB374D848
    assert lsn("0/9") < lsn("0/10") < lsn("1/0")
    assert lsn(None) == 0


def test_the_cli_lists_the_replica(replica_url, monkeypatch):
    from typer.testing import CliRunner

    from citygis.cli import app as cli

    settings = database.test_cluster_settings()
    monkeypatch.setenv("CITYGIS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CITYGIS_PG_PORT", str(settings.pg_port))
    monkeypatch.delenv("CITYGIS_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["db", "replica", "list"])
    assert result.exit_code == 0, result.output
    assert f"r1  127.0.0.1:{settings.pg_port + 11}  running, caught up" in result.output


def test_a_stopped_replica_catches_up_when_started(replica_url, engine):
    """Its slot keeps the WAL it missed, so it does not serve a stale copy."""
    primary = Cluster(database.test_cluster_settings())
    rep = replicas(primary)[0]
    rep.down()
    with engine.begin() as c:
        c.execute(text("CREATE TABLE city.missed_while_down AS SELECT 1 AS x"))
        c.execute(text("SELECT pg_switch_wal()"))
    try:
        with engine.connect() as c:
            held = c.execute(
                text(
                    "SELECT restart_lsn IS NOT NULL FROM pg_replication_slots"
                    " WHERE slot_name = 'citygis_r1'"
                )
            ).scalar()
        assert held is True
        start_replicas(primary)
        assert caught_up(primary, rep)
        replica = make_engine(replica_url)
        try:
            with replica.connect() as c:
                assert c.execute(text("SELECT x FROM city.missed_while_down")).scalar() == 1
        finally:
            replica.dispose()
    finally:
        with engine.begin() as c:
            c.execute(text("DROP TABLE city.missed_while_down"))
