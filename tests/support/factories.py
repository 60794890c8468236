"""Valid sample rows for any catalog layer, so per-layer tests need no hand-written data."""

from __future__ import annotations

from datetime import UTC, date, datetime

from layers import Attribute, AttrType, LayerSpec

SAMPLE_WKT = {  # around Qingdao's Zhanqiao pier
    "Point": "POINT(120.3197 36.0611{z})",
    "LineString": "LINESTRING(120.3197 36.0611{z}, 120.3210 36.0620{z})",
    "Polygon": "POLYGON((120.31 36.06{z}, 120.32 36.06{z}, 120.32 36.07{z}, 120.31 36.06{z}))",
    "MultiPoint": "MULTIPOINT((120.3197 36.0611{z}))",
    "MultiLineString": "MULTILINESTRING((120.3197 36.0611{z}, 120.3210 36.0620{z}))",
    "MultiPolygon": "MULTIPOLYGON(((120.31 36.06{z}, 120.32 36.06{z}, 120.32 36.07{z}, "
    "120.31 36.06{z})))",
}


def sample_value(attr: Attribute):
    if attr.choices:
        return attr.choices[0]
    return {
        AttrType.text: "样例",
        AttrType.integer: int(attr.minimum or 0) + 1,
        AttrType.real: (attr.minimum or 0) + 1.5,
        AttrType.boolean: True,
        AttrType.date: date(2020, 5, 1),
        AttrType.timestamp: datetime(2026, 1, 1, tzinfo=UTC),
    }[attr.type]


def sample_row(spec: LayerSpec, asset_id: str = "A1") -> dict:
    row = {a.name: sample_value(a) for a in spec.attributes}
    row["asset_id"] = asset_id
    z = " -1.5" if spec.dimension == 3 else ""
    row["geom"] = "SRID=4490;" + SAMPLE_WKT[spec.geometry_type].format(z=z)
    return row


def insert_sql(spec: LayerSpec, row: dict) -> str:
    cols = ", ".join(row)
    values = ", ".join("ST_GeomFromEWKT(:geom)" if c == "geom" else f":{c}" for c in row)
    return f"INSERT INTO city.{spec.id} ({cols}) VALUES ({values})"
