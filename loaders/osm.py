"""OpenStreetMap PBF → catalog layers: pyrosm reads, small declarative tables map the tags.

Each layer is read → mapped → conformed:

* a pyrosm read with a coarse pre-filter gives the raw elements (id, osm_type, tag columns,
  geometry);
* a mapping function takes a plain DataFrame of tags, keeps the rows that belong to the
  layer and maps their values onto the catalog vocabulary (testable without a PBF);
* :func:`map_layer` then fits values, geometry and dtypes to the layer's ``LayerSpec``, drops
  rows lacking a required attribute and tallies them in ``frame.attrs["skipped"]``.

asset_id is "n<id>", "w<id>" or "r<id>"; a multi-line split into LineStrings gives its parts
"w<id>:0", "w<id>:1"… Pipelines stay 2D: OSM has no elevation, and the core loader sets the
dimension.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from pyrosm import OSM
from shapely.geometry import MultiPolygon, Polygon

from layers.base_stations import BASE_STATIONS
from layers.logistics_parks import LOGISTICS_PARKS
from layers.pipelines import PIPELINES
from layers.roads import ROADS
from layers.scenic_sites import SCENIC_SITES
from layers.spec import AttrType, LayerSpec
from loaders.errors import LoadError

log = logging.getLogger(__name__)

OSM_CRS = "EPSG:4326"
ASSET_PREFIX = {"node": "n", "way": "w", "relation": "r"}
# Marks rows whose line runs against the direction of travel (oneway=-1); not an attribute.
REVERSED = "_reversed"

# --- Vocabulary: OSM tag values → catalog values (keys are lower-case, words joined by "_") ---

PIPELINE_UTILITIES = {
    "water": "water",
    "drinking_water": "water",
    "sewage": "drainage",
    "rainwater": "drainage",
    "gas": "gas",
    "natural_gas": "gas",
    "heat": "heating",
    "hot_water": "heating",
    "steam": "heating",
    "power": "power",
    "electricity": "power",
    "telecom": "telecom",
    "cable": "telecom",
}
# location=* values a buried pipeline may carry; a pipeline without the tag is accepted too.
PIPELINE_LOCATIONS = frozenset({"underground"})
PIPELINE_MATERIALS = {
    "steel": "steel",
    "stainless_steel": "steel",
    "ductile_iron": "ductile_iron",
    "cast_iron": "cast_iron",
    "pe": "pe",
    "polyethylene": "pe",
    "hdpe": "hdpe",
    "pe_hd": "hdpe",
    "pvc": "pvc",
    "upvc": "pvc",
    "pvc_u": "pvc",
    "concrete": "concrete",
    "reinforced_concrete": "concrete",
    "clay": "clay",
    "vitrified_clay": "clay",
    "stoneware": "clay",
    "copper": "copper",
    "aluminium": "aluminium",
    "aluminum": "aluminium",
    "fibre": "fibre",
    "fiber": "fibre",
    "plastic": "other",
    "wood": "other",
    "asbestos_cement": "other",
}

SCENIC_KINDS = {
    "museum": "museum",
    "zoo": "zoo",
    "aquarium": "zoo",
    "theme_park": "theme_park",
    "attraction": "landmark",
    "viewpoint": "landmark",
}
SCENIC_DEFAULT_KIND = "other"
# Places to stay and tourist information are tagged tourism=* but are not sites to visit.
NOT_SCENIC = frozenset(
    {
        "hotel",
        "hostel",
        "guest_house",
        "camp_site",
        "camp_pitch",
        "caravan_site",
        "apartment",
        "motel",
        "chalet",
        "alpine_hut",
        "wilderness_hut",
        "information",
    }
)
# A tourism tag on a route relation describes the route (or is a mistag), never a site.
NOT_SITE_RELATIONS = frozenset({"route", "route_master"})

# Read as "driving+service" so that the catalog's service class is populated; pyrosm still
# leaves out parking aisles, private and emergency-access service roads.
ROAD_NETWORK = "driving+service"
ROAD_CLASSES = {
    "motorway": "motorway",
    "motorway_link": "motorway",
    "trunk": "trunk",
    "trunk_link": "trunk",
    "primary": "primary",
    "primary_link": "primary",
    "secondary": "secondary",
    "secondary_link": "secondary",
    "tertiary": "tertiary",
    "tertiary_link": "tertiary",
    "residential": "residential",
    # A living street is a residential street with pedestrian priority; leaving it out
    # would cut the routing network.
    "living_street": "residential",
    "service": "service",
    "unclassified": "unclassified",
}
ONEWAY = {"yes": True, "true": True, "1": True, "-1": True, "no": False, "false": False, "0": False}
ONEWAY_AGAINST = frozenset({"-1"})
# OSM implies oneway=yes on these when the way has no oneway tag.
IMPLIED_ONEWAY = {
    "junction": frozenset({"roundabout", "circular"}),
    "highway": frozenset({"motorway"}),
}

MAST_TYPES = frozenset({"mast", "tower"})
BASE_STATION_STRUCTURES = {
    "mast": "tower",
    "tower": "tower",
    "utility_pole": "pole",
    "pole": "pole",
}
# telecom=* values for exchanges, cabinets and cables, not antenna sites.
NOT_ANTENNA_SITES = frozenset(
    {
        "exchange",
        "connection_point",
        "distribution_point",
        "service_device",
        "data_center",
        "line",
        "cable",
    }
)

# (tags that must all match, kind); the first rule that matches gives the kind.
LOGISTICS_RULES: tuple[tuple[Mapping[str, str], str], ...] = (
    ({"landuse": "port"}, "port"),
    ({"industrial": "port"}, "port"),
    ({"landuse": "industrial", "industrial": "logistics"}, "distribution"),
    ({"landuse": "industrial", "industrial": "distributor"}, "distribution"),
    ({"landuse": "industrial", "industrial": "warehouse"}, "warehouse"),
    ({"building": "warehouse"}, "warehouse"),
)

NAME_KEYS = ("name", "name:zh")
PINYIN_KEYS = ("name:zh_pinyin", "name:en")

# --- Parsers: OSM quantity strings → catalog units ---

SPEED_UNITS_KMH = {"": 1.0, "km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344, "knots": 1.852}
DIAMETER_UNITS_MM = {
    "": 1.0,
    "mm": 1.0,
    "cm": 10.0,
    "m": 1000.0,
    '"': 25.4,
    "in": 25.4,
    "inch": 25.4,
}
LENGTH_UNITS_M = {"": 1.0, "m": 1.0, "ft": 0.3048, "'": 0.3048}

_QUANTITY = re.compile(r"(?P<number>\d+(?:[.,]\d+)?|[.,]\d+)\s*(?P<unit>\D*)")


def _text(value: Any) -> str | None:
    """A tag value as stripped text; None for a missing or blank value."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).strip() or None


