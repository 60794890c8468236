"""Buffer, overlay and location services whose answers become result layers."""

from fastapi import APIRouter

router = APIRouter(tags=["analysis"])
