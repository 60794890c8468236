"""OGC API Features over the layer catalog: collections, items, CRS, CQL2, queryables.

Each module keeps its SQL next to the function that runs it; identifiers come only from
the catalog, values are always bind parameters.
"""
