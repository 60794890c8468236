"""Vector tiles: tile grids, MVT built in PostGIS, and a cache that never serves stale tiles."""

# The tile modules use spatial_api's errors, params and deps, and spatial_api's package
# import builds the app, whose tile router imports these modules: importing spatial_api
# first makes `import tiles.x` work whichever package a caller imports first.
import spatial_api  # noqa: F401
