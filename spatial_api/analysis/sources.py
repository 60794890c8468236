"""Layer features as analysis input: the layer (access-checked), attribute filters, valid time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import bindparam
from sqlalchemy.sql.elements import BindParameter

from layers import LayerSpec
from layers.errors import InvalidParameter
from layers.query import DateTimeInterval, layer_source
from layers.spec import PY_TYPES, AttrType
from layers.tables import SQL_TYPES

Scalar = str | int | float | bool | None
MAX_INPUT_FEATURES = 100_000


def parse_when(text: str | None, scenario: str | None = None) -> DateTimeInterval | None:
    return DateTimeInterval.parse(text, scenario=scenario)


def _coerce(spec: LayerSpec, name: str, value: Scalar) -> Any:
    try:
        attr = spec.attribute(name)
    except KeyError:
        raise InvalidParameter(f"filter: layer {spec.id!r} has no attribute {name!r}") from None
    if value is None:
        return None
    target = {AttrType.date: date, AttrType.timestamp: datetime}.get(attr.type)
    try:
        if target is not None:
            return TypeAdapter(target).validate_python(value)
        if isinstance(value, bool) != (attr.type is AttrType.boolean) or not isinstance(
            value, PY_TYPES[attr.type]
        ):
            raise ValueError
    except (ValidationError, ValueError):
        raise InvalidParameter(f"filter: {name}={value!r} is not a {attr.type} value") from None
    return value


@dataclass(frozen=True)
class Selection:
    """`SELECT props (jsonb of asset_id and attributes), geom FROM layer`, as of a time."""

    spec: LayerSpec
    sql: str
    params: dict[str, Any]
    binds: tuple[BindParameter, ...]
    inputs: str | None = None  # the rows `sql` derives from, when not its own (to count)


def select_features(
    spec: LayerSpec,
    when: DateTimeInterval | None,
    filters: dict[str, Scalar] | None,
    prefix: str = "s",
) -> Selection:
    """Every attribute and the geometry of the matching versions, bound parameters only.

    `geom` is the bare column so KNN ordering and bbox tests on it use the GiST index.
    """
    source, params = layer_source(spec, when)
    params = {f"{prefix}_{k}": v for k, v in params.items()}
    for k in ("at", "t_start", "t_end", "recorded", "scenario"):
        source = source.replace(f":{k}", f":{prefix}_{k}")
    where, binds = [], []
    for i, (name, value) in enumerate((filters or {}).items()):
        coerced = _coerce(spec, name, value)
        key = f"{prefix}_f{i}"
        if coerced is None:
            where.append(f"t.{name} IS NULL")
            continue
        where.append(f"t.{name} = :{key}")
        params[key] = coerced
        binds.append(bindparam(key, type_=SQL_TYPES[spec.attribute(name).type]))
    # jsonb_build_object takes at most 100 arguments: 49 attributes, ample for our layers.
    pairs = ", ".join(f"'{a.name}', t.{a.name}" for a in spec.attributes)
    sql = (
        f"SELECT jsonb_build_object('asset_id', t.asset_id, {pairs}) AS props, "
        f"t.geom FROM {source}" + (" WHERE " + " AND ".join(where) if where else "")
    )
    return Selection(spec, sql, params, tuple(binds))
