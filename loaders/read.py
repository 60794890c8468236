"""Read a source file into GeoDataFrames keyed by layer id; nothing here touches the database.

The frame index is the row number users see in reports: 1-based feature number,
or the line number for CSV.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from loaders.errors import LoadError

OGR_SUFFIXES = {
    ".geojson",
    ".json",
    ".geojsonl",
    ".geojsons",
    ".geojsonseq",
    ".gpkg",
    ".shp",
    ".zip",
    ".fgb",
    ".gml",
    ".kml",
}
MULTI_LAYER_SUFFIXES = {".pbf", ".inp"}
LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape")


@dataclass(frozen=True)
class ReadOptions:
    crs: str | None = None  # the source CRS, when the file does not say
    source_layer: str | None = None  # layer inside a GeoPackage
    encoding: str | None = None
    lon: str | None = None
    lat: str | None = None
    wkt: str | None = None


def kind_of(path: Path) -> str:
    suffix = (
        "".join(path.suffixes[-2:]).lower()
        if path.name.lower().endswith(".osm.pbf")
        else path.suffix.lower()
    )
    if suffix in (".osm.pbf", ".pbf"):
        return "osm"
    if suffix == ".inp":
        return "epanet"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if suffix in OGR_SUFFIXES:
        return "ogr"
    if suffix in (".tif", ".tiff"):
        return "raster"
    raise LoadError(
        f"{path.name}: unknown format {suffix!r}; expected GeoJSON(-seq), GeoPackage, "
        "Shapefile (or .zip), CSV, OSM .pbf, EPANET .inp or a GeoTIFF of people"
    )


def read_source(
    path: Path, layer_id: str | None, options: ReadOptions
) -> dict[str, gpd.GeoDataFrame]:
    """Frames per target layer. Single-layer formats need the layer id from the caller."""
    if not path.exists():
        raise LoadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise LoadError(f"{path.name}: the file is empty")
    kind = kind_of(path)
    if kind == "osm":
        from loaders.osm import read_osm

        try:
            frames = read_osm(path, layers=None if layer_id in (None, "auto") else [layer_id])
        except LoadError:
            raise
        except Exception as exc:  # pyrosm's parser raises assorted low-level errors
            raise LoadError(f"{path.name}: not a readable OSM PBF file: {_short(exc)}") from None
    elif kind == "epanet":
        from loaders.epanet import read_epanet

        try:
            frames = read_epanet(path, options.crs)
        except ValueError as exc:
            raise LoadError(str(exc)) from None
    else:
        if layer_id in (None, "auto"):
            raise LoadError(f"{path.name} holds one layer: name the target layer")
        if kind == "raster":
            from loaders.raster import read_raster

            frame = read_raster(path)
        else:
            frame = read_csv(path, options) if kind == "csv" else read_ogr(path, options)
        frames = {layer_id: frame}
    if layer_id not in (None, "auto"):
        if layer_id not in frames:
            raise LoadError(
                f"{path.name} has nothing for layer {layer_id!r} "
                f"(it has: {', '.join(frames) or 'nothing'})"
            )
        frames = {layer_id: frames[layer_id]}
    if kind in ("osm", "epanet"):
        for frame in frames.values():
            frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frames


def read_ogr(path: Path, options: ReadOptions) -> gpd.GeoDataFrame:
    target = str(path)
    if path.suffix.lower() == ".zip":
        target = _zipped_shapefile(path)
    kwargs = {}
    if options.source_layer:
        kwargs["layer"] = options.source_layer
    if options.encoding:
        kwargs["encoding"] = options.encoding
    try:
        with warnings.catch_warnings():  # mixed-type columns: we type them ourselves
            warnings.simplefilter("ignore", UserWarning)
            frame = pyogrio.read_dataframe(target, use_arrow=True, **kwargs)
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"{path.name}: text is not valid UTF-8 ({exc.reason} at byte "
            f"{exc.start}); pass --encoding (e.g. gbk)"
        ) from None
    except Exception as exc:  # pyogrio raises several DataSource/GDAL error types
        raise LoadError(f"{path.name}: cannot be read: {_short(exc)}") from None
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    _check_text(frame, path)
    return frame


def _zipped_shapefile(path: Path) -> str:
    try:
        names = zipfile.ZipFile(path).namelist()
    except zipfile.BadZipFile:
        raise LoadError(f"{path.name}: not a valid zip archive") from None
    shps = [n for n in names if n.lower().endswith(".shp")]
    if len(shps) != 1:
        raise LoadError(f"{path.name}: expected one .shp in the archive, found {len(shps)}")
    return f"/vsizip/{path}/{shps[0]}"


# GDAL passes undecodable bytes through as U+FFFD or lone surrogates.
_UNDECODED = re.compile("[\ufffd\ud800-\udfff]")


def _check_text(frame: pd.DataFrame, path: Path) -> None:
    """Refuse text GDAL could not decode, rather than store mojibake."""
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            values = frame[col].dropna()
            bad = values[[isinstance(v, str) and _UNDECODED.search(v) is not None for v in values]]
            if len(bad):
                raise LoadError(
                    f"{path.name}: row {bad.index[0]} column {col!r} is not valid "
                    "UTF-8 text; pass --encoding (e.g. gbk)"
                )


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def read_csv(path: Path, options: ReadOptions) -> gpd.GeoDataFrame:
    raw = path.read_bytes()
    encoding = options.encoding or "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LoadError(
            f"{path.name}: line {line} is not valid {encoding} text; pass --encoding (e.g. gbk)"
        ) from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""]
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise LoadError(f"{path.name}: not a readable CSV: {_short(exc)}") from None
    frame.index = pd.RangeIndex(2, len(frame) + 2)  # line numbers, after the header
    geometry = _csv_geometry(frame, path, options)
    cols = [c for c in frame.columns if c not in geometry.attrs.get("used", ())]
    out = gpd.GeoDataFrame(frame[cols], geometry=geometry.values, index=frame.index)
    if options.crs is None:
        # Lon/lat columns and bare WKT are taken as WGS 84 only when they look geographic.
        out.attrs["assumed_crs"] = "EPSG:4326"
    return out


def _pick(frame: pd.DataFrame, given: str | None, names: tuple[str, ...]) -> str | None:
    if given:
        if given not in frame.columns:
            raise LoadError(f"no column {given!r}; columns are {', '.join(frame.columns)}")
        return given
    lowered = {c.lower(): c for c in frame.columns}
    return next((lowered[n] for n in names if n in lowered), None)


def _csv_geometry(frame: pd.DataFrame, path: Path, options: ReadOptions) -> pd.Series:
    wkt = _pick(frame, options.wkt, WKT_NAMES) if not (options.lon or options.lat) else None
    if wkt:
        values = frame[wkt].fillna("")
        geoms = shapely.from_wkt(values.where(values != "", None), on_invalid="ignore")
        series = pd.Series(geoms, index=frame.index)
        series.attrs["used"] = (wkt,)
        return series
    lon, lat = _pick(frame, options.lon, LON_NAMES), _pick(frame, options.lat, LAT_NAMES)
    if not (lon and lat):
        raise LoadError(
            f"{path.name}: no geometry: name the columns with --lon/--lat or --wkt "
            f"(columns are {', '.join(frame.columns)})"
        )
    x = pd.to_numeric(frame[lon], errors="coerce")
    y = pd.to_numeric(frame[lat], errors="coerce")
    geoms = shapely.points(x.to_numpy(), y.to_numpy())
    # Unparseable numbers become missing geometry, reported per row downstream.
    geoms[(x.isna() | y.isna()).to_numpy()] = None
    series = pd.Series(geoms, index=frame.index)
    series.attrs["used"] = (lon, lat)
    return series
