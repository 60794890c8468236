"""The clearance each pair of pipes needs: a request's own values, a project's, GB 50289-2016's.

For a pair, every case each pipe may be in is tried (a gas pipe of unknown pressure class
may be any class) and the largest required value wins: the worst case the pipe might be.
For one combination of cases the first source holding a row answers (the request, then
the project file, then the standard's table in `data/`), and within it the most specific
row: one naming a case beats one for every case. A combination no source holds takes the
request's fallback, and the answer says so; nothing is filled in from a neighbouring cell.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from layers.common import UTILITIES
from spatial_api.analysis.hazard_tables import table

TABLE = "gb50289_2016_clearances"
Kind = Literal["horizontal", "vertical"]
CASES: dict[str, tuple[str, ...]] = {
    "water": ("d_le_200mm", "d_gt_200mm"),
    "gas": ("low", "medium_b", "medium_a", "sub_high_b", "sub_high_a", "high_b", "high_a"),
    "telecom": ("direct_buried", "duct"),
    "power": ("direct_buried", "conduit"),
}
# The pipelines layer's pressure_class in GB 50028's classes, which GB 50289 uses.
# "high" is read as 次高压 (0.4–1.6 MPa), "very_high" as 高压 (above 1.6 MPa).
GAS_CLASSES: dict[str, tuple[str, ...]] = {
    "low": ("low",),
    "medium": ("medium_b", "medium_a"),
    "high": ("sub_high_b", "sub_high_a"),
    "very_high": ("high_b", "high_a"),
}
PRESSURE_CLASSES = tuple(GAS_CLASSES) + CASES["gas"][1:]  # "low" once
OUT_OF_SCOPE = (
    "GB 50289-2016 Table 4.1.9 does not apply to gas above 1.6 MPa (高压 B/A); such lines "
    "are designed to GB 50028's own clearances, so check this pair against GB 50028"
)


class ClearanceRule(BaseModel):
    """One required clearance for a pair of utilities, either way round."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind = Field(description="horizontal (side by side) or vertical (at a crossing)")
    a: Literal[UTILITIES]  # type: ignore[valid-type]  # the catalog's tuple, spread
    a_case: str | None = Field(default=None, max_length=20, description="Unset: every case")
    b: Literal[UTILITIES]  # type: ignore[valid-type]
    b_case: str | None = Field(default=None, max_length=20, description="Unset: every case")
    min_m: float = Field(ge=0, le=20, description="Required clearance, wall to wall")
    clause: str | None = Field(default=None, max_length=200)
    edition: str | None = Field(default=None, max_length=200)
    source: str = Field(default="request", max_length=200)

    @model_validator(mode="after")
    def _known_cases(self) -> ClearanceRule:
        for utility, case in ((self.a, self.a_case), (self.b, self.b_case)):
            allowed = CASES.get(utility, ())
            if case is not None and case not in allowed:
                raise ValueError(
                    f"{utility} has no case {case!r}; "
                    + (f"use one of {', '.join(allowed)}" if allowed else "it has none")
                )
        return self


@dataclass(frozen=True)
class Side:
    """What the lookup needs of one pipe: its utility and the cases it may be in."""

    utility: str | None
    cases: tuple[str | None, ...]
    why: str | None = None  # why several cases are possible


@dataclass(frozen=True)
class Required:
    min_m: float
    source: str
    clause: str | None
    edition: str | None
    a_case: str | None
    b_case: str | None
    note: str | None


def side(props: Mapping[str, Any]) -> Side:
    """The cases a pipe may be in, from its attributes (all of them when unrecorded)."""
    utility = props.get("utility")
    if utility == "water":
        d = props.get("diameter_mm")
        if d is None:
            return Side(utility, CASES["water"], "no diameter")
        return Side(utility, ("d_le_200mm",) if float(d) <= 200 else ("d_gt_200mm",))
    if utility == "gas":
        pc = props.get("pressure_class")
        if pc in CASES["gas"]:
            return Side(utility, (pc,))
        if pc in GAS_CLASSES:
            cases = GAS_CLASSES[pc]
            return Side(utility, cases, f"pressure_class {pc}" if len(cases) > 1 else None)
        return Side(utility, CASES["gas"], "no pressure_class")
    if utility in CASES:
        return Side(utility, CASES[utility], "laying not recorded")
    return Side(utility, (None,))


