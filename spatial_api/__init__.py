"""The spatial API: OGC API Features/Tiles and analysis over the layer catalog."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spatial_api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str):
    # Lazy, so `import tiles.x` or `import spatial_api.errors` does not build the whole app
    # (whose routers import those modules back).
    if name == "create_app":
        from spatial_api.app import create_app

        return create_app
    raise AttributeError(name)
