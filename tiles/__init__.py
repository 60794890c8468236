"""Vector tiles: tile grids, MVT built in PostGIS, and a cache that never serves stale tiles."""
