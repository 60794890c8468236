"""What a client reads before asking for tiles: OGC tileset metadata and TileJSON 3.0.0."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import AttrType, LayerSpec
from layers.links import Link
from layers.tables import SCHEMA
from tiles.grid import tile_matrix_set
from tiles.mvt import shape

MVT = "application/vnd.mapbox-vector-tile"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
REL_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
WORLD = (-180.0, -85.0511287798066, 180.0, 85.0511287798066)
EXACT_EXTENT_BELOW = 50_000  # rows; bigger tables use the planner's estimated extent
TEMPLATE = "{tileMatrix}/{tileRow}/{tileCol}"
_TYPE_WORDS = {AttrType.integer: "Number", AttrType.real: "Number", AttrType.boolean: "Boolean"}


class TileMatrixSetRef(BaseModel):
    id: str
    title: str | None
    uri: str | None
    links: list[Link]


class TileMatrixSetList(BaseModel):
    tileMatrixSets: list[TileMatrixSetRef]


class TileSetRef(BaseModel):
    title: str
    dataType: str = "vector"
    crs: str
    tileMatrixSetURI: str | None
    links: list[Link]


class TileSetList(BaseModel):
    tilesets: list[TileSetRef]


class BoundingBox(BaseModel):
    lowerLeft: tuple[float, float]
    upperRight: tuple[float, float]
    crs: str = CRS84


class TileSetLayer(BaseModel):
    id: str
    title: str
    description: str
    dataType: str = "vector"
    geometryDimension: int
    minTileMatrix: str
    maxTileMatrix: str
    propertiesSchema: dict


class TileSet(TileSetRef):
    description: str
    boundingBox: BoundingBox
    layers: list[TileSetLayer]


class VectorLayer(BaseModel):
    id: str
    description: str
    minzoom: int
    maxzoom: int
    fields: dict[str, str]


class TileJSON(BaseModel):
    tilejson: str = "3.0.0"
    name: str
    description: str
    version: str = "1.0.0"
    scheme: str = "xyz"
    tiles: list[str]
    minzoom: int
    maxzoom: int
    bounds: tuple[float, float, float, float]
    center: tuple[float, float, int]
    vector_layers: list[VectorLayer]


def tile_attributes(spec: LayerSpec) -> list[str]:
    """Every attribute a tile of this layer may carry, in catalog order."""
    carried = {n for group in spec.style.zoom_attributes.values() for n in group}
    return [a.name for a in spec.attributes if a.name in carried]


def fields(spec: LayerSpec) -> dict[str, str]:
    out = {"asset_id": "String: stable id of the asset (the feature id is its version_id)"}
    for name in tile_attributes(spec):
        a = spec.attribute(name)
        unit = f" ({a.unit})" if a.unit else ""
        out[name] = f"{_TYPE_WORDS.get(a.type, 'String')}: {a.title}{unit}"
    return out


def properties_schema(spec: LayerSpec) -> dict:
    types = {AttrType.integer: "integer", AttrType.real: "number", AttrType.boolean: "boolean"}
    props: dict[str, dict] = {"asset_id": {"type": "string", "title": "Asset id"}}
    for name in tile_attributes(spec):
        a = spec.attribute(name)
        props[name] = {"type": types.get(a.type, "string"), "title": a.title}
        props[name] |= {"x-ogc-unit": a.unit} if a.unit else {}
        props[name] |= {"enum": list(a.choices)} if a.choices else {}
    return {"type": "object", "properties": props}


async def bounds(
    conn: AsyncConnection, specs: Sequence[LayerSpec]
) -> tuple[float, float, float, float]:
    """Lon/lat extent of the layers' tables: exact when small, estimated when large."""
    boxes = []
    for spec in specs:
        box = (
            await conn.execute(
                text(
                    f"SELECT CASE WHEN c.reltuples >= :n THEN"
                    f" ST_EstimatedExtent(:schema, :table, 'geom')::box2d"
                    f" ELSE (SELECT ST_Extent(geom) FROM {SCHEMA}.{spec.id}) END AS b"
                    f" FROM pg_class c WHERE c.oid = CAST(:qualified AS regclass)"
                ),
                {
                    "n": EXACT_EXTENT_BELOW,
                    "schema": SCHEMA,
                    "table": spec.id,
                    "qualified": f"{SCHEMA}.{spec.id}",
                },
            )
        ).scalar_one()
        if box is not None:
            boxes.append(box)
    if not boxes:
        return WORLD
    corners = [_parse_box(b) for b in boxes]
    return (
        min(c[0] for c in corners),
        min(c[1] for c in corners),
        max(c[2] for c in corners),
        max(c[3] for c in corners),
    )


def _parse_box(box: str) -> tuple[float, float, float, float]:
    # BOX(xmin ymin,xmax ymax), as PostGIS prints a box2d
    lo, hi = box[box.index("(") + 1 : box.index(")")].split(",")
    (w, s), (e, n) = lo.split(), hi.split()
    return float(w), float(s), float(e), float(n)


def tileset_ref(title: str, tms_id: str, tileset_url: str, base: str) -> TileSetRef:
    tms = tile_matrix_set(tms_id)
    links = [
        Link(href=tileset_url, rel="self", type="application/json", title=title),
        Link(href=f"{base}/tileMatrixSets/{tms_id}", rel=REL_SCHEME, type="application/json"),
    ]
    return TileSetRef(
        title=title, crs=tms.crs.model_dump(mode="json"), tileMatrixSetURI=tms.uri, links=links
    )


def tileset(
    title: str,
    specs: Sequence[LayerSpec],
    tms_id: str,
    tileset_url: str,
    base: str,
    box: tuple[float, float, float, float],
    query: str,
) -> TileSet:
    ref = tileset_ref(title, tms_id, tileset_url, base)
    ref.links.append(
        Link(
            href=f"{tileset_url}/{TEMPLATE}{query}",
            rel="item",
            type=MVT,
            templated=True,
            title="Mapbox vector tile",
        )
    )
    ref.links.append(
        Link(
            href=f"{tileset_url}/tilejson.json{query}",
            rel="describedby",
            type="application/json",
            title="TileJSON",
        )
    )
    layers = [
        TileSetLayer(
            id=s.id,
            title=s.title,
            description=s.description,
            geometryDimension={"point": 0, "line": 1, "polygon": 2}[shape(s)],
            minTileMatrix=str(s.style.min_zoom),
            maxTileMatrix=str(s.style.max_zoom),
            propertiesSchema=properties_schema(s),
        )
        for s in specs
    ]
    return TileSet(
        **ref.model_dump(),
        description="; ".join(s.description for s in specs),
        boundingBox=BoundingBox(lowerLeft=box[:2], upperRight=box[2:]),
        layers=layers,
    )


def tilejson(
    name: str, specs: Sequence[LayerSpec], tile_url: str, box: tuple[float, float, float, float]
) -> TileJSON:
    """TileJSON 3.0.0; tile_url already holds {z}/{y}/{x} and the query string."""
    minzoom = min(s.style.min_zoom for s in specs)
    maxzoom = max(s.style.max_zoom for s in specs)
    center = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, min(max(minzoom, 10), maxzoom))
    return TileJSON(
        name=name,
        description="; ".join(f"{s.title} ({s.title_zh})" for s in specs),
        tiles=[tile_url],
        minzoom=minzoom,
        maxzoom=maxzoom,
        bounds=box,
        center=center,
        vector_layers=[
            VectorLayer(
                id=s.id,
                description=s.description,
                minzoom=s.style.min_zoom,
                maxzoom=s.style.max_zoom,
                fields=fields(s),
            )
            for s in specs
        ],
    )
