"""Domain errors, raised by every package; spatial_api/errors.py maps them to HTTP statuses."""

from __future__ import annotations

from layers.catalog import LayerNotFound


class InvalidParameter(ValueError):
    """A query parameter or body value the platform cannot use (→ 400)."""


class Forbidden(PermissionError):
    """A restricted layer asked for without the right credentials (→ 403)."""


class Unauthorized(PermissionError):
    """No token where one is needed, or one unknown, expired or revoked (→ 401)."""


class Conflict(RuntimeError):
    """A write that clashes with what is stored: an existing asset, a changed live asset
    under a scenario commit (→ 409). `assets` names them."""

    def __init__(self, message: str, assets: list[str] | None = None):
        super().__init__(message)
        self.assets = assets or []


class PreconditionFailed(RuntimeError):
    """If-Match names a version that is no longer current (→ 412)."""


class InvalidFeatures(ValueError):
    """A write whose features break the catalog's rules (→ 422); `problems` lists each."""

    def __init__(self, problems: list[dict]):
        first = problems[0]["reason"] if problems else "invalid"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}")
        self.problems = problems


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
    "Conflict",
    "FeatureNotFound",
    "Forbidden",
    "InvalidFeatures",
    "InvalidParameter",
    "LayerNotFound",
    "NotFound",
    "PreconditionFailed",
    "TileMatrixSetNotFound",
    "TileNotFound",
    "TooLarge",
    "Unauthorized",
]
