"""Maps at the end of the data flow: self-contained folium pages, and the data they show."""

from spatial_api.features.params import BBox
from spatial_api.maps.folium_map import (
    WEB_ASSETS,
    answer_style,
    feature_collection,
    read_layer,
    render_map,
    to_html,
)

__all__ = [
    "WEB_ASSETS",
    "BBox",
    "answer_style",
    "feature_collection",
    "read_layer",
    "render_map",
    "to_html",
]
