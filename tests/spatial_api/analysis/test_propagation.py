"""Propagation models against published values (domain-facts §3) and the formulas written out.

No database: the kernel is pure numpy. Values marked [derived] in domain-facts are also
recomputed here from the standard's formula, so a wrong constant in the module fails twice.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from layers.errors import InvalidParameter
from spatial_api.analysis.propagation import (
    MODELS,
    OutOfRange,
    antenna_gain_db,
    choose_model,
    cost231,
    distance_for_loss,
    eirp_dbm,
    fspl,
    hata,
    uma,
    uma_los_probability,
)
from spatial_api.errors import install

log = math.log10

# ns-3 three-gpp-propagation-loss-model-test-suite.cc, ThreeGppUmaPropagationLossModelTestCase:
# BS at (0, 0, 25), UT at (d, 0, 1.5), 5 GHz, shadowing off, path loss = −Pr (Pt = 0 dBm).
NS3_UMA = [
    (10.0, True, 72.9380),
    (100.0, True, 86.2362),
    (1000.0, True, 109.7252),
    (5000.0, True, 137.6794),
    (10.0, False, 82.5131),
    (100.0, False, 106.1356),
    (1000.0, False, 144.7641),
    (5000.0, False, 172.0753),
]


@pytest.mark.parametrize(("d", "los", "expected"), NS3_UMA)
def test_uma_matches_ns3_vectors(d, los, expected):
    loss = uma(d, 5000.0, h_base_m=25.0, h_mobile_m=1.5, los=los)
    assert float(loss.db) == pytest.approx(expected, abs=5e-4)  # ns-3 itself allows 0.05 dB
    assert loss.in_range and loss.message is None


def test_uma_vectorised_over_distance_and_condition():
    d = np.array([v[0] for v in NS3_UMA])
    los = np.array([v[1] for v in NS3_UMA])
    assert uma(d, 5000.0, los=los).db == pytest.approx([v[2] for v in NS3_UMA], abs=5e-4)


@pytest.mark.parametrize(
    ("d", "los_db", "nlos_db"), [(100, 83.14, 103.04), (500, 98.27, 129.92), (1000, 109.41, 141.67)]
)
def test_uma_at_3500_mhz(d, los_db, nlos_db):
    assert float(uma(d, 3500.0, los=True).db) == pytest.approx(los_db, abs=0.005)
    assert float(uma(d, 3500.0).db) == pytest.approx(nlos_db, abs=0.005)


def test_uma_breakpoint_written_out():
    # d'BP = 4·(25 − 1)·(1.5 − 1)·3.5e9/3e8 = 560 m: 700 m is past it, so PL2 applies.
    d_bp = 4 * 24 * 0.5 * 3.5e9 / 3.0e8
    assert d_bp == pytest.approx(560.0)
    d3 = math.hypot(700, 23.5)
    pl2 = 28 + 40 * log(d3) + 20 * log(3.5) - 9 * log(d_bp**2 + 23.5**2)
    pl1 = 28 + 22 * log(d3) + 20 * log(3.5)
    assert float(uma(700, 3500.0, los=True).db) == pytest.approx(pl2, abs=1e-9)
    assert pl2 != pytest.approx(pl1, abs=0.1)  # the branch matters at this distance
    nlos = 13.54 + 39.08 * log(d3) + 20 * log(3.5) - 0.6 * (1.5 - 1.5)
    assert float(uma(700, 3500.0).db) == pytest.approx(max(pl2, nlos), abs=1e-9)


def test_uma_los_probability_written_out():
    def p(d: float, h: float) -> float:  # TR 38.901 Table 7.4.2-1, UMa
        if d <= 18:
            return 1.0
        c = ((h - 13) / 10) ** 1.5 if h > 13 else 0.0
        near = 18 / d + math.exp(-d / 63) * (1 - 18 / d)
        return near * (1 + c * 5 / 4 * (d / 100) ** 3 * math.exp(-d / 150))

    d = [5.0, 18.0, 19.0, 100.0, 1000.0]
    for h in (1.5, 20.0):
        assert uma_los_probability(d, h) == pytest.approx([p(x, h) for x in d], rel=1e-12)
    assert float(uma_los_probability(100.0)) == pytest.approx(0.3477, abs=1e-4)


@pytest.mark.parametrize(
    ("d", "c0", "c3"),
    [
        (1000, 136.20, 139.20),
        (2000, 146.80, 149.80),
        (5000, 160.82, 163.82),
        (10000, 171.42, 174.42),
    ],
)
def test_cost231_medium_city_and_metropolitan(d, c0, c3):
    assert float(cost231(d, 1800.0, 30.0, 1.5, area="suburban").db) == pytest.approx(c0, abs=0.005)
    assert float(cost231(d, 1800.0, 30.0, 1.5, area="urban").db) == pytest.approx(c3, abs=0.005)


def small_city_a(f: float, hm: float) -> float:
    return (1.1 * log(f) - 0.7) * hm - (1.56 * log(f) - 0.8)


def test_cost231_written_out():
    f, hb, hm, d_km = 1950.0, 45.0, 2.0, 7.5
    expected = (
        46.3
        + 33.9 * log(f)
        - 13.82 * log(hb)
        - small_city_a(f, hm)
        + (44.9 - 6.55 * log(hb)) * log(d_km)
        + 3
    )
    assert float(cost231(d_km * 1000, f, hb, hm).db) == pytest.approx(expected, abs=1e-9)


def urban_hata(f: float, hb: float, hm: float, d_km: float, a_hm: float) -> float:
    return 69.55 + 26.16 * log(f) - 13.82 * log(hb) - a_hm + (44.9 - 6.55 * log(hb)) * log(d_km)


def test_hata_900_mhz_published_value():
    assert float(hata(1000, 900.0, 30.0, 1.5).db) == pytest.approx(126.40, abs=0.005)


def test_hata_areas_and_cities_written_out():
    f, hb, hm, d = 900.0, 50.0, 1.5, 5.0
    urban = urban_hata(f, hb, hm, d, small_city_a(f, hm))
    suburban = urban - 2 * log(f / 28) ** 2 - 5.4
    open_area = urban - 4.78 * log(f) ** 2 + 18.33 * log(f) - 40.94
    large = urban_hata(f, hb, hm, d, 3.2 * log(11.75 * hm) ** 2 - 4.97)
    large_vhf = urban_hata(170.0, hb, hm, d, 8.29 * log(1.54 * hm) ** 2 - 1.1)
    assert float(hata(d * 1000, f, hb, hm).db) == pytest.approx(urban, abs=1e-9)
    assert float(hata(d * 1000, f, hb, hm, area="suburban").db) == pytest.approx(suburban, abs=1e-9)
    assert float(hata(d * 1000, f, hb, hm, area="open").db) == pytest.approx(open_area, abs=1e-9)
    assert float(hata(d * 1000, f, hb, hm, city="large").db) == pytest.approx(large, abs=1e-9)
    assert float(hata(d * 1000, 170.0, hb, hm, city="large").db) == pytest.approx(
        large_vhf, abs=1e-9
    )
    assert open_area < suburban < urban


def test_fspl_known_value_and_slope():
    assert float(fspl(1000, 2400.0).db) == pytest.approx(100.05, abs=0.005)
    exact = 20 * log(4 * math.pi * 1000 * 2400e6 / 299_792_458)
    assert float(fspl(1000, 2400.0).db) == pytest.approx(exact, abs=1e-9)
    db = fspl([100, 1000, 10000], 900.0).db
    assert np.diff(db) == pytest.approx([20.0, 20.0], abs=1e-9)


def test_antenna_pattern_horizontal():
    g = antenna_gain_db([0.0, 32.5, -32.5, 180.0, 150.0], 0.0)
    assert g == pytest.approx([0.0, -3.0, -3.0, -30.0, -30.0], abs=1e-9)
    # Relative to the antenna azimuth, across north: 350° seen from a 20° sector is −30°.
    az = antenna_gain_db([20.0, 350.0], 0.0, azimuth_deg=20.0, h_beamwidth_deg=60.0)
    assert az == pytest.approx([0.0, -3.0], abs=1e-9)


def test_antenna_pattern_vertical_with_tilt():
    # 6° downtilt: boresight points 6° below the horizon; half a 10° beamwidth off is −3 dB.
    g = antenna_gain_db(0.0, [-6.0, -11.0, -1.0, 60.0], downtilt_deg=6.0, v_beamwidth_deg=10.0)
    assert g == pytest.approx([0.0, -3.0, -3.0, -30.0], abs=1e-9)


def test_antenna_pattern_combined_is_capped():
    half = antenna_gain_db(32.5, -11.0, downtilt_deg=6.0, v_beamwidth_deg=10.0)
    assert float(half) == pytest.approx(-6.0, abs=1e-9)  # A_H + A_V below the cap
    back = antenna_gain_db(180.0, 60.0, downtilt_deg=6.0, v_beamwidth_deg=10.0)
    assert float(back) == pytest.approx(-30.0, abs=1e-9)  # −60 capped at the 30 dB A_m
    grid = antenna_gain_db(np.zeros((2, 3)), np.zeros((2, 3)))
    assert grid.shape == (2, 3)


def test_eirp():
    assert float(eirp_dbm(46.0, 18.0, 2.0)) == pytest.approx(62.0)
    assert eirp_dbm([43.0, 46.0], 17.0, 3.0) == pytest.approx([57.0, 60.0])


@pytest.mark.parametrize(
    ("f", "name"),
    [(450, "hata"), (900, "hata"), (1500, "cost231"), (1800, "cost231"), (2000, "cost231")]
    + [(2100, "uma"), (3500, "uma"), (28_000, "uma"), (100_000, "uma")],
)
def test_choose_model(f, name):
    assert choose_model(f) == name


@pytest.mark.parametrize("f", [100.0, 120_000.0])
def test_choose_model_out_of_range(f):
    with pytest.raises(OutOfRange, match=r"valid for frequency 150–100000 MHz"):
        choose_model(f)


def test_registry_names():
    assert set(MODELS) == {"cost231", "hata", "uma", "fspl", "fixed"}
    assert MODELS["fixed"].frequency_mhz is None


def test_distances_out_of_range_are_masked_not_raised():
    loss = hata([500, 1000, 20_000, 30_000], 900.0, 30.0, 1.5)
    assert loss.in_range.tolist() == [False, True, True, False]
    assert loss.message == "hata is valid for distance 1000–20000 m; 2 of 4 points are outside"
    assert np.isfinite(loss.db).all()  # values kept: the caller decides with the mask
    near = uma([0.0, 5.0, 10.0, 6000.0], 3500.0)
    assert near.in_range.tolist() == [False, False, True, False]
    assert near.message is not None and "uma is valid for distance 10–5000 m" in near.message
    assert fspl([0.0, 1.0], 900.0).in_range.tolist() == [False, True]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: hata(1000, 1800.0, 30, 1.5), "hata is valid for frequency 150–1500 MHz, got 1800"),
        (lambda: hata(1000, 900.0, 20, 1.5), "hata is valid for base station height 30–200 m"),
        (lambda: hata(1000, 900.0, 30, 12), "hata is valid for mobile height 1–10 m, got 12"),
        (lambda: hata(1000, 300.0, 30, 1.5, city="large"), "≤ 200 or ≥ 400 MHz, got 300"),
        (lambda: cost231(1000, 900.0, 30, 1.5), "cost231 is valid for frequency 1500–2000 MHz"),
        (lambda: uma(100, 200.0), "uma is valid for frequency 500–100000 MHz, got 200"),
        (lambda: uma(100, 3500.0, h_mobile_m=30), "uma is valid for mobile height 1.5–22.5 m"),
    ],
)
def test_frequency_and_heights_out_of_range_raise(call, message):
    with pytest.raises(OutOfRange) as err:
        call()
    assert message in str(err.value)
    assert isinstance(err.value, InvalidParameter)


def test_uma_base_height_other_than_25_m_is_reported():
    loss = uma(100, 3500.0, h_base_m=30.0)
    assert loss.message == "uma is specified for hBS = 25 m, computed for 30 m"
    assert loss.in_range


def test_bad_choices_are_invalid_parameters():
    with pytest.raises(InvalidParameter, match="hata area must be one of urban, suburban, open"):
        hata(1000, 900.0, 30, 1.5, area="rural")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match="fspl needs a frequency above 0 MHz"):
        fspl(1000, 0.0)


def test_out_of_range_is_a_400_problem():
    app = FastAPI()
    install(app)

    @app.get("/pl")
    def pl() -> float:
        return float(hata(1000, 1800.0, 30, 1.5).db)

    r = TestClient(app).get("/pl")
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "hata is valid for frequency 150–1500 MHz, got 1800"


def test_distance_for_loss_inverts_the_published_values():
    # Hata 900 MHz, 30/1.5 m: 126.40 dB at 1 km; UMa NLOS 3.5 GHz: 129.92 dB at 500 m.
    assert distance_for_loss("hata", 126.40, 900.0, 30.0, 1.5) == pytest.approx(1000.0, abs=0.5)
    assert distance_for_loss("uma", 129.92, 3500.0, 25.0, 1.5) == pytest.approx(500.0, abs=0.2)
    assert distance_for_loss("cost231", 139.20, 1800.0, 30.0, 1.5) == pytest.approx(1000.0, abs=0.5)
    assert distance_for_loss("cost231", 136.20, 1800.0, 30.0, 1.5, "suburban") == pytest.approx(
        1000.0, abs=0.5
    )


@pytest.mark.parametrize(
    ("model", "area"),
    [
        ("fspl", "urban"),
        ("hata", "urban"),
        ("hata", "suburban"),
        ("hata", "open"),
        ("cost231", "urban"),
        ("cost231", "suburban"),
    ],
)
def test_distance_for_loss_is_the_exact_inverse(model, area):
    f = 1800.0 if model == "cost231" else 900.0
    for d in (1500.0, 4000.0, 12_000.0):
        if model == "fspl":
            loss = float(fspl(d, f).db)
        elif model == "hata":
            loss = float(hata(d, f, 40.0, 1.5, area=area).db)
        else:
            loss = float(cost231(d, f, 40.0, 1.5, area=area).db)
        assert distance_for_loss(model, loss, f, 40.0, 1.5, area) == pytest.approx(d, rel=1e-9)


def test_distance_for_loss_bounds_uma_from_above():
    for d in (50.0, 300.0, 2000.0):
        loss = float(uma(d, 3500.0, 30.0, 1.5).db)
        assert distance_for_loss("uma", loss, 3500.0, 30.0, 1.5) >= d - 1e-6
