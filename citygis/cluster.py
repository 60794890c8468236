"""The self-managed PostgreSQL + PostGIS + pgRouting cluster (the embedded default).

PostgreSQL refuses to run as root, so when invoked as root the server runs as an
unprivileged system user that owns the data directory; the password stays with
the invoking user.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from citygis.settings import DatabaseSettings

log = logging.getLogger(__name__)

DB_NAME = "citygis"
DB_USER = "citygis"
REQUIRED_EXTENSIONS = ("postgis", "pgrouting", "btree_gist")


class ClusterError(RuntimeError):
    """The embedded cluster cannot be created, started or reached."""


class MissingBinaries(ClusterError):
    """PostgreSQL, PostGIS or pgRouting is not installed."""

    def __init__(self, missing: list[str], packages: list[str]):
        self.missing = missing
        self.packages = packages
        super().__init__(
            f"missing: {', '.join(missing)}. Install the packages "
            f"{' '.join(packages)} (Debian/Ubuntu: apt-get install -y {' '.join(packages)}), "
            "or set CITYGIS_DATABASE_URL to an existing PostGIS server."
        )


@dataclass(frozen=True)
class Binaries:
    bindir: Path
    sharedir: Path
    major: int

    def tool(self, name: str) -> str:
        return str(self.bindir / name)


def _candidate_bindirs(configured: Path | None) -> list[Path]:
    if configured:
        return [configured]
    found = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            found.append(Path(out.stdout.strip()))
    # Debian keeps server binaries out of PATH, one directory per major version.
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_major_of, reverse=True)
    return found + versions


def _major_of(bindir: Path) -> int:
    try:
        return int(bindir.parent.name)
    except ValueError:
        return 0


def find_binaries(configured: Path | None = None) -> Binaries:
    """Locate initdb/pg_ctl and check PostGIS and pgRouting are installed for them."""
    bindir = next((d for d in _candidate_bindirs(configured) if (d / "initdb").exists()), None)
    if bindir is None:
        raise MissingBinaries(
            ["PostgreSQL server (initdb, pg_ctl)"],
            ["postgresql", "postgresql-postgis", "postgresql-pgrouting"],
        )
    version = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    major = int(version.split()[-1].split(".")[0])
    sharedir = _sharedir(bindir, major)
    missing, packages = [], []
    if not (sharedir / "extension" / "postgis.control").exists():
        missing.append("PostGIS")
        packages.append(f"postgresql-{major}-postgis-3")
    if not (sharedir / "extension" / "pgrouting.control").exists():
        missing.append("pgRouting")
        packages.append(f"postgresql-{major}-pgrouting")
    if missing:
        raise MissingBinaries(missing, packages)
    return Binaries(bindir=bindir, sharedir=sharedir, major=major)


def _sharedir(bindir: Path, major: int) -> Path:
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        out = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True)
        if out.returncode == 0 and Path(out.stdout.strip()).exists():
            return Path(out.stdout.strip())
    return Path(f"/usr/share/postgresql/{major}")


@dataclass(frozen=True)
class Status:
    running: bool
    pid: int | None
    port: int
    data_dir: Path
    url: str | None


class Cluster:
    """A private PostgreSQL cluster in a data directory, on loopback only."""

    def __init__(self, settings: DatabaseSettings):
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.run_dir = self.data_dir / "run"
        self.log_file = self.data_dir / "log" / "postgresql.log"
        self.credentials = self.data_dir / "credentials.json"
        self.port = settings.pg_port

    # -- who runs the server -------------------------------------------------

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def _server_user(self) -> pwd.struct_passwd:
        if not self.as_root:
            return pwd.getpwuid(os.geteuid())
        name = self.settings.pg_user
        try:
            return pwd.getpwnam(name)
        except KeyError:
            log.info("creating system user %s to run PostgreSQL (it refuses root)", name)
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--home-dir",
                    str(self.data_dir),
                    "--shell",
                    "/usr/sbin/nologin",
                    name,
                ],
                check=True,
                capture_output=True,
            )
            return pwd.getpwnam(name)

    def _run(
        self, *args: str, check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a server tool as the server user (dropping root when we have it)."""
        user = self._server_user()
        env = {**os.environ, "HOME": str(self.data_dir), "LC_ALL": "C.UTF-8"}
        env.pop("PGDATA", None)
        drop = self.as_root  # to the server user: PostgreSQL refuses to run as root
        proc = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            cwd=self.data_dir,
            env=env,
            user=user.pw_uid if drop else None,
            group=user.pw_gid if drop else None,
            extra_groups=[] if drop else None,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise ClusterError(f"{Path(args[0]).name} failed: {proc.stderr.strip() or proc.stdout}")
        return proc

    def _check_reachable(self, user: pwd.struct_passwd) -> None:
        # The server user must be able to walk down to the data directory.
        for parent in [self.data_dir, *self.data_dir.parents]:
            st = parent.stat()
            if st.st_uid != user.pw_uid and not st.st_mode & stat.S_IXOTH:
                raise ClusterError(
                    f"{parent} is not traversable by the server user {user.pw_name}; "
                    "choose another CITYGIS_DATA_DIR"
                )

    # -- lifecycle ------------------------------------------------------------

    @property
    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def init(self, binaries: Binaries) -> None:
        """Create the data directory and cluster once; a second call changes nothing."""
        user = self._server_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._check_reachable(user)
        for d in (self.pgdata, self.run_dir, self.log_file.parent):
            d.mkdir(parents=True, exist_ok=True)
            self._give(d, user)
        self.pgdata.chmod(0o700)
        if self.initialized:
            return
        password = secrets.token_urlsafe(24)
        pwfile = self.run_dir / ".initdb-pw"
        pwfile.write_text(password + "\n")
        self._give(pwfile, user)
        pwfile.chmod(0o600)
        log.info("initialising PostgreSQL %s cluster in %s", binaries.major, self.pgdata)
        try:
            self._run(
                binaries.tool("initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                DB_USER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self._write_credentials(password)
        # Server settings live in conf.d-style include so they can be re-applied.
        conf = self.pgdata / "postgresql.conf"
        with conf.open("a") as f:
            f.write("\ninclude_if_exists = 'citygis.conf'\n")
        self._write_server_conf(user)

    def _write_credentials(self, password: str) -> None:
        self.credentials.write_text(json.dumps({"user": DB_USER, "password": password}))
        self.credentials.chmod(0o600)

    def _write_server_conf(self, user: pwd.struct_passwd) -> None:
        path = self.pgdata / "citygis.conf"
        path.write_text(
            "# Written by citygis db up; loopback only.\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.run_dir}'\n"
            "shared_buffers = '512MB'\n"
            "work_mem = '32MB'\n"
            "maintenance_work_mem = '512MB'\n"
            "max_wal_size = '2GB'\n"
            # A replica's slot (citygis/replica.py) may hold this much WAL while it is down.
            "max_slot_wal_keep_size = '4GB'\n"
            "jit = off\n"
        )
        self._give(path, user)

    def _give(self, path: Path, user: pwd.struct_passwd) -> None:
        if self.as_root:
            os.chown(path, user.pw_uid, user.pw_gid)

    def _pid_from_file(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def _is_our_postmaster(self, pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return (
            bool(cmdline)
            and Path(cmdline[0].decode()).name in {"postgres", "postmaster"}
            and (str(self.pgdata).encode() in cmdline)
        )

    def running_pid(self) -> int | None:
        pid = self._pid_from_file()
        return pid if pid and self._is_our_postmaster(pid) else None

    def _clear_stale_pid(self) -> None:
        pid = self._pid_from_file()
        pidfile = self.pgdata / "postmaster.pid"
        if pidfile.exists() and not (pid and self._is_our_postmaster(pid)):
            log.warning("removing stale %s (pid %s is not this cluster's server)", pidfile, pid)
            pidfile.unlink()

    def start(self, binaries: Binaries) -> None:
        if self.running_pid():
            log.info("PostgreSQL already running on 127.0.0.1:%s", self.port)
            return
        self._clear_stale_pid()
        self._write_server_conf(self._server_user())
        log.info("starting PostgreSQL on 127.0.0.1:%s", self.port)
        self._run(
            binaries.tool("pg_ctl"),
            "start",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            "120",
        )

    def stop(self, binaries: Binaries) -> bool:
        if not self.initialized:
            return False
        if not self.running_pid():
            self._clear_stale_pid()
            return False
        log.info("stopping PostgreSQL in %s", self.pgdata)
        self._run(binaries.tool("pg_ctl"), "stop", "-D", str(self.pgdata), "-m", "fast", "-w")
        return True

    def password(self) -> str:
        try:
            return json.loads(self.credentials.read_text())["password"]
        except FileNotFoundError as exc:
            raise ClusterError(f"no cluster in {self.data_dir}; run `citygis db up`") from exc

    def url(self, dbname: str = DB_NAME) -> str:
        return f"postgresql+psycopg://{DB_USER}:{self.password()}@127.0.0.1:{self.port}/{dbname}"

    def ensure_database(self) -> None:
        dsn = f"host=127.0.0.1 port={self.port} user={DB_USER} dbname=postgres"
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(dsn, password=self.password(), autocommit=True)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        with conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,))
            if exists.fetchone() is None:
                log.info("creating database %s", DB_NAME)
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))

    def up(self) -> str:
        """Create if needed, start if stopped, and return the SQLAlchemy URL."""
        binaries = find_binaries(self.settings.pg_bindir)
        self.init(binaries)
        self.start(binaries)
        self.ensure_database()
        return self.url()

    def down(self) -> bool:
        return self.stop(find_binaries(self.settings.pg_bindir))

    def status(self) -> Status:
        pid = self.running_pid() if self.initialized else None
        url = self.url() if self.credentials.exists() else None
        return Status(
            running=pid is not None, pid=pid, port=self.port, data_dir=self.data_dir, url=url
        )


def database_url(settings: DatabaseSettings, start: bool = True) -> str:
    """The URL everything connects to: the external one, or the embedded cluster's."""
    if settings.database_url:
        url = settings.database_url
        # Accept plain libpq URLs and use the psycopg 3 driver for them.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
    cluster = Cluster(settings)
    return cluster.up() if start else cluster.url()
