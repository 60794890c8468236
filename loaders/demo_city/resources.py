"""Emergency resources of the demo: real Qingdao names at SYNTHETIC positions and holdings.

The hospitals, fire-rescue brigades and police branches are real institutions of the
urban districts; their positions are approximate (from memory of the street address, to a
few hundred metres) and are then moved onto the demo's synthetic road grid, next to its
nearest intersection, so that /analysis/responders can route them. Vehicles, staff, beds
and what they hold are invented: `holds` says so on every row, and the load log labels the
layer synthetic. Phones are the public emergency numbers, not the stations' own.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from loaders.demo_city.network import RoadGraph
from loaders.demo_city.plane import frame, to_lonlat, to_xy

SYNTHETIC = "（合成数据 synthetic: 位置近似、装备虚构）"
FIRE = "青岛市消防救援支队"
POLICE = "青岛市公安局"
# name, kind, approximate (lon, lat), vehicles, staff, beds, holds, owner, phone
PLACES: tuple[tuple[str, str, tuple[float, float], int, int, int | None, str, str, str], ...] = (
    ("青岛市市立医院（本部）", "hospital", (120.3290, 36.0720), 12, 2600, 1500,
     "急诊、烧伤科、救护车", "青岛市市立医院", "120"),
    ("青岛大学附属医院（市南院区）", "hospital", (120.3305, 36.0668), 15, 3000, 1800,
     "急诊、创伤中心、救护车", "青岛大学附属医院", "120"),
    ("青岛大学附属医院（崂山院区）", "hospital", (120.4560, 36.1060), 10, 2200, 1400,
     "急诊、救护车", "青岛大学附属医院", "120"),
    ("青岛大学附属医院（黄岛院区）", "hospital", (120.1950, 35.9580), 8, 1500, 1000,
     "急诊、救护车", "青岛大学附属医院", "120"),
    ("青岛市市立医院（东院）", "hospital", (120.4060, 36.0600), 8, 1800, 1200,
     "急诊、救护车", "青岛市市立医院", "120"),
    ("青岛市中心医院", "hospital", (120.3650, 36.1200), 8, 1600, 1100,
     "急诊、救护车", "青岛市中心医院", "120"),
    ("青岛市海慈医疗集团", "hospital", (120.3560, 36.1020), 6, 1500, 1000,
     "急诊、救护车", "青岛市海慈医疗集团", "120"),
    ("青岛市急救中心", "ambulance", (120.3800, 36.0750), 40, 300, None,
     "救护车、急救调度", "青岛市卫生健康委员会", "120"),
    ("市南区消防救援大队", "fire_station", (120.3700, 36.0680), 8, 60, None,
     "水罐消防车、泡沫消防车、空气呼吸器", FIRE, "119"),
    ("市北区消防救援大队", "fire_station", (120.3550, 36.0900), 8, 60, None,
     "水罐消防车、举高喷射消防车、空气呼吸器", FIRE, "119"),
    ("崂山区消防救援大队", "fire_station", (120.4650, 36.1100), 7, 55, None,
     "水罐消防车、抢险救援车、空气呼吸器", FIRE, "119"),
    ("李沧区消防救援大队", "fire_station", (120.4200, 36.1550), 7, 55, None,
     "水罐消防车、泡沫消防车", FIRE, "119"),
    ("黄岛区消防救援大队", "fire_station", (120.1900, 35.9650), 9, 70, None,
     "泡沫消防车、化工灭火编队、空气呼吸器", FIRE, "119"),
    ("青岛市消防救援支队特勤大队", "hazmat_team", (120.3850, 36.0950), 12, 90, None,
     "危化品侦检车、洗消车、防化服、堵漏器材", FIRE, "119"),
    ("青岛市公安局市南分局", "police", (120.3450, 36.0680), 20, 400, None,
     "警车、警戒器材", POLICE, "110"),
    ("青岛市公安局市北分局", "police", (120.3530, 36.0850), 22, 450, None,
     "警车、警戒器材", POLICE, "110"),
    ("青岛市公安局崂山分局", "police", (120.4670, 36.1080), 15, 300, None,
     "警车、警戒器材", POLICE, "110"),
    ("青岛市公安局李沧分局", "police", (120.4150, 36.1600), 15, 320, None,
     "警车、警戒器材", POLICE, "110"),
    ("青岛市公安局黄岛分局", "police", (120.2000, 35.9600), 25, 500, None,
     "警车、警戒器材", POLICE, "110"),
    ("合成应急物资储备库", "supply_depot", (120.4300, 36.1400), 6, 20, None,
     "帐篷、棉被、饮用水、照明设备", "青岛市应急管理局", "12345"),
)  # fmt: skip
OFFSET_M = 25.0  # beside the intersection, not on it


def emergency_resources(g: RoadGraph) -> gpd.GeoDataFrame:
    """One row per place, beside the road intersection nearest its approximate position."""
    x, y = to_xy(np.array([p[2][0] for p in PLACES]), np.array([p[2][1] for p in PLACES]))
    near = np.hypot(g.x[None, :] - x[:, None], g.y[None, :] - y[:, None]).argmin(axis=1)
    lon, lat = to_lonlat(g.x[near] + OFFSET_M, g.y[near] + OFFSET_M)
    return frame(
        {
            "asset_id": [f"ER{i:03d}" for i in range(len(PLACES))],
            "name": [p[0] for p in PLACES],
            "kind": [p[1] for p in PLACES],
            "vehicles": [p[3] for p in PLACES],
            "staff": [p[4] for p in PLACES],
            "beds": pd.array([p[5] for p in PLACES], dtype="Int64"),
            "holds": [p[6] + SYNTHETIC for p in PLACES],
            "owner": [p[7] for p in PLACES],
            "phone": [p[8] for p in PLACES],
            "status": "in_service",
        },
        shapely.points(np.round(lon, 7), np.round(lat, 7)),
    )
