"""The layer list, straight from the catalog (OGC collections come later on top of it)."""

from __future__ import annotations

from fastapi import APIRouter

from layers import LayerSpec
from spatial_api.deps import CatalogDep, LayerDep, PrincipalDep
from spatial_api.routing import StrictRoute

router = APIRouter(tags=["layers"], route_class=StrictRoute)


@router.get("/layers", response_model=list[LayerSpec])
async def list_layers(catalog: CatalogDep, principal: PrincipalDep) -> list[LayerSpec]:
    """Layers this caller may see; restricted ones need a token, or show their public view."""
    return principal.displayed(catalog)


@router.get("/layers/{layer_id}", response_model=LayerSpec)
async def get_layer(layer: LayerDep) -> LayerSpec:
    return layer