@cache
def gb50289() -> tuple[ClearanceRule, ...]:
    """The shipped table's rows, each naming the table and its version as their source."""
    t = table(TABLE)
    source = f"{TABLE} v{t.meta['version'].split()[0]}"
    return tuple(
        ClearanceRule.model_validate(
            {k: v or None for k, v in r.items() if k != "evidence"} | {"source": source}
        )
        for r in t.rows
    )


def load_project_rules(path: Path | None) -> tuple[ClearanceRule, ...]:
    """A project's own values from TOML, read once at start-up.

    `source` and `edition` at the top apply to every row; each `[[clearance]]` row is what
    a request's `clearances` holds. A bad file stops the start with the row and reason.
    """
    if path is None:
        return ()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if unknown := set(data) - {"source", "edition", "clearance"}:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    top = {"source": f"project file {path.name}"} | {
        k: data[k] for k in ("source", "edition") if k in data
    }
    rules = []
    for i, row in enumerate(data.get("clearance", []), 1):
        try:
            rules.append(ClearanceRule.model_validate(top | row))
        except ValidationError as exc:
            why = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"{path}: [[clearance]] {i}: {why}") from None
    return tuple(rules)


def _fits(r: ClearanceRule, ua: str, ca: str | None, ub: str, cb: str | None) -> bool:
    return any(
        r.a == x and r.b == y and r.a_case in (None, cx) and r.b_case in (None, cy)
        for x, cx, y, cy in ((ua, ca, ub, cb), (ub, cb, ua, ca))
    )


def _rule(
    kind: Kind,
    ua: str | None,
    ca: str | None,
    ub: str | None,
    cb: str | None,
    sources: Iterable[Sequence[ClearanceRule]],
) -> ClearanceRule | None:
    if ua is None or ub is None:
        return None
    for rules in sources:
        hits = [r for r in rules if r.kind == kind and _fits(r, ua, ca, ub, cb)]
        if hits:
            best = max(_specificity(r) for r in hits)
            return max((r for r in hits if _specificity(r) == best), key=lambda r: r.min_m)
    return None


def _specificity(r: ClearanceRule) -> int:
    return (r.a_case is not None) + (r.b_case is not None)


def _label(utility: str | None, case: str | None) -> str:
    return f"{utility or 'unknown'}" + (f" ({case})" if case else "")


def required(
    kind: Kind,
    a: Side,
    b: Side,
    sources: Sequence[Sequence[ClearanceRule]],
    fallback_m: float,
    fallback_name: str,
) -> Required:
    """The value pair (a, b) must keep, where it came from, and why that one."""
    options = [
        (ca, cb, _rule(kind, a.utility, ca, b.utility, cb, sources))
        for ca in a.cases
        for cb in b.cases
    ]
    # Worst case first; on a tie the sourced value, which names its clause.
    ca, cb, rule = max(
        options, key=lambda o: (o[2].min_m if o[2] else fallback_m, o[2] is not None)
    )
    if rule is None:
        pair = f"{_label(a.utility, ca)}–{_label(b.utility, cb)}"
        used = f"used {fallback_name} {fallback_m:g} m"
        if kind == "horizontal" and {ca, cb} & set(GAS_CLASSES["very_high"]):
            # Not a gap in our table: the standard itself stops at 1.6 MPa.
            note = f"{pair}: {OUT_OF_SCOPE}; {used}"
            return Required(fallback_m, "not_applicable", None, None, ca, cb, note)
        note = f"no sourced {kind} value for {pair}: {used}"
        return Required(fallback_m, "fallback", None, None, ca, cb, note)
    notes = [
        f"{s.utility} may be {' or '.join(map(str, s.cases))} ({s.why}): the largest applies"
        for s in (a, b)
        if len(s.cases) > 1
    ]
    return Required(
        rule.min_m, rule.source, rule.clause, rule.edition, ca, cb, "; ".join(notes) or None
    )
