"""Loaders: files people have → validated, versioned rows in PostGIS."""

from loaders.errors import LoadError, TooManyRejects
from loaders.load import LayerReport, LoadOptions, LoadReport, load_frames, load_path
from loaders.mapping import read_mapping
from loaders.read import ReadOptions

__all__ = [
    "LayerReport",
    "LoadError",
    "LoadOptions",
    "LoadReport",
    "ReadOptions",
    "TooManyRejects",
    "load_frames",
    "load_path",
    "read_mapping",
]
