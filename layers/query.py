"""Typed query values every reader of a layer shares: attribute values, valid time, source.

They sit below both the API and the tiles, which parse the same `datetime` and attribute
filters and read the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime

from layers.errors import InvalidParameter
from layers.spec import Attribute, AttrType, LayerSpec
from layers.tables import SCHEMA

Value = str | int | float | bool | date | datetime
_BOOLEAN = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

OPEN = ("..", "")
DATETIME_MAX_LENGTH = 100


def parse_instant(text: str, name: str) -> datetime:
    """An RFC 3339 date-time (UTC when it names no zone), or InvalidParameter naming `name`."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameter(f"{name}: {text!r} is not an RFC 3339 date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def typed_value(attr: Attribute, text: str) -> Value:
    """A query-string value typed like its attribute's column (→ 400 when it cannot be)."""
    try:
        match attr.type:
            case AttrType.integer:
                return int(text)
            case AttrType.real:
                value = float(text)
                if not math.isfinite(value):
                    raise ValueError
                return value
            case AttrType.boolean:
                return _BOOLEAN[text.lower()]
            case AttrType.date:
                return date.fromisoformat(text)
            case AttrType.timestamp:
                return parse_instant(text, attr.name)
    except (ValueError, KeyError):
        raise InvalidParameter(f"{attr.name}: {text!r} is not a valid {attr.type}") from None
    return text


@dataclass(frozen=True)
class DateTimeInterval:
    """OGC `datetime`: an instant, a closed interval a/b, or an open one ../b, a/.. ."""

    start: datetime | None
    end: datetime | None
    instant: bool

    @classmethod
    def parse(cls, text: str | None) -> DateTimeInterval | None:
        if text is None or text.strip() == "":
            return None
        if "/" not in text:
            at = parse_instant(text.strip(), "datetime")
            return cls(at, at, True)
        a, _, b = text.partition("/")
        start = None if a.strip() in OPEN else parse_instant(a.strip(), "datetime")
        end = None if b.strip() in OPEN else parse_instant(b.strip(), "datetime")
        if start is None and end is None:
            raise InvalidParameter("datetime: an interval needs at least one end")
        if start and end and start > end:
            raise InvalidParameter("datetime: the interval ends before it starts")
        return cls(start, end, False)


def layer_source(spec: LayerSpec, when: DateTimeInterval | None) -> tuple[str, dict]:
    """A FROM item (aliased `t`) and its bind parameters; identifiers come from the catalog.

    No datetime: versions valid now. An instant: versions valid then. An interval:
    every version valid at some moment of it (an asset may appear more than once).
    """
    if when is None:
        return f"{SCHEMA}.{spec.current_view} AS t", {}
    if when.instant:
        return f"{SCHEMA}.{spec.as_of_function}(:at) AS t", {"at": when.start}
    return (
        f"(SELECT * FROM {SCHEMA}.{spec.id} WHERE valid && tstzrange(:t_start, :t_end, '[]')) AS t",
        {"t_start": when.start, "t_end": when.end},
    )
