"""Domain errors, raised by every package; spatial_api/errors.py maps them to HTTP statuses."""

from __future__ import annotations

from layers.catalog import LayerNotFound


class InvalidParameter(ValueError):
    """A query parameter or body value the platform cannot use (→ 400)."""


class Forbidden(PermissionError):
    """A restricted layer asked for without the right credentials (→ 403)."""


class TooLarge(ValueError):
    """An input geometry or an answer bigger than the API will handle (→ 413)."""


class NotFound(LookupError):
    """Nothing to answer with: no route, no such (or an expired) result (→ 404)."""


class TileMatrixSetNotFound(LookupError):
    """A tile matrix set the tile service does not offer (→ 404)."""


class TileNotFound(LookupError):
    """A tileMatrix, tileRow or tileCol outside the tile matrix set (→ 404)."""


class FeatureNotFound(LookupError):
    """No feature with that id in a collection (→ 404)."""


__all__ = [
    "FeatureNotFound",
    "Forbidden",
    "InvalidParameter",
    "LayerNotFound",
    "NotFound",
    "TileMatrixSetNotFound",
    "TileNotFound",
    "TooLarge",
]
