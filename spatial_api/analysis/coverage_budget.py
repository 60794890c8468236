"""From a sector's catalog record to its link budget: model, EIRP, threshold, antenna.

Missing antenna values take the defaults below and the answer counts them; a sector
without power or frequency cannot be computed and the answer lists it. The default model
follows the frequency (`propagation.choose_model`); a Hata-family model is published for
base stations of 30–200 m only, so lower antennas (most urban sites) get uma instead, and
the answer says how many.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from spatial_api.analysis import propagation as prop
from spatial_api.analysis.coverage_grid import (
    AREAS,
    THRESHOLDS_DBM,
    Radio,
    model_range_m,
    with_reaches,
)
from spatial_api.analysis.coverage_models import GridCoverage
from spatial_api.analysis.dem import Dem

FLAT_EARTH = "flat earth: no terrain (DEM) or clutter is loaded, so no path is obstructed"

# Assumed where a sector's record has no value (a 65° panel, untilted, on a 30 m mast).
DEFAULTS = {
    "antenna_gain_dbi": 15.0,
    "feeder_loss_db": 0.0,
    "beamwidth_deg": 65.0,
    "vertical_beamwidth_deg": 10.0,
    "tilt_deg": 0.0,
    "antenna_height_m": 30.0,
}
EXAMPLES = 5  # sector ids named per reason a sector was skipped


@dataclass
class Budgets:
    """The sectors that can be computed, and what the answer must say about the rest."""

    radios: list[Radio] = field(default_factory=list)
    props: list[dict[str, Any]] = field(default_factory=list)
    assumed: Counter[str] = field(default_factory=Counter)
    skipped: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    fallback: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    terrain: Dem | None = None  # the DEM under every computed sector's reach, if loaded
    terrain_note: str = FLAT_EARTH

    def summary(self) -> dict[str, Any]:
        return {
            "sectors_computed": len(self.radios),
            "models": dict(self.models),
            "assumed": {
                k: {"value": DEFAULTS[k], "sectors": n} for k, n in sorted(self.assumed.items())
            },
            "skipped": {
                reason: {"sectors": len(ids), "examples": ids[:EXAMPLES]}
                for reason, ids in sorted(self.skipped.items())
            },
            "model_fallback": dict(self.fallback),
        }


def threshold(req: GridCoverage, technology: str) -> float:
    if technology in req.threshold_by_technology:
        return req.threshold_by_technology[technology]
    return req.threshold_dbm if req.threshold_dbm is not None else THRESHOLDS_DBM[technology]


def _model(req: GridCoverage, f_mhz: float, height_m: float) -> tuple[str, str | None]:
    """The requested model, or the one published for f, and why the default was changed;
    OutOfRange if the requested model is not published for f or the antenna height."""
    if req.model is not None:
        model = prop.MODELS[req.model]
        checks = [("frequency", f_mhz, model.frequency_mhz)]
        if model.name != "uma":  # uma is specified at 25 m only: computed, with a note
            checks.append(("base station height", height_m, model.base_height_m))
        for label, value, valid in checks:
            if valid is not None and not valid.contains(value):
                raise prop.OutOfRange(model.name, label, value, valid)
        return req.model, None
    name = prop.choose_model(f_mhz)
    hb = prop.MODELS[name].base_height_m
    if name != "uma" and hb is not None and not hb.contains(height_m):
        return "uma", f"{name} → uma: antenna outside {hb}"
    if name == "cost231" and req.environment == "rural":
        return "uma", "cost231 → uma: cost231 has no rural class"
    return name, None


def _reach_bound(radio: Radio, req: GridCoverage) -> float:
    """The model's inverse at the boresight budget (the pattern only loses): no cell
    farther than this from the mast can be covered."""
    mapl = radio.eirp_dbm - radio.threshold_dbm
    d = prop.distance_for_loss(
        radio.model,
        mapl,
        radio.frequency_mhz,
        radio.height_m,
        req.rx_height_m,
        AREAS[req.environment],
    )
    return min(d, model_range_m(radio.model))


@dataclass
class RowBudget:
    """One record's link budget, or why it cannot be computed (`skip`)."""

    skip: str | None = None
    radio: Radio | None = None  # without its footprint until `reached` is set
    props: dict[str, Any] = field(default_factory=dict)
    assumed: tuple[str, ...] = ()
    fallback: str | None = None
    bound_m: float | None = None  # `_reach_bound`, once asked: `near` needs no footprint
    reached: Radio | None = None


