"""A PgBouncer in transaction pooling mode in front of the test cluster (Debian's
pgbouncer), run as the cluster's unprivileged user: PgBouncer, like PostgreSQL, refuses root."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from citygis.cluster import Cluster
from tests.support.database import test_cluster_settings
from tests.support.server import free_port

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


@contextlib.contextmanager
def pgbouncer(db_url: str) -> Iterator[str]:
    """The URL of `db_url`'s database through a fresh PgBouncer (pool_mode = transaction)."""
    url = make_url(db_url)
    user = Cluster(test_cluster_settings())._server_user()
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="citygis-pgbouncer-"))
    (home / "userlist.txt").write_text(f'"{url.username}" "{url.password}"\n')
    (home / "pgbouncer.ini").write_text(
        f"[databases]\n* = host={url.host} port={url.port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir = {home}\n"
        f"auth_type = scram-sha-256\nauth_file = {home}/userlist.txt\n"
        "pool_mode = transaction\ndefault_pool_size = 4\nmax_client_conn = 200\n"
        "ignore_startup_parameters = extra_float_digits\n"
        f"logfile = {home}/pgbouncer.log\npidfile = {home}/pgbouncer.pid\n"
    )
    if os.geteuid() == 0:
        for path in (home, *home.iterdir()):
            os.chown(path, user.pw_uid, user.pw_gid)
    (home / "userlist.txt").chmod(0o600)
    drop = os.geteuid() == 0
    proc = subprocess.Popen(
        [BINARY, str(home / "pgbouncer.ini")],
        user=user.pw_uid if drop else None,
        group=user.pw_gid if drop else None,
        extra_groups=[] if drop else None,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (
                    (home / "pgbouncer.log").read_text()
                    if (home / "pgbouncer.log").exists()
                    else ""
                )
                raise RuntimeError(f"pgbouncer did not start: {proc.stderr.read()!r} {log}")
            time.sleep(0.1)
        yield url.set(port=port).render_as_string(hide_password=False)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)
