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
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)
RECORDED_HELP = (
    "Transaction time: read what the database held at this instant (RFC 3339), e.g. what "
    "an incident log said at 10:05. Without datetime, about that same instant."
)


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
    """OGC `datetime`: an instant, a closed interval a/b, or an open one ../b, a/.. .

    `recorded` is the transaction time to read at: what the database said then about
    that valid time. Without a `datetime`, a recorded read asks about its own instant
    ("what did the command centre know at 10:05 about 10:05").

    `scenario` reads the city with a scenario's edits applied. It travels with the time
    because every reader (items, tiles, analyses) takes both in the same place. Start and
    end both None (and not an instant) mean now.
    """

    start: datetime | None
    end: datetime | None
    instant: bool
    recorded: datetime | None = None
    scenario: str | None = None

    @classmethod
    def parse(
        cls, text: str | None, recorded: str | None = None, scenario: str | None = None
    ) -> DateTimeInterval | None:
        valid = cls._parse_valid(text)
        at = None
        if recorded is not None and recorded.strip() != "":
            at = parse_instant(recorded.strip(), "recorded")
        scenario = scenario.strip() if scenario and scenario.strip() else None
        if at is not None and scenario is not None:
            raise InvalidParameter("recorded and scenario: a scenario is read as it is now")
        if at is None and scenario is None:
            return valid
        if valid is None:
            valid = cls(at, at, True) if at is not None else cls(None, None, False)
        return cls(valid.start, valid.end, valid.instant, at, scenario)

    @property
    def now(self) -> bool:
        return self.start is None and self.end is None and not self.instant

    @property
    def period(self) -> bool:
        """An interval: every version valid during it, not one state of the city."""
        return not self.instant and not self.now

    @classmethod
    def every_version(cls, scenario: str | None = None) -> DateTimeInterval:
        """All of valid time (an asset's whole history), in a scenario if one is named."""
        return cls(EARLIEST, LATEST, False, None, scenario)

    @classmethod
    def _parse_valid(cls, text: str | None) -> DateTimeInterval | None:
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
    With `recorded`, the same, over the rows as the database held them at that time.
    A public view's spec (`generalised_m`) reads its rows generalised (`generalised`).
    """
    if spec.generalised_m is not None:
        return generalised(spec, when)
    if when is not None and when.scenario is not None:
        return _scenario_source(spec, when)
    if when is not None and when.recorded is not None:
        rows = f"{SCHEMA}.{spec.recorded_function}(:recorded)"
        params: dict = {"recorded": when.recorded}
        if when.instant:
            return f"(SELECT * FROM {rows} r WHERE valid @> :at) AS t", {**params, "at": when.start}
        return (
            f"(SELECT * FROM {rows} r WHERE valid && tstzrange(:t_start, :t_end, '[]')) AS t",
            {**params, "t_start": when.start, "t_end": when.end},
        )
    if when is None:
        return f"{SCHEMA}.{spec.current_view} AS t", {}
    if when.instant:
        return f"{SCHEMA}.{spec.as_of_function}(:at) AS t", {"at": when.start}
    return (
        f"(SELECT * FROM {SCHEMA}.{spec.id} WHERE valid && tstzrange(:t_start, :t_end, '[]')) AS t",
        {"t_start": when.start, "t_end": when.end},
    )


M_PER_DEG_LAT = 110_574.0  # GRS80, mid-latitudes: the grid need not be exact, only coarse
M_PER_DEG_LON_EQUATOR = 111_320.0


def generalised(spec: LayerSpec, when: DateTimeInterval | None) -> tuple[str, dict]:
    """The layer's rows as its public view shows them.

    The geometry is 2D, snapped to a grid of `generalised_m` metres (in degrees, the
    longitude step widened by the cosine of the whole-degree latitude band, so no CRS is
    assumed); features that collapse vanish. The id is the version's, not the asset's, and
    only the view's attributes are there. `raw_geom` keeps the stored geometry for the
    index: callers test it against their window widened by `generalised_slack_deg`.
    """
    assert spec.generalised_m is not None
    base_spec = spec.model_copy(update={"generalised_m": None})
    base, params = layer_source(base_spec, when)
    m = spec.generalised_m
    lon_step = f"{m / M_PER_DEG_LON_EQUATOR!r} / cos(radians(round(ST_YMin(t.geom))))"
    snapped = f"ST_SnapToGrid(ST_Force2D(t.geom), 0, 0, {lon_step}, {m / M_PER_DEG_LAT!r})"
    attrs = "".join(f", t.{a.name}" for a in spec.attributes)
    sql = f"""(SELECT t.version_id, 'v' || t.version_id AS asset_id, t.valid{attrs},
        g.geom, t.geom AS raw_geom, NULL::text AS source, t.recorded_at
    FROM {base} CROSS JOIN LATERAL (SELECT {snapped} AS geom) g
    WHERE g.geom IS NOT NULL) AS t"""
    return sql, params


def generalised_slack_deg(spec: LayerSpec) -> float:
    """How far a generalised geometry may lie from the stored one, in degrees, generously:
    half a grid cell's diagonal is 0.71 cells; this allows 1.5 cells up to 60° latitude."""
    assert spec.generalised_m is not None
    return 3 * spec.generalised_m / M_PER_DEG_LON_EQUATOR


def _scenario_source(spec: LayerSpec, when: DateTimeInterval) -> tuple[str, dict]:
    """The live rows with the scenario's edits laid over them.

    An asset the scenario touched is what the scenario says from its first scenario
    version's valid_from on: its live versions before that stay (cut at that instant),
    later ones are hidden. Scenario versions carry negative ids, so ids stay unique and
    nothing mistakes them for live versions.
    """
    attrs = [a.name for a in spec.attributes]
    table, edits = f"{SCHEMA}.{spec.id}", f"{SCHEMA}.{spec.scenario_table}"
    b = ", ".join(f"b.{n}" for n in attrs)
    e = ", ".join(f"e.{n}" for n in attrs)
    if when.now:
        test, params = "valid @> now()", {}
    elif when.instant:
        test, params = "valid @> :at", {"at": when.start}
    else:
        test = "valid && tstzrange(:t_start, :t_end, '[]')"
        params = {"t_start": when.start, "t_end": when.end}
    sql = f"""(SELECT * FROM (
    SELECT b.version_id, b.asset_id,
           CASE WHEN f.since IS NULL THEN b.valid
                ELSE b.valid * tstzrange(NULL, f.since) END AS valid,
           {b}, b.geom, b.source, b.recorded_at
    FROM {table} b LEFT JOIN (
        SELECT asset_id, min(lower(valid)) AS since FROM {edits}
        WHERE scenario_id = :scenario GROUP BY asset_id
    ) f ON f.asset_id = b.asset_id
    WHERE b.{test} AND (f.since IS NULL OR lower(b.valid) < f.since)
    UNION ALL
    SELECT -e.id, e.asset_id, e.valid, {e}, e.geom, e.source, e.recorded_at
    FROM {edits} e WHERE e.scenario_id = :scenario AND e.op = 'put'
) s WHERE {test}) AS t"""
    return sql, {**params, "scenario": when.scenario}
