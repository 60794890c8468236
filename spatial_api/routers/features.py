"""OGC API Features: landing page, conformance, collections, items (built out in issue 4)."""

from fastapi import APIRouter

router = APIRouter(tags=["OGC API Features"])
