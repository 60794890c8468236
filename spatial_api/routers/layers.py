"""The layer list, straight from the catalog (OGC collections come later on top of it)."""

from __future__ import annotations

from fastapi import APIRouter

from layers import LayerSpec
from spatial_api.deps import CatalogDep, LayerDep

router = APIRouter(tags=["layers"])


@router.get("/layers", response_model=list[LayerSpec])
async def list_layers(catalog: CatalogDep) -> list[LayerSpec]:
    return list(catalog.values())


@router.get("/layers/{layer_id}", response_model=LayerSpec)
async def get_layer(layer: LayerDep) -> LayerSpec:
    return layer
