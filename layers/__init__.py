"""Declarative layer catalog: one LayerSpec per layer drives everything downstream."""

from layers.catalog import ALL_LAYERS, Catalog, LayerNotFound
from layers.spec import Access, Attribute, AttrType, LayerSpec, PublicView, Style, Temporal

__all__ = [
    "ALL_LAYERS",
    "Access",
    "Attribute",
    "AttrType",
    "Catalog",
    "LayerNotFound",
    "LayerSpec",
    "PublicView",
    "Style",
    "Temporal",
]
