"""Writing layers out: GeoJSON (RFC 7946), GeoPackage, CSV and XLSX for Excel; the whole workspace."""

from __future__ import annotations

import datetime as dt
import io
import json
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import shapely
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from shapely.geometry import mapping

from geo_service.errors import InvalidInput
from geo_service.formats.cells import quoted_formula, quoted_table
from geo_service.store.values import json_value

__all__ = ["write_features", "write_workspace"]


def _has_geometry(frame: pd.DataFrame) -> bool:
    name = getattr(frame, "_geometry_column_name", None)
    return isinstance(frame, gpd.GeoDataFrame) and bool(name) and name in frame.columns


def _ids(frame: pd.DataFrame) -> list[Any]:
    if "fid" in frame.columns:
        return [json_value(v) for v in frame["fid"]]
    if frame.index.name in ("fid", "id") or pd.api.types.is_integer_dtype(frame.index):
        return [json_value(v) for v in frame.index]
    return list(range(1, len(frame) + 1))


def _plain_values(table: pd.DataFrame) -> pd.DataFrame:
    """Dates and times as ISO text in object columns (numeric columns keep their dtype)."""
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object:
            values = [
                None if v is None or v is pd.NaT or (isinstance(v, float) and v != v) else json_value(v)
                for v in out[col]
            ]
            out[col] = pd.Series(values, index=out.index, dtype=object)
    return out


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: missing values None, numpy scalars as Python ones, dates ISO."""
    rows = table.astype(object).where(table.notna(), None).to_dict("records")
    return [{k: json_value(v) for k, v in row.items()} for row in rows]


def _geojson_geometry(geom: Any) -> dict[str, Any] | None:
    """GeoJSON of a geometry; None for none, an empty one, or one with NaN or infinite coordinates
    (stored before positions were checked: JSON cannot hold them)."""
    if geom is None or geom.is_empty or not np.isfinite(shapely.get_coordinates(geom)).all():
        return None
    return dict(mapping(geom))


def write_features(frame: pd.DataFrame, *, fmt: str, layer: str) -> tuple[bytes, str]:
    """A layer as bytes of ``fmt`` and its media type.

    Parameters
    ----------
    frame
        Features in EPSG:4326; the feature id in a ``fid`` column or as the index, and its version in
        ``_version`` when given (both written as columns, and in GeoJSON as properties too).
    fmt
        ``geojson`` (RFC 7946 FeatureCollection, dates in ISO 8601), ``gpkg`` (one layer named
        ``layer``; the id as ``feature_id``), ``csv`` (UTF-8 with BOM; points as ``lon``/``lat``
        columns, other geometries as ``wkt``) or ``xlsx`` (the same table as one sheet).
    layer
        The layer's name.
    """
    has_geom = _has_geometry(frame)
    if fmt == "geojson":
        # the id and version also among the properties: a desktop GIS that saves the file again keeps
        # properties but not the feature-level id, and a replacing import needs both (see import_frame)
        props = [c for c in frame.columns if not (has_geom and c == frame.geometry.name)]
        records = _records(frame[props])
        geoms = [_geojson_geometry(g) for g in frame.geometry] if has_geom else ([None] * len(frame))
        feats = [
            {"type": "Feature", "id": fid, "geometry": geom, "properties": rec}
            for fid, geom, rec in zip(_ids(frame), geoms, records, strict=True)
        ]
        body = {"type": "FeatureCollection", "name": layer, "features": feats}
        return json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8"), "application/geo+json"
    if fmt == "csv":
        # text Excel would take for a formula written with a quote before it (the import takes it away)
        table = quoted_table(_plain_values(_table(frame, has_geom)))
        csv = table.to_csv(index=False, lineterminator="\r\n")
        return ("\ufeff" + csv).encode("utf-8"), "text/csv; charset=utf-8"
    if fmt == "xlsx":
        table = _plain_values(_table(frame, has_geom))
        if "wkt" in table and table["wkt"].fillna("").str.len().max() > _MOST_CELL:
            raise InvalidInput(
                f"图层 {layer} 有图形的 WKT 超过 Excel 单元格上限（{_MOST_CELL} 字符），请导出为 gpkg 或 geojson",
                f"A shape of layer {layer} is longer as WKT than an Excel cell holds ({_MOST_CELL} characters); "
                "export gpkg or geojson instead",
                field="f",
            )
        return _xlsx(table, layer), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    if fmt == "gpkg":
        with tempfile.TemporaryDirectory(prefix="geo-export-") as tmp:
            path = Path(tmp) / f"{layer}.gpkg"
            _write_gpkg_layer(frame, path, layer, has_geom)
            return path.read_bytes(), "application/geopackage+sqlite3"
    raise InvalidInput(
        f"导出格式「{fmt}」不支持，可用 geojson、gpkg、csv、xlsx",
        f"Export format '{fmt}' is not supported; use geojson, gpkg, csv or xlsx",
        field="f",
    )


_MOST_CELL = 32_767  # characters an Excel cell holds


def _xlsx(table: pd.DataFrame, layer: str) -> bytes:
    """One sheet of ``table`` (dates and times as the ISO text the CSV has): every text a text cell, so a
    name or a citizen's description that begins with ``=`` is no formula (helper-59: a hotline case
    could plant =HYPERLINK(…) in a dispatcher's file) and reads back as written; characters a sheet
    cannot hold (control characters) left out."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = layer[:31]
    sheet.append([str(c) for c in table.columns])
    for row in table.itertuples(index=False):
        sheet.append([_cell(v) for v in row])
    for row in sheet.iter_rows(min_row=1):
        for cell in row:
            if cell.data_type == "f":  # text openpyxl took for a formula: keep it text
                cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return json_value(value)  # ISO text, its zone kept (Excel holds no zone)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str):
        text = ILLEGAL_CHARACTERS_RE.sub("", value)
        # a text cell is no formula, so only text that already begins with a quote before = (which the
        # import would take away, as it does from a CSV's quoted formulas) gets one more
        return quoted_formula(text) if text.startswith("'") else text
    return value