def _key(value: Any) -> str | None:
    """A tag value as a vocabulary key: lower case, words joined by underscores."""
    text = _text(value)
    return None if text is None else re.sub(r"\s+|(?<=\w)-(?=\w)", "_", text.lower())


def _quantity(value: Any, units: Mapping[str, float]) -> float | None:
    text = _text(value)
    match = _QUANTITY.fullmatch(text.lower()) if text else None
    if match is None or match["unit"].strip() not in units:
        return None
    return float(match["number"].replace(",", ".")) * units[match["unit"].strip()]


def parse_speed_kmh(value: Any) -> float | None:
    """maxspeed ("50", "50 km/h", "30 mph") in km/h; None for "none", "walk", "RU:urban"…"""
    return _quantity(value, SPEED_UNITS_KMH)


def parse_diameter_mm(value: Any) -> float | None:
    """diameter ("300", "300 mm", "0.3 m", '4"') in mm; a bare number is mm in OSM."""
    return _quantity(value, DIAMETER_UNITS_MM)


def parse_height_m(value: Any) -> float | None:
    """height ("18", "48.5 m", "60 ft") in metres."""
    return _quantity(value, LENGTH_UNITS_M)


def parse_int(value: Any) -> int | None:
    text = _text(value)
    return int(text) if text and text.isdigit() else None


# --- Mapping functions: a DataFrame of tags (one column per OSM key, plus osm_type) →
# the catalog attributes of the rows that belong to the layer ---


def _lookup(values: pd.Series, vocabulary: Mapping[str, Any]) -> pd.Series:
    return values.map(lambda v: vocabulary.get(_key(v) or ""), na_action="ignore")


def _first(tags: pd.DataFrame, keys: Iterable[str]) -> pd.Series:
    """Per row, the first of ``keys`` that has a value."""
    out = pd.Series(None, index=tags.index, dtype=object)
    for key in keys:
        out = out.where(out.notna(), tags[key])
    return out


