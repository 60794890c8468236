-- One MVT layer of one tile and how many candidates it had (at most :limit_N);
-- tiles/mvt.py fills the $-slots from the catalog only.
-- The bbox test runs in the storage CRS on the raw column so the GiST index answers it
-- (a public view's `raw_geom`, in a window widened by what generalising may move);
-- the inner query (kept apart by OFFSET 0) computes each candidate's box once, for the
-- size test and, when the layer overflows, the largest-first order (otherwise rows keep
-- the scan's order, the same for the same data: tiles.cache runs no parallel plans);
-- only the features
-- kept are simplified (in degrees) and transformed to 3857 (then, for a GCJ-02 basemap,
-- moved by the tile's affine fit: tiles/shift.py).
SELECT coalesce(ST_AsMVT(q, :name_${i}, ${extent}, '_geom', '_fid')
                    FILTER (WHERE q._geom IS NOT NULL), ''::bytea) AS mvt,
       count(*) AS candidates
FROM (
    SELECT t.version_id AS _fid, t.asset_id${columns},
           ST_AsMVTGeom(${mercator},
                        ST_TileEnvelope(CAST(:z AS int), CAST(:x AS int), CAST(:y AS int)),
                        ${extent}, ${buffer}, true) AS _geom
    FROM (
        SELECT t.version_id, t.asset_id, t.geom${kept}, ${box} AS _box
        FROM ${source}
        WHERE ${near} && ST_MakeEnvelope(:west_${i}, :south_${i}, :east_${i}, :north_${i},
                                        ${srid})${where}
        OFFSET 0
    ) AS t${size_test}${order}
    LIMIT :limit_${i}
) AS q
