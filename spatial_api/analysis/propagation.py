"""Radio propagation models for base-station coverage: path loss in dB, vectorised over distance.

Every model takes distance in metres and frequency in MHz, whatever unit its source writes
the formula in, so a caller can swap models without converting. Frequency and base height
may also be arrays that broadcast against the distances: a coverage grid computes many
sectors in one pass. Each model is published
for a range of frequency, distance and antenna heights. Outside it the numbers are
extrapolations, so nothing here extrapolates silently:

- frequency or heights out of range raise `OutOfRange` (→ 400): no cell of the grid can be
  trusted then;
- distances out of range are flagged per point in `Loss.in_range`, with a `Loss.message`
  naming the model and the range: a coverage grid mixes cells near the mast and far from it,
  and the caller decides what to do with them.

`MODELS` is the validity table, `choose_model` picks one by frequency. `fixed` is today's
radius per technology (`spatial_api.analysis.coverage`), named here so that a request can
choose it beside the propagation models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from layers.errors import InvalidParameter

Array = NDArray[np.float64]
# One value, or one per sector broadcasting against the distances.
Param = float | NDArray[np.floating[Any]]

SPEED_OF_LIGHT = 299_792_458.0  # m/s
C_3GPP = 3.0e8  # m/s, the rounded value TR 38.901 Table 7.4.1-1 Note 1 (and ns-3) use


class OutOfRange(InvalidParameter):
    """A frequency or antenna height outside a model's published validity range (→ 400)."""

    def __init__(self, model: str, parameter: str, value: float, valid: Range | str):
        super().__init__(f"{model} is valid for {parameter} {valid}, got {value:g}")
        self.model, self.parameter, self.value, self.valid = model, parameter, value, valid


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    unit: str

    def __str__(self) -> str:
        if self.low == self.high:
            return f"{self.low:g} {self.unit}"
        return f"{self.low:g}–{self.high:g} {self.unit}"

    def contains(self, x: ArrayLike) -> NDArray[np.bool_]:
        x = np.asarray(x, dtype=float)
        return (x >= self.low) & (x <= self.high)


@dataclass(frozen=True)
class Model:
    """One row of the validity table; a `None` range means the source sets no limit."""

    name: str
    source: str
    frequency_mhz: Range | None = None
    distance_m: Range | None = None
    base_height_m: Range | None = None
    mobile_height_m: Range | None = None


@dataclass(frozen=True)
class Loss:
    """Path loss per point, which points lie in the model's distance range, and why not."""

    db: Array
    in_range: NDArray[np.bool_]
    message: str | None


_HEIGHTS = {"base_height_m": Range(30, 200, "m"), "mobile_height_m": Range(1, 10, "m")}

MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model("fspl", "Friis free space, ITU-R P.525"),
        # Hata 1980 (IEEE Trans. VT-29) states 1–20 km; OkumuraHata.jl stops at 10 km.
        Model(
            "hata",
            "Okumura-Hata, Hata 1980",
            Range(150, 1500, "MHz"),
            Range(1_000, 20_000, "m"),
            **_HEIGHTS,
        ),
        Model(
            "cost231",
            "COST-231 Hata, COST 231 Final Report ch. 4",
            Range(1500, 2000, "MHz"),
            Range(1_000, 20_000, "m"),
            **_HEIGHTS,
        ),
        # hBS = 25 m is the scenario's one value, not a range: other heights are computed
        # (as ns-3 does) and reported in Loss.message.
        Model(
            "uma",
            "3GPP TR 38.901 UMa, Table 7.4.1-1",
            Range(500, 100_000, "MHz"),
            Range(10, 5_000, "m"),
            Range(25, 25, "m"),
            Range(1.5, 22.5, "m"),
        ),
        Model("fixed", "radius per technology, spatial_api.analysis.coverage"),
    )
}


def choose_model(f_mhz: float) -> str:
    """The model published for this frequency: hata, then cost231 from 1500 MHz, then uma."""
    for name in ("cost231", "hata", "uma"):  # 1500 MHz, where both are published: cost231
        valid = MODELS[name].frequency_mhz
        if valid is not None and valid.low <= f_mhz <= valid.high:
            return name
    raise OutOfRange("hata, cost231 and uma", "frequency", f_mhz, Range(150, 100_000, "MHz"))


_LABELS = {
    "frequency_mhz": "frequency",
    "base_height_m": "base station height",
    "mobile_height_m": "mobile height",
}


