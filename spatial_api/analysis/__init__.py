"""Analysis in metres anywhere on Earth, and location services; answers can become layers.

How metres are measured (returned as `method` in every answer, see `METHOD`):

- **Distances** (nearest, within, reverse, route lengths) are PostGIS `geography` distances
  on the spheroid (`ST_Distance`/`ST_DWithin`/`ST_Length` on geography, which use
  GeographicLib's geodesics): exact to the millimetre anywhere, poles included.
- **Areas** are `ST_Area(geography)` on the spheroid.
- **Buffers** are drawn in a local azimuthal equidistant projection (AEQD) centred on each
  feature's centroid, then projected back. AEQD keeps distances from its centre exact, so a
  point's buffer is an exact geodesic circle; the only error left is the polygon inscribed in
  that circle (128 segments: −0.04 % of area). PostGIS's own `ST_Buffer(geography)` was
  measured 0.6–1.1 % too small (32 segments in a best-fit UTM/polar zone), outside our
  0.5 % requirement. Features far larger than ~500 km see AEQD's transverse scale error
  (ρ²/6, 0.4 % at 1000 km from the centre).
- Overlay cuts geometries in lon/lat (GEOS, planar in degrees): for city-sized edges the
  difference from geodesic edges is far below survey accuracy; the measures are then geodesic.
- CGCS2000 (storage, EPSG:4490) and WGS 84 agree to a few centimetres and are treated alike.

Known limits: geometries that cross the antimeridian or contain a pole are not supported.
"""

METHOD = {
    "distance": "geodesic on the GRS80/WGS84 spheroid (PostGIS geography)",
    "area": "geodesic on the spheroid (ST_Area on geography)",
    "buffer": "per-feature azimuthal equidistant projection centred on the feature's "
    "centroid, 128 segments per circle (area error -0.04 %)",
}
