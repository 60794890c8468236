"""SYNTHETIC base stations and their sectors across three operators."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from loaders.demo_city.plane import (
    EPOCH,
    downtown_weight,
    frame,
    on_land,
    pick,
    to_lonlat,
    to_xy,
    urban_land,
    utc,
)

OPERATORS = ("china_mobile", "china_unicom", "china_telecom")
OPERATOR_SHORT = ("CM", "CU", "CT")
STRUCTURE_HEIGHT_M = {"rooftop": (20, 45), "tower": (25, 45), "pole": (15, 25)}  # to the top
# (band, downlink centre MHz) per operator for LTE and NR, roughly as deployed in China.
RADIO = {
    "lte": (("B39", 1900.0), ("B3", 1845.0), ("B3", 1867.5)),
    "nr": (("n41", 2565.0), ("n78", 3550.0), ("n78", 3450.0)),
}
# power_dbm is the reference-signal power per resource element: the carrier's total power
# spread over its subcarriers (LTE 20 MHz: 1200; NR 100 MHz at 30 kHz: 273 PRB · 12 = 3276).
SUBCARRIERS = {"lte": 1200, "nr": 3276}
# Antennas (generic, not a vendor's sheet): an LTE 65° panel with an RRU on the mast and a
# jumper, an NR 64T64R AAU whose broadcast beam is 65° × 6° and whose ports need no feeder.
ANTENNA = {  # technology: (model, gain dBi, vertical beamwidth °, feeder loss range dB)
    "lte": ("generic 65° 17.5 dBi panel (synthetic)", 17.5, 7.0, (0.5, 3.0)),
    "nr": ("generic 64T64R AAU, 65° × 6° broadcast beam (synthetic)", 20.0, 6.0, (0.0, 0.0)),
}


def base_stations(rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Sites ~400 m apart downtown, ~600 m outside; 40 % shared by two or three operators."""
    s = 400.0
    lon0, lat0, lon1, lat1 = urban_land().bounds
    (x0, x1), (y0, y1) = to_xy([lon0, lon1], [lat0, lat1])
    gx, gy = np.meshgrid(np.arange(x0, x1, s), np.arange(y0, y1, s))
    x = gx.ravel() + rng.uniform(-0.35, 0.35, gx.size) * s
    y = gy.ravel() + rng.uniform(-0.35, 0.35, gx.size) * s
    downtown = downtown_weight(x, y, 5000.0)
    keep = on_land(x, y) & (rng.random(x.size) < 0.45 + 0.55 * downtown)
    x, y, downtown = x[keep], y[keep], downtown[keep]
    n = x.size

    shared = rng.random(n) < 0.4
    serves = np.zeros((n, 3), bool)
    serves[np.arange(n), rng.choice(3, n, p=(0.45, 0.28, 0.27))] = True
    both = rng.random(n) < 0.5  # shared by all three, else by two
    serves[shared] = True
    two = shared & ~both
    serves[np.flatnonzero(two), rng.integers(0, 3, two.sum())] = False
    structure = np.where(
        rng.random(n) < 0.2 + 0.6 * downtown,
        "rooftop",
        pick(rng, ("tower", "pole"), n, p=(0.65, 0.35)),
    )
    low, high = np.array([STRUCTURE_HEIGHT_M[k] for k in structure]).T
    height = np.round(rng.uniform(low, high), 1)
    status = pick(rng, ("in_service", "under_construction", "planned"), n, p=(0.96, 0.02, 0.02))
    built = rng.integers(365 * 38, 365 * 55, n)  # 2008–2024
    site_ids = np.array([f"BS{i:05d}" for i in range(n)], dtype=object)
    lon, lat = (np.round(v, 7) for v in to_lonlat(x, y))
    sites = frame(
        {
            "asset_id": site_ids,
            "name": [f"合成站点{i:05d}" for i in range(n)],
            "site_code": [f"QD-SYN-{i:05d}" for i in range(n)],
            "structure": structure,
            "height_m": height,
            "shared": shared,
            "owner": np.where(shared, "tower company", np.array(OPERATORS)[serves.argmax(axis=1)])
            + " (synthetic)",
            "status": status,
            "valid_from": utc(built),
        },
        shapely.points(lon, lat),
    )

    site, op = np.nonzero(serves)
    tech = np.where(rng.random(site.size) < 0.5, "nr", "lte")
    nr_from = int((np.datetime64("2019-11-01", "D") - EPOCH).astype(int))
    since = np.where(
        tech == "nr",
        np.maximum(built[site], nr_from + rng.integers(0, 5 * 365, site.size)),
        built[site],
    )
    rotation = rng.uniform(0, 120, n)
    k = np.tile(np.arange(3), site.size)
    site, op, tech, since = (np.repeat(v, 3) for v in (site, op, tech, since))
    band = np.array([RADIO[t][o][0] for t, o in zip(tech, op, strict=True)], dtype=object)
    freq = np.array([RADIO[t][o][1] for t, o in zip(tech, op, strict=True)])
    m = site.size
    # The carrier's total power (NR AAUs 6 dB above LTE RRUs), drawn as before so the
    # generator's sequence, and every layer drawn after this one, stays the same.
    total = rng.uniform(40, 49, m) + np.where(tech == "nr", 6.0, 0.0)
    rs_power = total - 10 * np.log10([SUBCARRIERS[t] for t in tech])
    # The antennas draw from a generator of their own, for the same reason.
    feeder_rng = np.random.default_rng(20261202)
    low, high = np.array([ANTENNA[t][3] for t in tech]).T
    sectors = frame(
        {
            "asset_id": [
                f"{site_ids[s_]}-{OPERATOR_SHORT[o]}-{k_ + 1}"
                for s_, o, k_ in zip(site, op, k, strict=True)
            ],
            "site_id": site_ids[site],
            "operator": np.array(OPERATORS, dtype=object)[op],
            "technology": tech.astype(object),
            "band": band,
            "frequency_mhz": freq,
            "azimuth_deg": np.round((rotation[site] + 120 * k + rng.normal(0, 5, m)) % 360, 1),
            "beamwidth_deg": 65.0,
            "tilt_deg": np.round(rng.uniform(2, 10, m), 1),
            "antenna_height_m": np.round(np.clip(height[site] - rng.uniform(0, 3, m), 15, 45), 1),
            "power_dbm": np.round(rs_power, 1),
            "antenna_gain_dbi": [ANTENNA[t][1] for t in tech],
            "feeder_loss_db": np.round(feeder_rng.uniform(low, high), 1),
            "vertical_beamwidth_deg": [ANTENNA[t][2] for t in tech],
            "antenna_model": np.array([ANTENNA[t][0] for t in tech], dtype=object),
            "status": status[site],
            "valid_from": utc(since),
        },
        shapely.points(lon[site], lat[site]),
    )
    return sites, sectors