def _require(model: Model, parameter: str, value: Param) -> None:
    valid = getattr(model, parameter)
    if valid is None:
        return
    ok = np.ravel(valid.contains(value))
    if not ok.all():
        bad = float(np.ravel(value)[np.argmin(ok)])
        raise OutOfRange(model.name, _LABELS[parameter], bad, valid)


def _one_of(model: str, parameter: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidParameter(f"{model} {parameter} must be one of {', '.join(allowed)}")


def _loss(model: Model, d_m: Array, db: Array, note: str | None = None) -> Loss:
    ok = d_m > 0
    if model.distance_m is not None:
        ok &= model.distance_m.contains(d_m)
    notes = [note] if note else []
    if not ok.all():
        valid = model.distance_m or "> 0 m"
        notes.append(
            f"{model.name} is valid for distance {valid}; "
            f"{int((~ok).sum())} of {ok.size} points are outside"
        )
    return Loss(db, ok, "; ".join(notes) or None)


def _distance(d_m: ArrayLike) -> Array:
    """Distances as floats; float32 stays float32 (half the memory on a coverage grid)."""
    d = np.asarray(d_m)
    return d if d.dtype == np.float32 else d.astype(float)


def fspl(d_m: ArrayLike, f_mhz: Param) -> Loss:
    """Free-space path loss 20·log10(4π·d·f/c) (ITU-R P.525); any distance > 0."""
    if not np.all(np.asarray(f_mhz) > 0):
        got = float(np.min(f_mhz))
        raise InvalidParameter(f"fspl needs a frequency above 0 MHz, got {got:g}")
    d = _distance(d_m)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = 20 * np.log10(4 * np.pi * d * f_mhz * 1e6 / SPEED_OF_LIGHT)
    return _loss(MODELS["fspl"], d, db)


def _mobile_correction(f_mhz: Param, h_mobile_m: float, city: str) -> Param:
    """a(hm) of Hata 1980: small/medium city, or large city (defined ≤ 200 and ≥ 400 MHz,
    for one frequency)."""
    lf = np.log10(f_mhz)
    if city == "medium":
        return (1.1 * lf - 0.7) * h_mobile_m - (1.56 * lf - 0.8)
    if not isinstance(f_mhz, float | int):
        raise InvalidParameter("hata's large-city correction takes one frequency")
    if f_mhz <= 200:
        return float(8.29 * np.log10(1.54 * h_mobile_m) ** 2 - 1.1)
    if f_mhz >= 400:
        return float(3.2 * np.log10(11.75 * h_mobile_m) ** 2 - 4.97)
    # Hata gives no large-city a(hm) between the two bands.
    raise OutOfRange("hata (large city)", "frequency", f_mhz, "≤ 200 or ≥ 400 MHz")


def _hata_form(
    model: Model,
    d_m: ArrayLike,
    f_mhz: Param,
    h_base_m: Param,
    h_mobile_m: float,
    a: float,
    b: float,
    a_hm: Param,
) -> tuple[Array, Array]:
    """A + B·log10 f − 13.82·log10 hb − a(hm) + (44.9 − 6.55·log10 hb)·log10 d[km]."""
    _require(model, "base_height_m", h_base_m)
    _require(model, "mobile_height_m", h_mobile_m)
    d = _distance(d_m)
    lb = np.log10(h_base_m)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_d = np.log10(d / 1000)
    return d, a + b * np.log10(f_mhz) - 13.82 * lb - a_hm + (44.9 - 6.55 * lb) * log_d


def hata(
    d_m: ArrayLike,
    f_mhz: Param,
    h_base_m: Param,
    h_mobile_m: float,
    area: Literal["urban", "suburban", "open"] = "urban",
    city: Literal["medium", "large"] = "medium",
) -> Loss:
    """Okumura-Hata (Hata 1980): 150–1500 MHz, 1–20 km, hb 30–200 m, hm 1–10 m.

    Suburban subtracts 2·(log10(f/28))² + 5.4 dB and open (rural) subtracts
    4.78·(log10 f)² − 18.33·log10 f + 40.94 dB from the urban loss; `city` selects a(hm).
    """
    model = MODELS["hata"]
    _one_of("hata", "area", area, ("urban", "suburban", "open"))
    _one_of("hata", "city", city, ("medium", "large"))
    _require(model, "frequency_mhz", f_mhz)
    a_hm = _mobile_correction(f_mhz, h_mobile_m, city)
    d, db = _hata_form(model, d_m, f_mhz, h_base_m, h_mobile_m, 69.55, 26.16, a_hm)
    lf = np.log10(f_mhz)
    if area == "suburban":
        db = db - 2 * np.log10(f_mhz / 28) ** 2 - 5.4
    elif area == "open":
        db = db - 4.78 * lf**2 + 18.33 * lf - 40.94
    return _loss(model, d, db)


def cost231(
    d_m: ArrayLike,
    f_mhz: Param,
    h_base_m: Param,
    h_mobile_m: float,
    area: Literal["urban", "suburban"] = "urban",
) -> Loss:
    """COST-231 Hata (COST 231 Final Report §4.4): 1500–2000 MHz, 1–20 km, hb 30–200 m, hm 1–10 m.

    Urban means a metropolitan centre, Cm = 3 dB; suburban a medium city or suburban
    centre, Cm = 0 dB. a(hm) is Hata's small/medium city correction.
    """
    model = MODELS["cost231"]
    _one_of("cost231", "area", area, ("urban", "suburban"))
    _require(model, "frequency_mhz", f_mhz)
    a_hm = _mobile_correction(f_mhz, h_mobile_m, "medium")
    d, db = _hata_form(model, d_m, f_mhz, h_base_m, h_mobile_m, 46.3, 33.9, a_hm)
    return _loss(model, d, db + (3.0 if area == "urban" else 0.0))


def uma(
    d_m: ArrayLike,
    f_mhz: Param,
    h_base_m: Param = 25.0,
    h_mobile_m: float = 1.5,
    los: ArrayLike = False,
    h_e_m: float = 1.0,
) -> Loss:
    """3GPP TR 38.901 UMa path loss (Table 7.4.1-1): 0.5–100 GHz, d2D 10 m–5 km, hUT 1.5–22.5 m.

    `d_m` is the 2D distance and `los` (a bool or one per point) the channel condition.
    LOS is PL1 up to the breakpoint d'BP = 4·(hBS − hE)·(hUT − hE)·fc/c and PL2 beyond it;
    NLOS is max(PL_LOS, 13.54 + 39.08·log10 d3D + 20·log10 fc − 0.6·(hUT − 1.5)).
    The effective environment height hE is 1 m for hUT < 13 m; above that the standard
    draws it at random and 1 m is its most likely value (probability 1/(1 + C)).
    """
    model = MODELS["uma"]
    _require(model, "frequency_mhz", f_mhz)
    _require(model, "mobile_height_m", h_mobile_m)
    if not np.all(h_e_m < np.minimum(h_base_m, h_mobile_m)):
        raise InvalidParameter(f"uma needs hE below both antennas, got hE = {h_e_m:g} m")
    d = _distance(d_m)
    fc_ghz = f_mhz / 1000
    dh = h_base_m - h_mobile_m
    d3 = np.hypot(d, dh)
    d_bp = 4 * (h_base_m - h_e_m) * (h_mobile_m - h_e_m) * fc_ghz * 1e9 / C_3GPP
    lf = 20 * np.log10(fc_ghz)
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.log10(d3)  # once: a coverage grid calls this on millions of points
        pl1 = (28.0 + lf) + 22 * lg
        pl2 = (28.0 + lf - 9 * np.log10(d_bp**2 + dh**2)) + 40 * lg
        pl_los = np.where(d <= d_bp, pl1, pl2)
        pl_nlos = (13.54 + lf - 0.6 * (h_mobile_m - 1.5)) + 39.08 * lg
    los = np.asarray(los, dtype=bool)
    db = np.maximum(pl_los, pl_nlos)
    if los.any():  # a grid is usually all NLOS: skip the select then
        db = np.where(los, pl_los, db)
    note = None
    if np.any(np.asarray(h_base_m) != 25.0):
        at = f"{h_base_m:g} m" if isinstance(h_base_m, float | int) else "other heights"
        note = f"uma is specified for hBS = 25 m, computed for {at}"
    return _loss(model, d, db, note)


def distance_for_loss(
    model: str,
    loss_db: float,
    f_mhz: float,
    h_base_m: float,
    h_mobile_m: float,
    area: str = "urban",
) -> float:
    """The 2D distance at which a model's loss reaches `loss_db`: a site's radius for a MAPL.

    Exact for fspl, hata and cost231 (their loss is linear in log d); for uma it inverts the
    NLOS formula alone, which the NLOS loss never falls below, so it is an upper bound
    (exact where NLOS dominates). Validity ranges are the caller's concern here: this only
    bounds the search for cells a sector can reach. `area` as in hata and cost231.
    """
    lf = math.log10(f_mhz)
    if model == "fspl":
        return 10 ** ((loss_db - 20 * math.log10(4 * math.pi * f_mhz * 1e6 / SPEED_OF_LIGHT)) / 20)
    if model in ("hata", "cost231"):
        a, b = (69.55, 26.16) if model == "hata" else (46.3, 33.9)
        a_hm = (1.1 * lf - 0.7) * h_mobile_m - (1.56 * lf - 0.8)
        lb = math.log10(h_base_m)
        at_1km = a + b * lf - 13.82 * lb - a_hm
        if model == "cost231":
            at_1km += 3.0 if area == "urban" else 0.0
        elif area == "suburban":
            at_1km -= 2 * math.log10(f_mhz / 28) ** 2 + 5.4
        elif area == "open":
            at_1km -= 4.78 * lf**2 - 18.33 * lf + 40.94
        return 1000 * 10 ** ((loss_db - at_1km) / (44.9 - 6.55 * lb))
    if model == "uma":
        d3 = 10 ** ((loss_db - 13.54 - 20 * (lf - 3) + 0.6 * (h_mobile_m - 1.5)) / 39.08)
        return math.sqrt(max(d3**2 - (h_base_m - h_mobile_m) ** 2, 0.0))
    raise InvalidParameter(f"model {model!r} has no path-loss formula")


def uma_los_probability(d_m: ArrayLike, h_mobile_m: float = 1.5) -> Array:
    """LOS probability of an outdoor UT in UMa, TR 38.901 Table 7.4.2-1, by 2D distance."""
    d = _distance(d_m)
    far = np.maximum(d, 18.0)  # the formula only applies beyond 18 m; keeps 18/d finite
    c = ((h_mobile_m - 13) / 10) ** 1.5 if h_mobile_m > 13 else 0.0
    p = (18 / far + np.exp(-far / 63) * (1 - 18 / far)) * (
        1 + c * 1.25 * (far / 100) ** 3 * np.exp(-far / 150)
    )
    return np.where(d <= 18, 1.0, p)


def antenna_gain_db(
    bearing_deg: ArrayLike,
    elevation_deg: ArrayLike,
    azimuth_deg: Param = 0.0,
    downtilt_deg: Param = 0.0,
    h_beamwidth_deg: Param = 65.0,
    v_beamwidth_deg: Param = 65.0,
    front_to_back_db: float = 30.0,
    side_lobe_db: float = 30.0,
) -> Array:
    """Antenna element gain relative to boresight, TR 38.901 Table 7.3-1 (≤ 0 dB).

    A_H = −min(12·(φ/φ3dB)², A_m), A_V = −min(12·(θ/θ3dB)², SLA_V), combined
    −min(−(A_H + A_V), A_m). φ is the receiver's bearing from the antenna azimuth, θ its
    elevation (above the horizontal, degrees) from the downtilted boresight; azimuth and
    tilt are separated rather than rotated (3GPP's planning simplification). The defaults
    are the 38.901 element; a panel's data sheet gives its own beamwidths.
    """
    phi = (_distance(bearing_deg) - azimuth_deg + 180) % 360 - 180
    theta = _distance(elevation_deg) + downtilt_deg
    a_h = -np.minimum((12 / h_beamwidth_deg**2) * phi**2, front_to_back_db)
    a_v = -np.minimum((12 / v_beamwidth_deg**2) * theta**2, side_lobe_db)
    return -np.minimum(-(a_h + a_v), front_to_back_db)


def eirp_dbm(power_dbm: ArrayLike, antenna_gain_dbi: ArrayLike, feeder_loss_db: ArrayLike) -> Any:
    """Effective isotropic radiated power: transmitter power + antenna gain − feeder loss
    (a float for floats: a budget per sector is summed thousands of times an answer)."""
    values = (power_dbm, antenna_gain_dbi, feeder_loss_db)
    if all(isinstance(x, float | int) for x in values):
        return float(power_dbm) + float(antenna_gain_dbi) - float(feeder_loss_db)  # type: ignore[arg-type]
    power, gain, loss = (np.asarray(x, dtype=float) for x in values)
    return power + gain - loss
