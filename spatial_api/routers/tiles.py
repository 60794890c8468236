"""OGC API Tiles: vector tiles for every layer and result."""

from fastapi import APIRouter

router = APIRouter(tags=["OGC API Tiles"])