def _table(frame: pd.DataFrame, has_geom: bool) -> pd.DataFrame:
    """The layer as a table for a spreadsheet: points as ``lon``/``lat`` columns, other shapes as ``wkt``
    (what the import reads back)."""
    table = pd.DataFrame(frame.drop(columns=[frame.geometry.name]) if has_geom else frame)
    if has_geom:
        geoms = frame.geometry
        if len(geoms) and (geoms.isna() | (geoms.geom_type == "Point")).all():
            table["lon"], table["lat"] = geoms.x.round(8).to_numpy(), geoms.y.round(8).to_numpy()
        else:
            table["wkt"] = shapely.to_wkt(geoms.to_numpy(), rounding_precision=8)
    return table


def _write_gpkg_layer(frame: pd.DataFrame, path: Path, layer: str, has_geom: bool) -> None:
    table = pd.DataFrame(frame.drop(columns=[frame.geometry.name]) if has_geom else frame)
    out = _plain_values(table).rename(columns={"fid": "feature_id"})
    if has_geom:
        gdf = gpd.GeoDataFrame(out, geometry=list(frame.geometry), crs="EPSG:4326")
        pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", append=path.exists())
    else:
        pyogrio.write_dataframe(out, path, layer=layer, driver="GPKG", append=path.exists())


def write_workspace(frames: Mapping[str, pd.DataFrame], *, fmt: str = "gpkg") -> bytes:
    """Every layer in one GeoPackage (``gpkg``) or a zip of ``<layer>.geojson`` files (``zip-geojson``)."""
    if fmt not in ("gpkg", "zip-geojson"):
        raise InvalidInput(
            f"导出格式「{fmt}」不支持，可用 gpkg、zip-geojson",
            f"Export format '{fmt}' is not supported; use gpkg or zip-geojson",
            field="f",
        )
    if fmt == "zip-geojson":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for layer, frame in frames.items():
                zf.writestr(f"{layer}.geojson", write_features(frame, fmt="geojson", layer=layer)[0])
        return buf.getvalue()
    with tempfile.TemporaryDirectory(prefix="geo-export-") as tmp:
        path = Path(tmp) / "workspace.gpkg"
        for layer, frame in frames.items():
            has_geom = _has_geometry(frame)
            if len(frame) == 0 and not has_geom:
                continue  # GDAL cannot make an attribute table without a row to type its columns
            _write_gpkg_layer(frame, path, layer, has_geom)
        if not path.exists():
            pyogrio.write_dataframe(
                pd.DataFrame({"note": ["empty workspace"]}), path, layer="_empty", driver="GPKG"
            )
        return path.read_bytes()
