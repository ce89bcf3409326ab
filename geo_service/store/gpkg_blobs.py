"""GeoPackage geometry blobs and R-trees, as the GeoPackage standard (OGC 12-128r18) lays them out:
the blob header (magic, flags, SRS id, envelope) before the WKB, encoded one at a time or a whole batch
at once, and a batch's spatial index packed into the R-tree's own node table at once (as GDAL does
when it builds an index), for the embedded store (``store/gpkg.py``)."""

from __future__ import annotations

import sqlite3
import struct

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["blob_wkb", "bulk_load_rtree", "decode", "envelope", "geometry_blob", "geometry_blobs", "is_empty"]

_SRS = 4326


def geometry_blob(geom: BaseGeometry | None) -> bytes | None:
    """Encode a geometry as a GeoPackage binary (header with XY envelope + little-endian WKB)."""
    if geom is None:
        return None
    if geom.is_empty:
        return b"GP\x00\x11" + struct.pack("<i", _SRS) + shapely.to_wkb(geom, byte_order=1)
    minx, miny, maxx, maxy = geom.bounds
    header = b"GP\x00\x03" + struct.pack("<i4d", _SRS, minx, maxx, miny, maxy)
    return header + shapely.to_wkb(geom, byte_order=1, output_dimension=2)


_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


_HEADER = np.dtype(
    [("magic", "S4"), ("srs", "<i4"), ("minx", "<f8"), ("maxx", "<f8"), ("miny", "<f8"), ("maxy", "<f8")]
)


def geometry_blobs(geoms: np.ndarray, bounds: np.ndarray) -> list[bytes | None]:
    """Many GeoPackage binaries at once (vectorised WKB and headers); ``bounds`` as ``shapely.bounds``."""
    missing = shapely.is_missing(geoms)
    empty = ~missing & np.isnan(bounds[:, 0])
    plain = ~missing & ~empty
    out: list[bytes | None] = [None] * len(geoms)
    if plain.any():
        b = bounds[plain]
        head = np.zeros(len(b), dtype=_HEADER)
        head["magic"], head["srs"] = b"GP\x00\x03", _SRS
        head["minx"], head["maxx"], head["miny"], head["maxy"] = b[:, 0], b[:, 2], b[:, 1], b[:, 3]
        heads = head.view(np.dtype((np.void, _HEADER.itemsize))).tolist()
        wkb = shapely.to_wkb(geoms[plain], byte_order=1, output_dimension=2).tolist()
        blobs: list[bytes | None] = [h + w for h, w in zip(heads, wkb, strict=True)]
        if plain.all():
            return blobs
        for i, blob in zip(np.flatnonzero(plain).tolist(), blobs, strict=True):
            out[i] = blob
    for k in np.flatnonzero(empty).tolist():
        out[k] = geometry_blob(geoms[k])
    return out


#: One cell of an SQLite R-tree node (big-endian): rowid (leaf) or child node, then minx maxx miny maxy.
_CELL = np.dtype([("id", ">i8"), ("box", ">f4", 4)])


