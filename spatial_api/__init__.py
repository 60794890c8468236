"""The spatial API: OGC API Features/Tiles and analysis over the layer catalog."""

from spatial_api.app import create_app

__all__ = ["create_app"]
