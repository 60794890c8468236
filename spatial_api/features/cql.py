"""CQL2 (text or JSON) filters → SQL over one layer, through pygeofilter's parsers.

Property names resolve only against the catalog (plus `geometry`, `datetime`, `id` and the
version columns); every literal becomes a bind parameter. CQL2 1.0 has no distance
predicate (no S_DWITHIN); "within d metres of" is /lbs/within.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime

from lark.exceptions import LarkError
from pygeofilter import ast, cql2, values
from pygeofilter.backends.evaluator import Evaluator, handle
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parse as parse_text

from layers import AttrType, LayerSpec
from layers.errors import InvalidParameter
from spatial_api.features.binds import Binds
from spatial_api.features.crs import Crs, storage_geometry


class TimeIntersects(ast.TemporalPredicate):
    """CQL2's T_INTERSECTS, which pygeofilter 0.4 parses as T_OVERLAPS (a different test)."""


cql2.TEMPORAL_PREDICATES_MAP["t_intersects"] = TimeIntersects
cql2.BINARY_OP_PREDICATES_MAP["t_intersects"] = TimeIntersects

_FUNC_CALL = re.compile(r"\b(T_[A-Z]+)\s*\(", re.IGNORECASE)


def _infix_temporal(text: str) -> str:
    """`T_BEFORE(a, b)` → `(a T_BEFORE b)`: pygeofilter's CQL2-text grammar is infix only."""
    out, i = [], 0
    while m := _FUNC_CALL.search(text, i):
        if text[: m.start()].count("'") % 2:  # inside a string literal
            out.append(text[i : m.end()])
            i = m.end()
            continue
        depth, j, args, start = 1, m.end(), [], m.end()
        while j < len(text) and depth:
            c = text[j]
            if c == "'":
                j = text.index("'", j + 1) if "'" in text[j + 1 :] else len(text)
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            elif c == "," and depth == 1:
                args.append(text[start:j])
                start = j + 1
            j += 1
        if depth or len(args) != 1:
            raise InvalidParameter(f"filter: {m.group(1)} needs two arguments")
        args.append(text[start : j - 1])
        lhs, rhs = (_infix_temporal(a.strip()) for a in args)
        op = m.group(1).upper()
        call = f"NOT ({lhs} T_INTERSECTS {rhs})" if op == "T_DISJOINT" else f"({lhs} {op} {rhs})"
        out += [text[i : m.start()], call]
        i = j
    return "".join(out) + text[i:]


