"""Platform settings: environment variables prefixed CITYGIS_, or a .env file."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    # root's home is not traversable by the unprivileged server user, so root
    # keeps the cluster where system services keep theirs.
    if os.geteuid() == 0:
        return Path("/var/lib/citygis")
    return Path(platformdirs.user_data_dir("citygis"))


class DatabaseSettings(BaseSettings):
    """Where the data lives: an external server, or the self-managed cluster."""

    model_config = SettingsConfigDict(env_prefix="CITYGIS_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None, description="External PostgreSQL URL; when unset the embedded cluster is used"
    )
    api_database_url: str | None = Field(
        default=None,
        description="URL the API serves through, a role that cannot alter the schema; unset: "
        "the citygis_api login made from the owner's URL (migration 0008)",
    )
    replica_urls: str = Field(
        default="",
        description="Comma-separated URLs of streaming replicas: reads go there, writes to the "
        "primary, and each caller reads its own writes",
    )
    data_dir: Path = Field(default_factory=default_data_dir)
    pg_port: int = Field(default=55432, ge=1024, le=65535)
    pg_bindir: Path | None = Field(
        default=None, description="Directory holding initdb/pg_ctl; found automatically when unset"
    )
    pg_user: str = Field(default="citygis", description="OS user the server runs as under root")
    pool_size: int = Field(default=10, ge=1, le=200)

    @property
    def embedded(self) -> bool:
        return not self.database_url

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"


class ServerSettings(BaseSettings):
    """How the HTTP API is served."""

    model_config = SettingsConfigDict(env_prefix="CITYGIS_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "info"
    public_url: str | None = Field(
        default=None, description="Base URL clients reach the API at, for links"
    )
    restricted_tokens: str = Field(
        default="",
        description="Comma-separated bearer tokens with the admin role (set-ups from before "
        "roles); `citygis token create` makes tokens per role",
    )
    roles_file: Path | None = Field(
        default=None, description="TOML file that redefines or adds roles (layers/roles.py)"
    )
    alarms_file: Path | None = Field(
        default=None,
        description="CSV of sensor alarm thresholds per kind or sensor, over the shipped "
        "defaults (spatial_api/alarms.py)",
    )
    clearances_file: Path | None = Field(
        default=None,
        description="TOML file of a project's own pipe clearances, over GB 50289-2016's "
        "(spatial_api/analysis/clearance_table.py)",
    )
    pgbouncer: bool = Field(
        default=False,
        description="The database URL is a PgBouncer in transaction pooling mode: no "
        "server-side prepared statements, LISTEN only through listen_url",
    )
    listen_url: str | None = Field(
        default=None,
        description="Direct (unpooled) URL for LISTEN when behind PgBouncer: change "
        "notices reach the caches and token book at once instead of within 30 s",
    )
    statement_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="Longest database statement of one request (0: none); longer is a 503",
    )
    max_in_flight: int = Field(
        default=64, ge=1, description="Requests served at once per process; more wait"
    )
    max_waiting: int = Field(
        default=256, ge=0, description="Requests that may wait; beyond it, 503 at once"
    )
    rate_per_s: float = Field(
        default=0.0, ge=0, description="Requests per second per token (0: no limit)"
    )
    rate_burst: int = Field(default=400, ge=1, description="Requests a token may send at once")
    cors_origins: str = Field(
        default="", description="Comma-separated origins allowed to call the API from a browser"
    )
    audit_flush_s: float = Field(
        default=10.0,
        gt=0,
        description="How often tile reads of restricted layers are written to the audit",
    )
    basemap_url: str | None = Field(
        default=None,
        description="XYZ raster basemap for /map ({z}/{x}/{y}); unset: no "
        "network, the districts are the base map",
    )
    basemap_gcj02: bool = Field(
        default=False,
        description="The basemap is GCJ-02 (AMap, Tencent), so /map shifts "
        "GeoJSON overlays onto it; Tianditu is CGCS2000 and needs no shift",
    )

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.restricted_tokens.split(",") if t.strip())