def _outward(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds as float32 rounded outwards, as SQLite's R-tree stores them."""
    lo32, hi32 = lo.astype(np.float32), hi.astype(np.float32)
    lo32 = np.where(lo32 > lo, np.nextafter(lo32, np.float32(-np.inf)), lo32)
    hi32 = np.where(hi32 < hi, np.nextafter(hi32, np.float32(np.inf)), hi32)
    return lo32, hi32


def _pack_rtree(ids: np.ndarray, boxes: np.ndarray, fanout: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sort-tile-recursive packing: per level (leaves first) the cells in node order, ``fanout`` a node."""
    levels = []
    while True:
        n = len(ids)
        nodes = -(-n // fanout)
        per_slice = fanout * int(np.ceil(np.sqrt(nodes)))
        cx, cy = boxes[:, 0] + boxes[:, 1], boxes[:, 2] + boxes[:, 3]
        by_x = np.argsort(cx, kind="stable")
        band = np.empty(n, dtype=np.int64)
        band[by_x] = np.arange(n) // per_slice
        order = np.lexsort((cy, band))
        ids, boxes = ids[order], boxes[order]
        levels.append((ids, boxes))
        if nodes == 1:
            return levels
        starts = np.arange(0, n, fanout)
        boxes = np.column_stack(
            [
                np.minimum.reduceat(boxes[:, 0], starts),
                np.maximum.reduceat(boxes[:, 1], starts),
                np.minimum.reduceat(boxes[:, 2], starts),
                np.maximum.reduceat(boxes[:, 3], starts),
            ]
        )
        ids = np.arange(len(starts), dtype=np.int64)  # renumbered below, once every level is known


def bulk_load_rtree(cur: sqlite3.Cursor, rtree: str, ids: np.ndarray, bounds: np.ndarray) -> None:
    """Rebuild the R-tree ``rtree`` with (ids, minx miny maxx maxy) by writing its node tables at once.

    SQLite inserts into an R-tree one cell at a time (splitting nodes as it goes); like GDAL's spatial
    index creation, this packs the tree in memory and writes each node once, in the same transaction.
    """
    node_size = cur.execute(f'SELECT length(data) FROM "{rtree}_node" WHERE nodeno = 1').fetchone()[0]
    fanout = (node_size - 4) // _CELL.itemsize
    (minx, maxx), (miny, maxy) = _outward(bounds[:, 0], bounds[:, 2]), _outward(bounds[:, 1], bounds[:, 3])
    levels = _pack_rtree(np.asarray(ids, dtype=np.int64), np.column_stack([minx, maxx, miny, maxy]), fanout)
    counts = [-(-len(level_ids) // fanout) for level_ids, _ in levels]
    # node numbers: the root is 1, then the level below it, and so on down to the leaves
    first: dict[int, int] = {}
    next_no = 1
    for depth in range(len(levels) - 1, -1, -1):
        first[depth] = next_no
        next_no += counts[depth]
    blobs = np.zeros((next_no - 1, node_size), dtype=np.uint8)
    rowids: tuple[np.ndarray, np.ndarray] = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    parents: list[tuple[np.ndarray, np.ndarray]] = []
    for depth, (level_ids, boxes) in enumerate(levels):
        n = len(level_ids)
        node_of = first[depth] + np.arange(n) // fanout
        cells = np.zeros(counts[depth] * fanout, dtype=_CELL)
        cells["id"][:n] = level_ids if depth == 0 else level_ids + first[depth - 1]
        cells["box"][:n] = boxes
        rows = slice(first[depth] - 1, first[depth] - 1 + counts[depth])
        blobs[rows, 4 : 4 + fanout * _CELL.itemsize] = cells.view(np.uint8).reshape(counts[depth], -1)
        filled = np.full(counts[depth], fanout, dtype=">u2")
        filled[-1] = n - fanout * (counts[depth] - 1)
        blobs[rows, 2:4] = filled.view(np.uint8).reshape(-1, 2)
        if depth == 0:
            rowids = (level_ids, node_of)
        else:
            parents.append((level_ids + first[depth - 1], node_of))
    blobs[0, 0:2] = np.array([len(levels) - 1], dtype=">u2").view(np.uint8)
    for table in ("node", "rowid", "parent"):
        cur.execute(f'DELETE FROM "{rtree}_{table}"')
    cur.executemany(
        f'INSERT INTO "{rtree}_node" (nodeno, data) VALUES (?, ?)',
        zip(range(1, next_no), map(bytes, blobs), strict=True),
    )
    cur.executemany(
        f'INSERT INTO "{rtree}_rowid" (rowid, nodeno) VALUES (?, ?)',
        zip(rowids[0].tolist(), rowids[1].tolist(), strict=True),
    )
    for child, parent in parents:
        cur.executemany(
            f'INSERT INTO "{rtree}_parent" (nodeno, parentnode) VALUES (?, ?)',
            zip(child.tolist(), parent.tolist(), strict=True),
        )


def blob_wkb(blob: bytes) -> bytes:
    flags = blob[3]
    return blob[8 + _ENVELOPE_BYTES[(flags >> 1) & 0x07] :]


def decode(blob: bytes | None) -> BaseGeometry | None:
    return None if blob is None else shapely.from_wkb(blob_wkb(blob))


def envelope(blob: bytes | None, index: int) -> float | None:
    """minx, maxx, miny, maxy of a GeoPackage blob (for GDAL's R-tree triggers)."""
    if blob is None or blob[3] & 0x10:
        return None
    if (blob[3] >> 1) & 0x07:
        return struct.unpack_from("<4d", blob, 8)[index]
    geom = decode(blob)
    assert geom is not None
    b = geom.bounds
    return (b[0], b[2], b[1], b[3])[index]


def is_empty(blob: bytes | None) -> int | None:
    return None if blob is None else int(bool(blob[3] & 0x10))
