"""SYNTHETIC owners of the demo's pipe networks, with contacts a dig report can show.

One per utility, named exactly as the demo's pipes and nodes name their owner
(`network.pipe_network`: "<utility> utility (synthetic)"). Nobody here exists: the offices
are plausible points in 市南 and 市北, the phone numbers follow Qingdao's 0532 area code
but their local part begins with 0, which no Chinese local number does, so none can ring
anyone, and the mail addresses are at example.org (RFC 2606).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from layers.common import UTILITIES
from loaders.demo_city.plane import frame

OFFICES = {  # utility: (lon, lat, street), on land in the urban core
    "water": (120.3772, 36.0739, "香港中路"),
    "drainage": (120.3539, 36.0827, "延安三路"),
    "gas": (120.3964, 36.0702, "东海西路"),
    "heating": (120.3455, 36.0913, "辽宁路"),
    "telecom": (120.4115, 36.0688, "澳门路"),
    "power": (120.3690, 36.0984, "福州南路"),
}
SINCE = pd.Timestamp("1970-01-01", tz="UTC")  # as old as the oldest demo pipe


def owner_name(utility: str) -> str:
    """The owner the demo's network rows name (and the dig report joins on)."""
    return f"{utility} utility (synthetic)"


def owners() -> gpd.GeoDataFrame:
    """The six synthetic owners, one per utility; fixed, so no seed is needed."""
    rows = [(u, i, *OFFICES[u]) for i, u in enumerate(UTILITIES, 1)]
    return frame(
        {
            "asset_id": [f"OWN-{u}" for u, *_ in rows],
            "name": [owner_name(u) for u, *_ in rows],
            "utility": [u for u, *_ in rows],
            "phone_24h": [f"0532-0000-{i:02d}{i:02d} (synthetic)" for _, i, *_ in rows],
            "email": [f"{u}-duty@example.org" for u, *_ in rows],
            "contact": [f"{u} duty officer (synthetic)" for u, *_ in rows],
            "address": [f"{street} (synthetic address), 青岛" for *_, street in rows],
            "valid_from": [SINCE] * len(rows),
        },
        shapely.points([(lon, lat) for _, _, lon, lat, _ in rows]),
    )
