"""The self-managed cluster, driven through the CLI as a user would."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import psycopg
import pytest

from tests.support.server import free_port

CITYGIS = [sys.executable, "-m", "citygis.cli"]
is_root = os.geteuid() == 0


def run(args, env, user=None, python=None, check=True):
    cmd = CITYGIS if python is None else python
    as_user = (
        {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    )
    proc = subprocess.run(
        [*cmd, *args], env=env, capture_output=True, text=True, timeout=180, cwd="/", **as_user
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def cluster_env(data_dir: Path, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYGIS_")}
    return env | {"CITYGIS_DATA_DIR": str(data_dir), "CITYGIS_PG_PORT": str(port)}


def connect(env) -> psycopg.Connection:
    url = run(["db", "url"], env).stdout.strip()
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))


@pytest.fixture
def open_tmp():
    """A temp dir the unprivileged server user can walk into (pytest's is private)."""
    path = Path(tempfile.mkdtemp(prefix="citygis-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    base = Path(tempfile.mkdtemp(prefix="citygis-cluster-"))
    base.chmod(0o755)
    env = cluster_env(base / "data", free_port())
    yield env
    run(["db", "down"], env, check=False)
    shutil.rmtree(base, ignore_errors=True)


def test_up_twice_down_up_again_keeps_data(cluster):
    first = run(["db", "up"], cluster)
    assert "database ready" in first.stdout
    second = run(["db", "up"], cluster)
    assert "already running" in second.stderr
    with connect(cluster) as conn:
        conn.execute(
            "INSERT INTO city.load_runs (layer_id, source, mode) "
            "VALUES ('roads', 'kept.gpkg', 'upsert')"
        )
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert conn.execute(
            "SELECT extname FROM pg_extension WHERE extname IN "
            "('postgis','pgrouting','btree_gist') ORDER BY 1"
        ).fetchall() == [("btree_gist",), ("pgrouting",), ("postgis",)]

    status = json.loads(run(["db", "status", "--json"], cluster).stdout)
    assert status["running"] is True
    assert run(["db", "down"], cluster).stdout.strip() == "stopped"
    assert run(["db", "down"], cluster).stdout.strip() == "not running"
    assert run(["db", "status"], cluster, check=False).returncode == 3

    run(["db", "up"], cluster)
    with connect(cluster) as conn:
        assert conn.execute("SELECT source FROM city.load_runs").fetchall() == [("kept.gpkg",)]


@pytest.mark.skipif(not is_root, reason="only meaningful when invoked as root")
def test_as_root_the_server_runs_unprivileged(cluster):
    run(["db", "up"], cluster)
    status = json.loads(run(["db", "status", "--json"], cluster).stdout)
    uid = int(Path(f"/proc/{status['pid']}/status").read_text().split("Uid:")[1].split()[0])
    assert uid != 0
    assert pwd.getpwuid(uid).pw_name == "citygis"
    data = Path(cluster["CITYGIS_DATA_DIR"])
    assert (data / "pgdata").stat().st_uid == uid
    # The password stays with the invoking user.
    creds = data / "credentials.json"
    assert creds.stat().st_uid == 0 and oct(creds.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("stale_pid", ["dead", "alive-not-postgres"])
def test_up_recovers_from_a_stale_pid_file(cluster, stale_pid):
    run(["db", "up"], cluster)
    run(["db", "down"], cluster)
    pidfile = Path(cluster["CITYGIS_DATA_DIR"]) / "pgdata" / "postmaster.pid"
    impostor = subprocess.Popen(["sleep", "60"])
    pid = 2**22 - 7 if stale_pid == "dead" else impostor.pid
    try:
        pidfile.write_text(f"{pid}\n{pidfile.parent}\n")
        assert run(["db", "status"], cluster, check=False).returncode == 3
        up = run(["db", "up"], cluster)
        assert "stale" in up.stderr
        with connect(cluster) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        impostor.kill()


def test_missing_postgres_names_the_packages(tmp_path):
    env = cluster_env(tmp_path / "data", free_port()) | {"CITYGIS_PG_BINDIR": str(tmp_path)}
    proc = run(["db", "up"], env, check=False)
    assert proc.returncode == 1
    assert "PostgreSQL server" in proc.stderr and "postgresql-postgis" in proc.stderr


def test_missing_postgis_names_the_packages_for_that_version(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "initdb").write_text("#!/bin/sh\nexit 1\n")
    (bindir / "postgres").write_text("#!/bin/sh\necho 'postgres (PostgreSQL) 99.1'\n")
    for tool in ("initdb", "postgres"):
        (bindir / tool).chmod(0o755)
    env = cluster_env(tmp_path / "data", free_port()) | {"CITYGIS_PG_BINDIR": str(bindir)}
    proc = run(["db", "up"], env, check=False)
    assert proc.returncode == 1
    assert "missing: PostGIS, pgRouting" in proc.stderr
    assert "postgresql-99-postgis-3 postgresql-99-pgrouting" in proc.stderr


def _python_for(user: pwd.struct_passwd) -> list[str] | None:
    """This interpreter as another user can run it (root's pyenv may be unreadable)."""
    site = sysconfig.get_paths()["purelib"]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = (
        os.path.realpath(sys.executable),
        f"/usr/bin/{version}",
        f"/usr/local/bin/{version}",
    )
    for exe in candidates:
        try:
            ok = (
                subprocess.run(
                    [exe, "-c", "pass"], user=user.pw_uid, capture_output=True, cwd="/"
                ).returncode
                == 0
            )
        except OSError:
            ok = False
        if ok:
            # addsitedir runs the venv's .pth files, which find the editable install.
            code = f"import site; site.addsitedir({site!r}); from citygis.cli import app; app()"
            return [exe, "-S", "-c", code]  # -S: no system site-packages in the way
    return None


@pytest.mark.skipif(not is_root, reason="needs root to become an ordinary user")
def test_an_ordinary_user_runs_its_own_cluster(open_tmp, cluster):
    run(["db", "up"], cluster)  # makes sure the system user exists
    user = pwd.getpwnam("citygis")
    python = _python_for(user)
    if python is None:
        pytest.skip(f"no Python {sys.version_info[:2]} that user {user.pw_name} can run")
    data = open_tmp / "mine"
    data.mkdir()
    os.chown(data, user.pw_uid, user.pw_gid)
    env = cluster_env(data, free_port()) | {"HOME": str(data)}
    try:
        run(["db", "up"], env, user=user, python=python)
        status = json.loads(run(["db", "status", "--json"], env, user=user, python=python).stdout)
        assert status["running"]
        creds = data / "credentials.json"
        assert creds.stat().st_uid == user.pw_uid
    finally:
        run(["db", "down"], env, user=user, python=python, check=False)