def row_budget(props: dict[str, Any], x: float, y: float, req: GridCoverage) -> RowBudget:
    """One record's budget, without its footprint (computed for many sectors at once)."""
    sid = str(props.get("asset_id"))
    power, f = props.get("power_dbm"), props.get("frequency_mhz")
    if power is None or f is None:
        missing = " and ".join(
            k for k, v in (("power_dbm", power), ("frequency_mhz", f)) if v is None
        )
        return RowBudget(skip=f"no {missing}", props={"asset_id": sid})
    assumed = [k for k in DEFAULTS if props.get(k) is None]
    value = {k: DEFAULTS[k] if props.get(k) is None else float(props[k]) for k in DEFAULTS}
    try:
        model, fallback = _model(req, float(f), value["antenna_height_m"])
    except prop.OutOfRange as exc:
        return RowBudget(skip=str(exc).rsplit(", got", 1)[0], props={"asset_id": sid})
    omni = props.get("azimuth_deg") is None or value["beamwidth_deg"] >= 360
    if omni and "beamwidth_deg" in assumed:
        assumed.remove("beamwidth_deg")  # no azimuth: the beamwidth is not used
    eirp = float(prop.eirp_dbm(float(power), value["antenna_gain_dbi"], value["feeder_loss_db"]))
    radio = Radio(
        x=float(x),
        y=float(y),
        eirp_dbm=eirp,
        threshold_dbm=threshold(req, str(props.get("technology"))),
        frequency_mhz=float(f),
        height_m=value["antenna_height_m"],
        model=model,
        azimuth_deg=None if omni else float(props["azimuth_deg"]),
        beamwidth_deg=360.0 if omni else value["beamwidth_deg"],
        tilt_deg=value["tilt_deg"],
        vertical_beamwidth_deg=value["vertical_beamwidth_deg"],
    )
    out = props | {"eirp_dbm": round(eirp, 2), "model": model}
    return RowBudget(None, radio, out, tuple(assumed), fallback)


def _near(b: RowBudget, req: GridCoverage, near: tuple[float, float, float, float] | None) -> bool:
    """Whether the sector's loss can stay within its budget anywhere in the box."""
    if near is None:
        return True
    assert b.radio is not None
    if b.bound_m is None:
        b.bound_m = _reach_bound(b.radio, req)
    x, y, r = b.radio.x, b.radio.y, b.bound_m
    return x + r >= near[0] and x - r <= near[2] and y + r >= near[1] and y - r <= near[3]


# Row budgets by (the record's JSON text, x, y, the request's radio parameters): an edited
# sector's text differs, so only it is decoded and computed again.
_ROWS: dict[tuple[Any, ...], RowBudget] = {}
MAX_ROWS = 200_000


def _radio_key(req: GridCoverage) -> tuple[Any, ...]:
    by_tech = tuple(sorted(req.threshold_by_technology.items()))
    return (req.model, req.threshold_dbm, by_tech, req.rx_height_m, req.environment)


def _row_budgets(
    rows: list[tuple[dict[str, Any] | str, float, float]], req: GridCoverage
) -> list[RowBudget]:
    radio_key = _radio_key(req)
    out = []
    for props, x, y in rows:
        if not isinstance(props, str):
            out.append(row_budget(props, x, y, req))
            continue
        key = (props, x, y, radio_key)
        b = _ROWS.get(key)
        if b is None:
            b = row_budget(json.loads(props), x, y, req)
            if len(_ROWS) >= MAX_ROWS:
                _ROWS.clear()
            _ROWS[key] = b
        out.append(b)
    return out


def clear_row_budgets() -> None:
    _ROWS.clear()


def link_budgets(
    rows: list[tuple[dict[str, Any] | str, float, float]],
    req: GridCoverage,
    near: tuple[float, float, float, float] | None = None,
) -> Budgets:
    """Radios for (props, x, y) rows in the grid's metres; unusable rows are tallied.

    `props` is the record, or its JSON text: then its budget and footprint are kept for
    the next answer. With `near` (grid metres), only sectors that may reach the box are
    kept and counted.
    """
    budgets = Budgets()
    kept: list[RowBudget] = []
    for b in _row_budgets(rows, req):
        if b.skip is not None:
            budgets.skipped[b.skip].append(str(b.props["asset_id"]))
            continue
        if not _near(b, req, near):
            continue
        assert b.radio is not None
        budgets.models[b.radio.model] += 1
        budgets.assumed.update(b.assumed)
        if b.fallback:
            budgets.fallback[b.fallback] += 1
        kept.append(b)
    # Footprints all at once: one path loss per (model, frequency, height).
    todo = [(b, b.radio) for b in kept if b.reached is None and b.radio is not None]
    reached = with_reaches([r for _, r in todo], req.rx_height_m, req.environment)
    for (b, _), r in zip(todo, reached, strict=True):
        b.reached = r
    for b in kept:
        assert b.reached is not None
        budgets.radios.append(b.reached)
        budgets.props.append(b.props | {"reach_m": round(b.reached.reach_m, 1)})
    return budgets
