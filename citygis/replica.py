"""Hot standbys of the embedded cluster: streaming replicas on loopback, for read scaling.

`citygis db replica add` copies the primary with pg_basebackup (-R: the copy is a standby
that streams from the primary from then on) into `<data dir>/replicas/rN` and starts it on
its own port. Reads then go there with CITYGIS_REPLICA_URLS (spatial_api/replicas.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

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
            timeout=3600,
        )
    except ClusterError:
        shutil.rmtree(rep.data_dir, ignore_errors=True)
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
    return True
