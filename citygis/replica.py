"""Hot standbys of the embedded cluster: streaming replicas on loopback, for read scaling.

`citygis db replica add` copies the primary with pg_basebackup (-R: the copy is a standby
that streams from the primary from then on) into `<data dir>/replicas/rN` and starts it on
its own port. Reads then go there with CITYGIS_REPLICA_URLS (spatial_api/replicas.py).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import psycopg

from citygis.cluster import DB_USER, Cluster, ClusterError, find_binaries

FIRST_PORT_OFFSET = 10  # replica N listens on the primary's port + 10 + N


def _replica(primary: Cluster, n: int) -> Cluster:
    settings = primary.settings.model_copy(
        update={
            "data_dir": primary.data_dir / "replicas" / f"r{n}",
            "pg_port": primary.port + FIRST_PORT_OFFSET + n,
        }
    )
    return Cluster(settings)


def _slot(n: int) -> str:
    return f"citygis_r{n}"


def _dsn(cluster: Cluster, password: str) -> str:
    return f"host=127.0.0.1 port={cluster.port} user={DB_USER} password={password} dbname=postgres"


def replicas(primary: Cluster) -> list[Cluster]:
    root = primary.data_dir / "replicas"
    found = sorted(int(p.name[1:]) for p in root.glob("r*") if p.name[1:].isdigit())
    return [_replica(primary, n) for n in found]


def add_replica(primary: Cluster) -> Cluster:
    """A new standby of the running primary, started; its URL is `.url()`."""
    binaries = find_binaries(primary.settings.pg_bindir)
    primary.up()
    n = max((int(r.data_dir.name[1:]) for r in replicas(primary)), default=0) + 1
    rep = _replica(primary, n)
    user = rep._server_user()
    for d in (rep.data_dir, rep.run_dir, rep.log_file.parent):
        d.mkdir(parents=True, exist_ok=True)
        rep._give(d, user)
    for d in (primary.data_dir / "replicas",):
        rep._give(d, user)
    conninfo = f"host=127.0.0.1 port={primary.port} user={DB_USER} password={primary.password()}"
    _drop_slot(primary, n)  # left by an earlier rN whose copy was deleted by hand
    try:
        rep._run(
            str(Path(binaries.bindir) / "pg_basebackup"),
            "-d",
            conninfo,
            "-D",
            str(rep.pgdata),
            "-R",  # standby.signal and primary_conninfo: it streams from the primary
            "-X",
            "stream",
            "-c",
            "fast",
            # A slot keeps the primary's WAL until the standby has it, so a stopped standby
            # catches up when restarted (max_slot_wal_keep_size bounds what it may hold).
            "-C",
            "-S",
            _slot(n),
            timeout=3600,
        )
    except ClusterError:
        shutil.rmtree(rep.data_dir, ignore_errors=True)
        _drop_slot(primary, n)
        raise
    rep.pgdata.chmod(0o700)
    rep._write_credentials(primary.password())
    rep.start(binaries)
    return rep


def start_replicas(primary: Cluster) -> list[str]:
    binaries = find_binaries(primary.settings.pg_bindir)
    urls = []
    for rep in replicas(primary):
        rep.start(binaries)
        urls.append(rep.url())
    return urls


def remove_replica(primary: Cluster, n: int) -> bool:
    rep = _replica(primary, n)
    if not rep.data_dir.exists():
        return False
    rep.stop(find_binaries(primary.settings.pg_bindir))
    shutil.rmtree(rep.data_dir)
    _drop_slot(primary, n)
    return True


def _drop_slot(primary: Cluster, n: int) -> None:
    with psycopg.connect(_dsn(primary, primary.password()), autocommit=True) as c:
        c.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
            " WHERE slot_name = %s AND NOT active",
            (_slot(n),),
        )


def caught_up(primary: Cluster, rep: Cluster, seconds: float = 30.0) -> bool:
    """Whether the running standby is a copy of this primary and has replayed all it has.

    A copy of an earlier cluster in the same directory, or one whose WAL the primary
    recycled while it was stopped, never catches up: it serves stale data."""
    password = primary.password()
    with psycopg.connect(_dsn(primary, password), autocommit=True) as c:
        system, lsn = c.execute(
            "SELECT system_identifier, pg_current_wal_lsn() FROM pg_control_system()"
        ).fetchone()  # type: ignore[misc]
    deadline = time.monotonic() + seconds
    try:
        with psycopg.connect(_dsn(rep, password), autocommit=True) as c:
            row = c.execute("SELECT system_identifier FROM pg_control_system()").fetchone()
            if row is None or row[0] != system:
                return False
            while time.monotonic() < deadline:
                row = c.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()
                if row is not None and row[0]:
                    return True
                time.sleep(0.2)
    except psycopg.OperationalError:
        return False
    return False
