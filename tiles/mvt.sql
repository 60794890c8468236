-- One MVT layer of one tile; tiles/mvt.py fills the $-slots from the catalog only.
-- The bbox test runs in the storage CRS on the raw column so the GiST index answers it;
-- only the features that pass are simplified (in degrees) and transformed to 3857 (then,
-- for a GCJ-02 basemap, moved by the tile's affine fit: tiles/shift.py).
SELECT coalesce((
    SELECT ST_AsMVT(q, :name_${i}, ${extent}, '_geom', '_fid')
    FROM (
        SELECT t.version_id AS _fid, t.asset_id${columns},
               ST_AsMVTGeom(${mercator},
                            ST_TileEnvelope(CAST(:z AS int), CAST(:x AS int), CAST(:y AS int)),
                            ${extent}, ${buffer}, true) AS _geom
        FROM ${source}
        WHERE t.geom && ST_MakeEnvelope(:west, :south, :east, :north, ${srid})${where}
        ORDER BY ${order}
        LIMIT :max_features
    ) AS q
    WHERE q._geom IS NOT NULL
), ''::bytea)
