"""Attribute equality filters on tiles (`?utility=gas`): catalog attributes only, typed values."""

from __future__ import annotations

from collections.abc import Iterable

from layers import Attribute, LayerSpec
from layers.errors import InvalidParameter
from layers.query import Value, typed_value

# Query parameters that are not attribute filters.
RESERVED = frozenset({"datetime", "recorded", "scenario", "collections", "token", "f", "shift"})


def checked_value(attr: Attribute, text: str) -> Value:
    """The value as the column's type, one of the attribute's choices when it has them."""
    value = typed_value(attr, text)
    if attr.choices and text not in attr.choices:
        raise InvalidParameter(f"{attr.name}: {text!r} is not one of {', '.join(attr.choices)}")
    return value


def _find(spec: LayerSpec, name: str) -> Attribute | None:
    try:
        return spec.attribute(name)
    except KeyError:
        return None


def parse_filters(
    specs: Iterable[LayerSpec], pairs: Iterable[tuple[str, str]]
) -> dict[str, dict[str, Value]]:
    """Per layer id, the filters that apply to it.

    In a multi-layer tile a filter applies to the layers that have the attribute; a name
    none of them has, or a name given twice, is a 400.
    """
    specs = list(specs)
    raw: dict[str, str] = {}
    for name, text in pairs:
        if name in RESERVED:
            continue
        if name in raw:
            raise InvalidParameter(f"{name}: give one value (filters are equality tests)")
        raw[name] = text
    out: dict[str, dict[str, Value]] = {spec.id: {} for spec in specs}
    for name, text in sorted(raw.items()):
        matched = False
        for spec in specs:
            if attr := _find(spec, name):
                out[spec.id][name] = checked_value(attr, text)
                matched = True
        if not matched:
            layers = ", ".join(s.id for s in specs)
            raise InvalidParameter(
                f"{name}: not an attribute of {layers}; filters take catalog attribute names"
            )
    return out
