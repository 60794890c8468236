"""Small self-validating query parameter models shared by every router."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Query

from layers import Attribute, AttrType
from spatial_api.errors import InvalidParameter

Value = str | int | float | bool | date | datetime
_BOOLEAN = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

OPEN = ("..", "")
DATETIME_MAX_LENGTH = 100


def _instant(text: str, name: str) -> datetime:
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
                return _instant(text, attr.name)
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
            at = _instant(text.strip(), "datetime")
            return cls(at, at, True)
        a, _, b = text.partition("/")
        start = None if a.strip() in OPEN else _instant(a.strip(), "datetime")
        end = None if b.strip() in OPEN else _instant(b.strip(), "datetime")
        if start is None and end is None:
            raise InvalidParameter("datetime: an interval needs at least one end")
        if start and end and start > end:
            raise InvalidParameter("datetime: the interval ends before it starts")
        return cls(start, end, False)


async def datetime_param(
    datetime_: Annotated[str | None, Query(
        alias="datetime", max_length=DATETIME_MAX_LENGTH,
        description="Valid time: an instant (the layer as it was then), or an interval "
                    "a/b, ../b, a/.. (every version valid during it). Default: now.",
    )] = None,
) -> DateTimeInterval | None:
    return DateTimeInterval.parse(datetime_)