def _is(values: pd.Series, wanted: str | Iterable[str]) -> pd.Series:
    wanted = {wanted} if isinstance(wanted, str) else set(wanted)
    return values.map(_key).isin(wanted)


def pipeline_attributes(tags: pd.DataFrame) -> pd.DataFrame:
    """Buried man_made=pipeline ways; utility from substance, else the older type tag."""
    buried = tags["location"].isna() | _is(tags["location"], PIPELINE_LOCATIONS)
    t = tags[_is(tags["man_made"], "pipeline") & buried]
    utility = _lookup(t["substance"], PIPELINE_UTILITIES)
    return pd.DataFrame(
        {
            "utility": utility.where(utility.notna(), _lookup(t["type"], PIPELINE_UTILITIES)),
            "link_kind": "pipe",
            "diameter_mm": t["diameter"].map(parse_diameter_mm),
            "material": _lookup(t["material"], PIPELINE_MATERIALS),
            "owner": t["operator"],
        },
        index=t.index,
    )


def scenic_attributes(tags: pd.DataFrame) -> pd.DataFrame:
    tourism = tags["tourism"].map(_key)
    site = (
        tourism.notna()
        & ~tourism.isin(NOT_SCENIC)
        & ~(_is(tags["osm_type"], "relation") & _is(tags["type"], NOT_SITE_RELATIONS))
    )
    t = tags[site]
    return pd.DataFrame(
        {
            "name": _first(t, NAME_KEYS),
            "name_pinyin": _first(t, PINYIN_KEYS),
            "kind": _lookup(t["tourism"], SCENIC_KINDS).fillna(SCENIC_DEFAULT_KIND),
        },
        index=t.index,
    )


def road_attributes(tags: pd.DataFrame) -> pd.DataFrame:
    road_class = _lookup(tags["highway"], ROAD_CLASSES)
    t = tags[road_class.notna()]
    oneway = _lookup(t["oneway"], ONEWAY)
    implied = pd.Series(False, index=t.index)
    for key, values in IMPLIED_ONEWAY.items():
        implied |= _is(t[key], values)
    oneway = oneway.where(oneway.notna() | t["oneway"].notna() | ~implied, True)
    return pd.DataFrame(
        {
            "name": _first(t, NAME_KEYS),
            "road_class": road_class[t.index],
            "oneway": oneway,
            "lanes": t["lanes"].map(parse_int),
            "speed_kmh": t["maxspeed"].map(parse_speed_kmh),
            REVERSED: _is(t["oneway"], ONEWAY_AGAINST),
        },
        index=t.index,
    )


def base_station_attributes(tags: pd.DataFrame) -> pd.DataFrame:
    """Communication masts and towers, and telecom antenna nodes."""
    mast = _is(tags["man_made"], MAST_TYPES) & (
        _is(tags["tower:type"], "communication") | _is(tags["communication:mobile_phone"], "yes")
    )
    telecom = (
        _is(tags["osm_type"], "node")
        & tags["telecom"].notna()
        & ~_is(tags["telecom"], NOT_ANTENNA_SITES)
    )
    t = tags[mast | telecom]
    return pd.DataFrame(
        {
            "name": _first(t, NAME_KEYS),
            "structure": _lookup(t["man_made"], BASE_STATION_STRUCTURES),
            "height_m": t["height"].map(parse_height_m),
            "owner": t["operator"],
        },
        index=t.index,
    )


def logistics_attributes(tags: pd.DataFrame) -> pd.DataFrame:
    kind = pd.Series(None, index=tags.index, dtype=object)
    for required, value in LOGISTICS_RULES:
        match = pd.Series(True, index=tags.index)
        for key, wanted in required.items():
            match &= _is(tags[key], wanted)
        kind = kind.where(kind.notna() | ~match, value)
    t = tags[kind.notna()]
    return pd.DataFrame(
        {
            "name": _first(t, NAME_KEYS),
            "kind": kind[t.index],
            "owner": t["operator"],
        },
        index=t.index,
    )


# --- Sources: how each layer is read from the PBF ---

Reader = Callable[[OSM, list[str]], gpd.GeoDataFrame | None]


def _custom(osm_filter: dict[str, Any], **keep: bool) -> Reader:
    def read(osm: OSM, keys: list[str]) -> gpd.GeoDataFrame | None:
        return osm.get_data_by_custom_criteria(
            custom_filter=osm_filter, tags_as_columns=keys, keep_other_tags=False, **keep
        )

    return read


