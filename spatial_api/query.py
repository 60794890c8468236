"""Where a layer's rows come from for a request: current view, as-of function, or a period."""

from __future__ import annotations

from layers import LayerSpec
from layers.tables import SCHEMA
from spatial_api.params import DateTimeInterval


def layer_source(spec: LayerSpec, when: DateTimeInterval | None) -> tuple[str, dict]:
    """A FROM item (aliased `t`) and its bind parameters; identifiers come from the catalog.

    No datetime: versions valid now. An instant: versions valid then. An interval:
    every version valid at some moment of it (an asset may appear more than once).
    """
    if when is None:
        return f"{SCHEMA}.{spec.current_view} AS t", {}
    if when.instant:
        return f"{SCHEMA}.{spec.as_of_function}(:at) AS t", {"at": when.start}
    return (f"(SELECT * FROM {SCHEMA}.{spec.id} "
            f"WHERE valid && tstzrange(:t_start, :t_end, '[]')) AS t",
            {"t_start": when.start, "t_end": when.end})
