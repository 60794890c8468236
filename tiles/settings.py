"""Tile service settings: environment variables prefixed CITYGIS_TILES_."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TileSettings(BaseSettings):
    """How tiles are generalised, cached and announced to HTTP caches."""

    model_config = SettingsConfigDict(env_prefix="CITYGIS_TILES_", env_file=".env", extra="ignore")

    max_features: int = Field(default=20_000, ge=1, description="Per layer per tile")
    cache_mb: float = Field(default=256, ge=0, description="In-process tile cache bound")
    current_ttl_s: float = Field(
        default=60,
        ge=0,
        description="Cached tiles of current data are re-rendered after "
        "this, since versions can start or end by the clock alone, with no write",
    )
    current_max_age_s: int = Field(default=10, ge=0, description="HTTP max-age, current data")
    past_max_age_s: int = Field(default=3600, ge=0, description="HTTP max-age, past as-of")
    connections: int = Field(default=8, ge=1, description="Database connections for tiles")
    listen: bool = Field(default=True, description="LISTEN citygis_layer_changed")