def _network(osm: OSM, keys: list[str]) -> gpd.GeoDataFrame | None:
    return osm.get_network(ROAD_NETWORK, extra_attributes=keys)


@dataclass(frozen=True)
class OsmSource:
    spec: LayerSpec
    keys: tuple[str, ...]  # OSM tag keys the mapping function reads
    read: Reader  # a coarse pre-filter; the mapping function decides what belongs
    to_attributes: Callable[[pd.DataFrame], pd.DataFrame]


SOURCES: dict[str, OsmSource] = {
    s.spec.id: s
    for s in (
        OsmSource(
            PIPELINES,
            ("man_made", "location", "substance", "type", "diameter", "material", "operator"),
            _custom({"man_made": ["pipeline"]}, keep_nodes=False),
            pipeline_attributes,
        ),
        OsmSource(
            SCENIC_SITES,
            ("tourism", "type", *NAME_KEYS, *PINYIN_KEYS),
            _custom({"tourism": True}),
            scenic_attributes,
        ),
        OsmSource(
            ROADS,
            ("highway", "oneway", "junction", "lanes", "maxspeed", *NAME_KEYS),
            _network,
            road_attributes,
        ),
        OsmSource(
            BASE_STATIONS,
            (
                "man_made",
                "tower:type",
                "communication:mobile_phone",
                "telecom",
                "height",
                "operator",
                *NAME_KEYS,
            ),
            _custom({"man_made": sorted(MAST_TYPES), "telecom": True}),
            base_station_attributes,
        ),
        OsmSource(
            LOGISTICS_PARKS,
            ("landuse", "industrial", "building", "operator", *NAME_KEYS),
            _custom(
                {
                    key: sorted({r[key] for r, _ in LOGISTICS_RULES if key in r})
                    for key in ("landuse", "industrial", "building")
                },
                keep_nodes=False,
            ),
            logistics_attributes,
        ),
    )
}

OSM_LAYERS = tuple(SOURCES)

# --- Conforming a mapped layer to its LayerSpec ---

PANDAS_DTYPES = {
    AttrType.text: "string",
    AttrType.integer: "Int64",
    AttrType.real: "Float64",
    AttrType.boolean: "boolean",
}


def tag_frame(raw: pd.DataFrame, keys: Iterable[str]) -> pd.DataFrame:
    """The tags ``keys`` of ``raw`` as text columns (missing keys all None), plus osm_type."""
    tags = pd.DataFrame(index=raw.index)
    for key in [*dict.fromkeys(keys), "osm_type"]:
        column = raw[key] if key in raw.columns else pd.Series(None, index=raw.index)
        tags[key] = column.map(_text).astype(object)
    return tags


def _in_vocabulary(spec: LayerSpec, attrs: pd.DataFrame) -> pd.DataFrame:
    """Null the values the catalog would refuse (outside choices or range)."""
    attrs = attrs.copy()
    for a in spec.attributes:
        if a.name not in attrs:
            continue
        values = attrs[a.name]
        if a.choices is not None:
            ok = values.isin(a.choices)
        elif a.minimum is not None or a.maximum is not None:
            number = pd.to_numeric(values, errors="coerce")
            ok = number.notna()
            if a.minimum is not None:
                ok &= number > a.minimum if a.exclusive_minimum else number >= a.minimum
            if a.maximum is not None:
                ok &= number <= a.maximum
        else:
            continue
        attrs[a.name] = values.where(ok | values.isna(), None)
    return attrs


def _fit_geometry(geoms: gpd.GeoSeries, geometry_type: str) -> gpd.GeoSeries:
    """Geometries as ``geometry_type`` where they can be, None where they cannot."""
    kinds = geoms.geom_type
    if geometry_type == "Point":
        return geoms.where(kinds == "Point", geoms.representative_point())
    if geometry_type == "LineString":
        return geoms.where(kinds.isin(["LineString", "MultiLineString"]), None)
    if geometry_type == "MultiPolygon":
        promoted = geoms.map(lambda g: MultiPolygon([g]) if isinstance(g, Polygon) else g)
        return promoted.where(kinds.isin(["Polygon", "MultiPolygon"]), None)
    raise NotImplementedError(f"no OSM geometry fitting for {geometry_type}")


