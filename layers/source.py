"""What items and tiles read of a collection: its rows, its properties and its extent.

Catalog layers (`LayerSource`) and saved analysis results
(spatial_api/analysis/results.py, `ResultSource`) both answer this protocol, so one items
query and one MVT query serve both. tipg's `Collection` is the model for the seam; ours
is only what those two queries need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from layers.query import DateTimeInterval, layer_source
from layers.spec import Access, AttrType, LayerSpec
from layers.tables import SCHEMA

# Version columns every layer feature carries besides its catalog attributes.
VERSION_PROPS = ("version_id", "valid_from", "valid_to")
VERSION_SQL = {
    "version_id": "t.version_id",
    "valid_from": "lower(t.valid)",
    "valid_to": "upper(t.valid)",
    "id": "t.asset_id",
    "asset_id": "t.asset_id",
}


class FeatureSource(Protocol):
    """A collection as the items and tiles queries read it.

    `rows` is a FROM item aliased `t` with at least `version_id` (unique: pages are
    ordered by it and it is the MVT feature id), `asset_id` (text, the feature id) and
    `geom` (storage CRS); the properties are read from `t` by the SQL given here.
    `spec` is the catalog layer behind it (attributes, style, filters), if any.
    """

    @property
    def id(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def access(self) -> Access: ...

    @property
    def sources(self) -> tuple[str, ...]: ...

    @property
    def spec(self) -> LayerSpec | None: ...

    def rows(self, when: DateTimeInterval | None) -> tuple[str, dict[str, Any]]: ...

    def properties_sql(self, names: Sequence[str] | None) -> str:
        """A json object of a row's properties (`names`: only those)."""
        ...

    def tile_columns(self, names: Sequence[str]) -> list[tuple[str, str]]:
        """(column of `t`, MVT attribute expression) pairs for the attributes drawn."""
        ...

    def extent_sql(self) -> tuple[str, dict[str, Any]]:
        """One row: xmin, ymin, xmax, ymax of the features, and the start and end of time."""
        ...


_LAYER_EXTENT = """
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e),
       (SELECT min(lower(valid)) FROM {table}),
       (SELECT CASE WHEN bool_or(upper_inf(valid)) THEN NULL ELSE max(upper(valid)) END
        FROM {table})
FROM (SELECT ST_Extent(geom) AS e FROM {current}) s
"""


@dataclass(frozen=True)
class LayerSource:
    """A catalog layer in valid time: its versions now, at an instant, or over a period."""

    spec: LayerSpec

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def title(self) -> str:
        return f"{self.spec.title} ({self.spec.title_zh})"

    @property
    def description(self) -> str:
        return self.spec.description

    @property
    def access(self) -> Access:
        return self.spec.access

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.spec.id,)

    def rows(self, when: DateTimeInterval | None) -> tuple[str, dict[str, Any]]:
        return layer_source(self.spec, when)

    def properties_sql(self, names: Sequence[str] | None) -> str:
        chosen = (
            names
            if names is not None
            else (*VERSION_PROPS, *(a.name for a in self.spec.attributes))
        )
        pairs = ", ".join(f"'{n}', {VERSION_SQL.get(n, f't.{n}')}" for n in chosen)
        return f"json_build_object({pairs})"

    def tile_columns(self, names: Sequence[str]) -> list[tuple[str, str]]:
        # MVT values are strings, numbers or booleans; dates leave as ISO 8601 text.
        def shown(name: str) -> str:
            if self.spec.attribute(name).type in (AttrType.date, AttrType.timestamp):
                return f"to_json(t.{name}) #>> '{{}}' AS {name}"
            return f"t.{name}"

        return [(f"t.{n}", shown(n)) for n in names]

    def extent_sql(self) -> tuple[str, dict[str, Any]]:
        return _LAYER_EXTENT.format(
            table=f"{SCHEMA}.{self.spec.id}", current=f"{SCHEMA}.{self.spec.current_view}"
        ), {}