def parse(text: str, lang: str) -> ast.Node:
    """The filter's syntax tree; a syntax error is a 400 carrying the parser's message."""
    try:
        if lang == "cql2-json":
            return parse_json(json.loads(text))
        return parse_text(_infix_temporal(text))
    except InvalidParameter:
        raise
    except (LarkError, ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InvalidParameter(f"filter: invalid {lang}: {message}") from None


@dataclass(frozen=True)
class Expr:
    sql: str
    kind: str  # text, number, boolean, date, timestamp, geometry, period, bool-expr, list


KINDS = {
    AttrType.text: "text",
    AttrType.integer: "number",
    AttrType.real: "number",
    AttrType.boolean: "boolean",
    AttrType.date: "date",
    AttrType.timestamp: "timestamp",
}
COMPARABLE = {("date", "timestamp"), ("timestamp", "date"), ("null", "null")}
TEMPORAL_SQL = {
    TimeIntersects: "{a} && {b}",
    ast.TimeDisjoint: "NOT ({a} && {b})",
    ast.TimeBefore: "{a} << {b}",
    ast.TimeAfter: "{a} >> {b}",
    ast.TimeDuring: "{a} <@ {b}",
    ast.TimeContains: "{a} @> {b}",
    ast.TimeEquals: "{a} = {b}",
    ast.TimeMeets: "upper({a}) = lower({b})",
    ast.TimeMetBy: "lower({a}) = upper({b})",
}
SPATIAL_SQL = {
    ast.GeometryIntersects: "ST_Intersects",
    ast.GeometryDisjoint: "ST_Disjoint",
    ast.GeometryContains: "ST_Contains",
    ast.GeometryWithin: "ST_Within",
    ast.GeometryTouches: "ST_Touches",
    ast.GeometryCrosses: "ST_Crosses",
    ast.GeometryOverlaps: "ST_Overlaps",
    ast.GeometryEquals: "ST_Equals",
}
COMPARE_SQL = {
    ast.ComparisonOp.EQ: "=",
    ast.ComparisonOp.NE: "<>",
    ast.ComparisonOp.LT: "<",
    ast.ComparisonOp.LE: "<=",
    ast.ComparisonOp.GT: ">",
    ast.ComparisonOp.GE: ">=",
}


def period_sql(spec: LayerSpec) -> str:
    """What `datetime` means: an event's own period for events, else the valid time."""
    start, end = spec.temporal.event_start, spec.temporal.event_end
    if start and end:
        return (
            f"tstzrange(t.{start}, CASE WHEN t.{end} < t.{start} THEN t.{start} "
            f"ELSE t.{end} END, '[]')"
        )
    if start:
        return f"tstzrange(t.{start}, t.{start}, '[]')"
    return "t.valid"


class SqlEvaluator(Evaluator):
    def __init__(self, spec: LayerSpec, crs: Crs, binds: Binds):
        self.spec, self.crs, self.binds = spec, crs, binds
        self.attrs = {a.name: a for a in spec.attributes}

    def adopt(self, node, *sub_args):
        raise InvalidParameter(f"filter: {type(node).__name__} is not supported")

    @handle(ast.Attribute)
    def attribute(self, node: ast.Attribute) -> Expr:
        name = node.name
        if name in self.attrs:
            return Expr(f"t.{name}", KINDS[self.attrs[name].type])
        fixed = {
            "geometry": Expr("t.geom", "geometry"),
            "geom": Expr("t.geom", "geometry"),
            "datetime": Expr(period_sql(self.spec), "period"),
            "id": Expr("t.asset_id", "text"),
            "asset_id": Expr("t.asset_id", "text"),
            "version_id": Expr("t.version_id", "number"),
            "valid_from": Expr("lower(t.valid)", "timestamp"),
            "valid_to": Expr("upper(t.valid)", "timestamp"),
        }
        if name in fixed:
            return fixed[name]
        raise InvalidParameter(
            f"filter: unknown property {name!r} in {self.spec.id!r}; see its /queryables"
        )

    @handle(str, bool, int, float, datetime, date)
    def literal(self, node) -> Expr:
        kind = (
            "boolean"
            if isinstance(node, bool)
            else "number"
            if isinstance(node, int | float)
            else "timestamp"
            if isinstance(node, datetime)
            else "date"
            if isinstance(node, date)
            else "text"
        )
        return Expr(self.binds.add(node), kind)

    @handle(type(None))
    def null(self, node) -> Expr:
        return Expr("NULL", "null")

    @handle(values.Geometry, values.Envelope)
    def geometry(self, node) -> Expr:
        return Expr(storage_geometry(node.geometry, self.crs, self.binds), "geometry")

    @handle(values.Interval)
    def interval(self, node, *_) -> Expr:
        ends = []
        for v in (node.start, node.end):
            if v is not None and not isinstance(v, date):
                raise InvalidParameter("filter: interval ends must be dates or timestamps")
            ends.append(f"CAST({self.binds.add(v)} AS timestamptz)")
        return Expr(f"tstzrange({ends[0]}, {ends[1]}, '[]')", "period")

    @handle(ast.Not)
    def not_(self, node, sub: Expr) -> Expr:
        return Expr(f"NOT ({self._bool(sub)})", "bool-expr")

    @handle(ast.And, ast.Or)
    def combination(self, node, lhs: Expr, rhs: Expr) -> Expr:
        return Expr(f"({self._bool(lhs)} {node.op.value} {self._bool(rhs)})", "bool-expr")

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node, lhs: Expr, rhs: Expr) -> Expr:
        self._same_kind(lhs, rhs)
        return Expr(f"({lhs.sql} {COMPARE_SQL[node.op]} {rhs.sql})", "bool-expr")

    @handle(ast.Between)
    def between(self, node, lhs: Expr, low: Expr, high: Expr) -> Expr:
        self._same_kind(lhs, low), self._same_kind(lhs, high)
        neg = "NOT " if node.not_ else ""
        return Expr(f"({lhs.sql} {neg}BETWEEN {low.sql} AND {high.sql})", "bool-expr")

    @handle(ast.Like)
    def like(self, node, lhs: Expr) -> Expr:
        if lhs.kind != "text":
            raise InvalidParameter("filter: LIKE needs a text property")
        # CQL2's LIKE wildcards are SQL's (% and _), whatever pygeofilter reports.
        pattern = node.pattern
        op = ("NOT " if node.not_ else "") + ("ILIKE" if node.nocase else "LIKE")
        return Expr(f"({lhs.sql} {op} {self.binds.add(pattern)})", "bool-expr")

    @handle(ast.In)
    def in_(self, node, lhs: Expr, *options: Expr) -> Expr:
        for o in options:
            self._same_kind(lhs, o)
        neg = "NOT " if node.not_ else ""
        return Expr(f"({lhs.sql} {neg}IN ({', '.join(o.sql for o in options)}))", "bool-expr")

    @handle(ast.IsNull)
    def is_null(self, node, lhs: Expr) -> Expr:
        return Expr(f"({lhs.sql} IS {'NOT ' if node.not_ else ''}NULL)", "bool-expr")

    @handle(ast.Function)
    def function(self, node, *args: Expr) -> Expr:
        if node.name.lower() in ("lower", "casei") and len(args) == 1 and args[0].kind == "text":
            return Expr(f"lower({args[0].sql})", "text")
        if (
            node.name.lower() == "bbox"
            and len(args) in (4, 6)
            and all(a.kind == "number" for a in args)
        ):  # CQL2's BBOX(minx, miny, maxx, maxy)
            low, high = node.arguments[: len(args) // 2], node.arguments[len(args) // 2 :]
            return self.geometry(values.Envelope(low[0], high[0], low[1], high[1]))
        raise InvalidParameter(f"filter: function {node.name!r} is not supported")

    @handle(ast.Arithmetic, subclasses=True)
    def arithmetic(self, node, lhs: Expr, rhs: Expr) -> Expr:
        if lhs.kind != "number" or rhs.kind != "number":
            raise InvalidParameter("filter: arithmetic needs numbers")
        return Expr(f"({lhs.sql} {node.op.value} {rhs.sql})", "number")

    @handle(*SPATIAL_SQL)
    def spatial(self, node, lhs: Expr, rhs: Expr) -> Expr:
        if lhs.kind != "geometry" or rhs.kind != "geometry":
            raise InvalidParameter("filter: spatial predicates compare geometries")
        return Expr(f"{SPATIAL_SQL[type(node)]}({lhs.sql}, {rhs.sql})", "bool-expr")

    @handle(ast.BBox)
    def bbox(self, node, lhs: Expr, *_) -> Expr:
        env = values.Envelope(node.minx, node.maxx, node.miny, node.maxy)
        return self.spatial(ast.GeometryIntersects(node.lhs, env), lhs, self.geometry(env))

    @handle(*TEMPORAL_SQL)
    def temporal(self, node, lhs: Expr, rhs: Expr) -> Expr:
        a, b = self._period(lhs), self._period(rhs)
        return Expr("(" + TEMPORAL_SQL[type(node)].format(a=a, b=b) + ")", "bool-expr")

    def _period(self, e: Expr) -> str:
        if e.kind == "period":
            return e.sql
        if e.kind in ("date", "timestamp"):
            return f"tstzrange(CAST({e.sql} AS timestamptz), CAST({e.sql} AS timestamptz), '[]')"
        raise InvalidParameter(
            "filter: temporal predicates compare dates, timestamps, intervals or `datetime`"
        )

    @staticmethod
    def _bool(e: Expr) -> str:
        if e.kind not in ("bool-expr", "boolean"):
            raise InvalidParameter("filter: AND/OR/NOT need conditions")
        return e.sql

    @staticmethod
    def _same_kind(a: Expr, b: Expr) -> None:
        if a.kind != b.kind and (a.kind, b.kind) not in COMPARABLE:
            raise InvalidParameter(f"filter: cannot compare a {a.kind} with a {b.kind}")


def to_sql(spec: LayerSpec, text: str, lang: str, crs: Crs, binds: Binds) -> str:
    """A WHERE condition over alias `t`; values land in `binds`."""
    expr = SqlEvaluator(spec, crs, binds).evaluate(parse(text, lang))
    if not isinstance(expr, Expr) or expr.kind not in ("bool-expr", "boolean"):
        raise InvalidParameter("filter: the expression is not a condition")
    return expr.sql