def _asset_ids(exploded: gpd.GeoDataFrame) -> pd.Series:
    """ "n1", "w2", "r3"; the parts of an exploded multi-line add ":<part>" to stay unique."""
    ids = exploded["osm_type"].map(ASSET_PREFIX) + exploded["id"].astype("int64").astype(str)
    parts = ids.groupby(ids).transform("size")
    part_no = ids.groupby(ids).cumcount().astype(str)
    return ids.where(parts == 1, ids + ":" + part_no)


def empty_layer(layer_id: str) -> gpd.GeoDataFrame:
    """A layer frame with no rows, and the columns and CRS a filled one has."""
    source = SOURCES[layer_id]
    raw = gpd.GeoDataFrame(
        {"id": pd.Series(dtype="int64"), "osm_type": pd.Series(dtype=object)},
        geometry=gpd.GeoSeries([], crs=OSM_CRS),
    )
    return map_layer(layer_id, raw.reindex(columns=[*raw.columns, *source.keys]))


def map_layer(layer_id: str, raw: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Raw OSM elements (id, osm_type, tag columns, geometry) as the catalog layer's frame.

    Rows lacking a required attribute or a geometry of the layer's kind are dropped and
    counted in ``frame.attrs["skipped"]`` (reasons in ``frame.attrs["skipped_by_reason"]``).
    """
    source = SOURCES[layer_id]
    spec = source.spec
    raw = raw.reset_index(drop=True)
    attrs = _in_vocabulary(spec, source.to_attributes(tag_frame(raw, source.keys)))
    skipped: dict[str, int] = {}

    def drop(bad: pd.Series, reason: str) -> None:
        if n := int(bad.sum()):
            skipped[reason] = skipped.get(reason, 0) + n

    for a in spec.attributes:
        if a.required and a.name in attrs:
            bad = attrs[a.name].isna()
            drop(bad, f"no {a.name}")
            attrs = attrs[~bad]

    if raw.crs is not None and raw.crs != OSM_CRS:
        raise ValueError(f"{layer_id}: OSM elements must be in {OSM_CRS}, not {raw.crs}")
    geoms = gpd.GeoSeries(raw.geometry, crs=OSM_CRS).loc[attrs.index]
    if REVERSED in attrs:
        against = attrs.pop(REVERSED).astype(bool)
        geoms = geoms.where(~against, geoms.reverse())
    geoms = _fit_geometry(geoms, spec.geometry_type)
    bad = geoms.isna() | geoms.is_empty
    drop(bad, f"not a {spec.geometry_type}")
    attrs, geoms = attrs[~bad], geoms[~bad]

    elements = raw.loc[attrs.index, ["id", "osm_type"]]
    frame = gpd.GeoDataFrame(attrs.join(elements), geometry=geoms, crs=OSM_CRS)
    if spec.geometry_type == "LineString":
        frame = frame.explode(index_parts=False, ignore_index=True)
    columns = [a.name for a in spec.attributes if a.name in attrs.columns]
    out = gpd.GeoDataFrame(
        {
            "asset_id": _asset_ids(frame).astype("string"),
            **{c: frame[c].astype(PANDAS_DTYPES[spec.attribute(c).type]) for c in columns},
        },
        geometry=frame.geometry,
        crs=OSM_CRS,
    )
    out.attrs["skipped"] = sum(skipped.values())
    out.attrs["skipped_by_reason"] = skipped
    if skipped:
        log.info("%s: skipped %s", layer_id, skipped)
    return out


def read_osm(
    path: str | Path,
    layers: Iterable[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """Every requested layer (all of ``OSM_LAYERS`` by default), empty ones included."""
    wanted = list(OSM_LAYERS if layers is None else dict.fromkeys(layers))
    if unknown := [w for w in wanted if w not in SOURCES]:
        raise LoadError(f"no OSM mapping for layers {unknown}; known: {list(OSM_LAYERS)}")
    # complete_relations: an area cut by the bbox keeps its whole outline (no-op without bbox).
    osm = OSM(
        str(path),
        bounding_box=None if bbox is None else list(bbox),
        complete_relations=True,
        progress=False,
    )
    frames = {}
    for layer_id in wanted:
        source = SOURCES[layer_id]
        with warnings.catch_warnings():
            # An empty read is an answer here (the frame says 0), not something to warn about.
            warnings.filterwarnings("ignore", r"Could not find any .* for given area")
            raw = source.read(osm, list(source.keys))
        frames[layer_id] = empty_layer(layer_id) if raw is None else map_layer(layer_id, raw)
        log.info("%s: %d features from %s", layer_id, len(frames[layer_id]), Path(path).name)
    return frames
